"""Model lifecycle governance: the policy file, release gates, approval requirements and
21 CFR Part 11 electronic signatures.

policy.py parses and validates the YAML policy; policy_source.py keeps the server's copy
current; gates.py evaluates release gates on evidence; transitions.py decides what a
transition still needs; signatures.py builds the content hash a signature is bound to and
verifies stored signatures; evidence.py gathers a version's evidence through the stores
and the artifact store; reauth.py re-checks the signer's password. The workflow (requests,
signing, the check inside the registry's transaction) is medflow/services/approvals.py.
Docs: docs/users/approvals.md.
"""

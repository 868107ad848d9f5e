"""The PHI guard: detects the 18 HIPAA Safe Harbor identifiers in what clients log.

Pure Python, no server dependency. The server calls `scan_text` for every string written
(experiment and run names, param/tag keys and values, metric keys, descriptions) and
`scan_artifact` for uploaded text artifacts, then `apply_policy` with the workspace's
mode; training code can call `check` before logging. See docs/operators/phi-guard.md.
"""
from medflow.guard.artifacts import scan_artifact
from medflow.guard.check import check
from medflow.guard.config import GuardConfig, GuardConfigError, SitePattern
from medflow.guard.findings import KIND_DESCRIPTIONS, KINDS, Finding
from medflow.guard.policy import GuardOutcome, apply_policy, phi_message, redact
from medflow.guard.scan import contains_phi, scan_text

__all__ = [
    "Finding", "KINDS", "KIND_DESCRIPTIONS", "GuardConfig", "GuardConfigError", "SitePattern",
    "scan_text", "scan_artifact", "contains_phi", "check", "redact", "phi_message",
    "apply_policy", "GuardOutcome",
]

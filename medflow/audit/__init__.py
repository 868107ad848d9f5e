"""The audit trail: one hash-chained, append-only event per request.

A change and its event commit in the same database transaction (AuditTrail is a
before-commit hook of Database.write); reads, denials and errors are appended by a
small background writer in batches, so auditing reads does not serialise them.
"""

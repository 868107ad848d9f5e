"""Tables of the governance workflow: policy versions, review requests, electronic signatures,
and the stage and alias history of model versions (migration 0004 creates exactly these).

Design notes:
- A model version is named by (model_pk, version, version_created): registered models are
  deleted for good in MLflow's API and SQLite may hand a deleted model's id to a new one, so
  the version's creation time keeps a new version 1 from inheriting an old one's records.
- approval_signatures and version_stage_history are append-only: the migration installs
  triggers that refuse UPDATE and DELETE (Part 11 records, like the audit trail).
- A signature keeps the manifest it was bound to (canonical JSON), so a signature that no
  longer verifies can say what changed since signing.
"""
from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from medflow.store.schema import metadata

USERNAME = 256

governance_policies = Table(
    "governance_policies", metadata,
    Column("sha256", String(64), primary_key=True),  # of the policy file's bytes: its version
    Column("source", String(1000), nullable=False),
    Column("content", Text, nullable=False),
    Column("first_seen", BigInteger, nullable=False),
    Column("previous_sha256", String(64), nullable=True),  # the policy in force before this one
)

review_requests = Table(
    "review_requests", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_pk", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("version_created", BigInteger, nullable=False),
    Column("target_kind", String(8), nullable=False),   # stage | alias
    Column("target", String(255), nullable=False),       # Production, champion, ...
    Column("status", String(16), nullable=False),        # open | rejected | completed
    Column("requested_by", String(USERNAME), nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("comment", Text, nullable=False, server_default=""),
    Column("policy_sha256", String(64), nullable=True),
    Column("closed_at", BigInteger, nullable=True),
    Index("ix_review_requests_version", "model_pk", "version", "target_kind", "target", "id"),
)

approval_signatures = Table(
    "approval_signatures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", Integer, ForeignKey("review_requests.id"), nullable=False),
    Column("model_pk", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("version_created", BigInteger, nullable=False),
    Column("model_name", String(256), nullable=False),   # as named when signed
    Column("target_kind", String(8), nullable=False),
    Column("target", String(255), nullable=False),
    Column("decision", String(10), nullable=False),      # approved | rejected
    Column("meaning", String(20), nullable=False),       # authorship | review | approval | responsibility
    Column("signer_id", Integer, nullable=True),
    Column("signer_username", String(USERNAME), nullable=False),
    Column("signer_name", String(256), nullable=False),  # printed name (§11.50)
    Column("signer_groups", Text, nullable=False),       # JSON list: groups and roles when signing
    Column("signed_at", BigInteger, nullable=False),     # ms since the epoch, UTC
    Column("comment", Text, nullable=False, server_default=""),
    Column("content_hash", String(64), nullable=False),  # SHA-256 of the manifest (§11.70)
    Column("manifest", Text, nullable=False),
    Column("record_hash", String(64), nullable=False),
    Index("ix_approval_signatures_version", "model_pk", "version", "target_kind", "target", "id"),
    Index("ix_approval_signatures_request", "request_id", "id"),
)

version_stage_history = Table(
    "version_stage_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_pk", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("version_created", BigInteger, nullable=False),
    Column("model_name", String(256), nullable=False),
    Column("kind", String(8), nullable=False),           # stage | alias
    Column("target", String(255), nullable=False),       # kind stage: the new stage; alias: the alias
    Column("previous", String(64), nullable=True),       # stage: the old stage; alias: the version it left
    Column("removed", Integer, nullable=False, server_default="0"),  # 1: the alias left this version
    Column("changed_at", BigInteger, nullable=False),
    Column("changed_by", String(USERNAME), nullable=False),
    Column("reason", String(200), nullable=False, server_default=""),
    Column("policy_sha256", String(64), nullable=True),
    Column("signature_ids", Text, nullable=False, server_default=""),  # JSON list of the approvals used
    Index("ix_version_stage_history_version", "model_pk", "version", "id"),
)

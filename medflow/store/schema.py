"""Every table MedFlow stores, on one MetaData.

The Alembic migrations under migrations/versions create exactly this schema (a test
compares them); change both together.

Design notes:
- metrics keep a lean, non-unique index (run, key, step, timestamp) instead of MLflow's
  6-column primary key, which costs ~9x in insert rate (research/performance-baselines.md).
- latest_metrics holds one row per (run, key): what search filters and sorts on.
- NaN is stored as value 0 + is_nan, because SQLite turns NaN into NULL.
- registered models have a surrogate id so a rename touches one row.
"""
from sqlalchemy import (BigInteger, Boolean, Column, Float, ForeignKey, Index, Integer, MetaData,
                        PrimaryKeyConstraint, String, Table, Text, UniqueConstraint, text)

metadata = MetaData()

KEY = 250  # MLflow's MAX_ENTITY_KEY_LENGTH

experiments = Table(
    "experiments", metadata,
    Column("experiment_id", Integer, primary_key=True, autoincrement=True),
    Column("workspace", String(63), nullable=False, server_default="default"),
    Column("name", String(500), nullable=False),
    Column("artifact_location", String(1000), nullable=False),
    Column("lifecycle_stage", String(32), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
    UniqueConstraint("workspace", "name", name="uq_experiments_workspace_name"),
)

experiment_tags = Table(
    "experiment_tags", metadata,
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("key", String(KEY), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("experiment_id", "key", name="pk_experiment_tags"),
)

runs = Table(
    "runs", metadata,
    Column("run_uuid", String(32), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(250), nullable=False, server_default=""),
    Column("user_id", String(256), nullable=False, server_default=""),
    Column("status", String(20), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("lifecycle_stage", String(20), nullable=False),
    Column("artifact_uri", String(1000), nullable=False),
    Column("deleted_time", BigInteger, nullable=True),
    Index("ix_runs_experiment_start", "experiment_id", "start_time", "run_uuid"),
)

params = Table(
    "params", metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid"), nullable=False),
    Column("key", String(KEY), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key", name="pk_params"),
    Index("ix_params_key_value", "key", "run_uuid"),
)

tags = Table(
    "tags", metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid"), nullable=False),
    Column("key", String(KEY), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key", name="pk_tags"),
    Index("ix_tags_key", "key", "run_uuid"),
)

metrics = Table(
    "metrics", metadata,
    Column("run_uuid", String(32), nullable=False),
    Column("key", String(KEY), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Float(53), nullable=False),
    Column("is_nan", Boolean, nullable=False),
    Column("model_id", String(64), nullable=True),
    Column("dataset_name", String(500), nullable=True),
    Column("dataset_digest", String(36), nullable=True),
    Index("ix_metrics_run_key_step", "run_uuid", "key", "step", "timestamp"),
    # Logged-model metrics are read by model; partial, so ordinary run metrics pay nothing for it.
    Index("ix_metrics_model", "model_id", "key", postgresql_where=text("model_id IS NOT NULL"),
          sqlite_where=text("model_id IS NOT NULL")),
)

latest_metrics = Table(
    "latest_metrics", metadata,
    Column("run_uuid", String(32), nullable=False),
    Column("key", String(KEY), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Float(53), nullable=False),
    Column("is_nan", Boolean, nullable=False),
    PrimaryKeyConstraint("run_uuid", "key", name="pk_latest_metrics"),
    Index("ix_latest_metrics_key_value", "key", "value"),
)

datasets = Table(
    "datasets", metadata,
    Column("dataset_uuid", String(36), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("digest", String(36), nullable=False),
    Column("source_type", String(36), nullable=False),
    Column("source", Text, nullable=False),
    Column("schema", Text, nullable=True),
    Column("profile", Text, nullable=True),
    UniqueConstraint("experiment_id", "name", "digest", name="uq_datasets_experiment_name_digest"),
)

run_inputs = Table(
    "run_inputs", metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid"), nullable=False),
    Column("dataset_uuid", String(36), ForeignKey("datasets.dataset_uuid"), nullable=False),
    Column("tags", Text, nullable=False, server_default="[]"),  # JSON list of {key, value}
    PrimaryKeyConstraint("run_uuid", "dataset_uuid", name="pk_run_inputs"),
)

logged_models = Table(
    "logged_models", metadata,
    Column("model_id", String(64), primary_key=True),
    Column("experiment_id", Integer, ForeignKey("experiments.experiment_id"), nullable=False),
    Column("name", String(500), nullable=False),
    Column("artifact_location", String(1000), nullable=False),
    Column("creation_timestamp_ms", BigInteger, nullable=False),
    Column("last_updated_timestamp_ms", BigInteger, nullable=False),
    Column("status", String(40), nullable=False),
    Column("status_message", Text, nullable=True),
    Column("lifecycle_stage", String(32), nullable=False),
    Column("model_type", String(500), nullable=True),
    Column("source_run_id", String(32), nullable=True),
    Index("ix_logged_models_experiment", "experiment_id", "creation_timestamp_ms"),
    Index("ix_logged_models_source_run", "source_run_id", "name"),
    Index("ix_logged_models_experiment_name", "experiment_id", "name"),
)

logged_model_params = Table(
    "logged_model_params", metadata,
    Column("model_id", String(64), ForeignKey("logged_models.model_id"), nullable=False),
    Column("key", String(KEY), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("model_id", "key", name="pk_logged_model_params"),
)

logged_model_tags = Table(
    "logged_model_tags", metadata,
    Column("model_id", String(64), ForeignKey("logged_models.model_id"), nullable=False),
    Column("key", String(KEY), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("model_id", "key", name="pk_logged_model_tags"),
)

run_outputs = Table(
    "run_outputs", metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid"), nullable=False),
    Column("model_id", String(64), ForeignKey("logged_models.model_id"), nullable=False),
    Column("step", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_uuid", "model_id", name="pk_run_outputs"),
)

run_model_inputs = Table(
    "run_model_inputs", metadata,
    Column("run_uuid", String(32), ForeignKey("runs.run_uuid"), nullable=False),
    Column("model_id", String(64), nullable=False),  # MLflow links by id, without a foreign key
    PrimaryKeyConstraint("run_uuid", "model_id", name="pk_run_model_inputs"),
)

registered_models = Table(
    "registered_models", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace", String(63), nullable=False, server_default="default"),
    Column("name", String(256), nullable=False),
    Column("description", Text, nullable=True),
    Column("creation_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    # The highest version number ever given (deleted versions included: numbers are never reused).
    Column("last_version", Integer, nullable=False, server_default="0"),
    UniqueConstraint("workspace", "name", name="uq_registered_models_workspace_name"),
)

registered_model_tags = Table(
    "registered_model_tags", metadata,
    Column("model_pk", Integer, ForeignKey("registered_models.id"), nullable=False),
    Column("key", String(KEY), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("model_pk", "key", name="pk_registered_model_tags"),
)

model_versions = Table(
    "model_versions", metadata,
    Column("model_pk", Integer, ForeignKey("registered_models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("creation_timestamp", BigInteger, nullable=False),
    Column("last_updated_timestamp", BigInteger, nullable=False),
    Column("description", Text, nullable=True),
    Column("user_id", String(256), nullable=True),
    Column("current_stage", String(20), nullable=False),
    Column("source", String(1000), nullable=False),
    Column("storage_location", String(1000), nullable=True),
    Column("run_id", String(32), nullable=True),
    Column("run_link", String(1000), nullable=True),
    Column("model_id", String(64), nullable=True),
    Column("status", String(20), nullable=False),
    Column("status_message", Text, nullable=True),
    Column("deleted", Boolean, nullable=False, server_default="0"),
    PrimaryKeyConstraint("model_pk", "version", name="pk_model_versions"),
    Index("ix_model_versions_run", "run_id"),
)

model_version_tags = Table(
    "model_version_tags", metadata,
    Column("model_pk", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", String(KEY), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("model_pk", "version", "key", name="pk_model_version_tags"),
)

registered_model_aliases = Table(
    "registered_model_aliases", metadata,
    Column("model_pk", Integer, ForeignKey("registered_models.id"), nullable=False),
    Column("alias", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("model_pk", "alias", name="pk_registered_model_aliases"),
)

# --- audit trail (migration 0002) ------------------------------------------------------
# Append-only: the migration installs triggers that refuse UPDATE and DELETE. `seq` is
# assigned under a database lock (store/audit.py), so several server processes still
# produce one gap-free chain ordered by the database.
audit_events = Table(
    "audit_events", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_time", BigInteger, nullable=False),       # ms since the epoch, UTC
    Column("request_id", String(36), nullable=False),
    Column("actor", String(256), nullable=False),           # username, or "anonymous" / "system"
    Column("actor_id", Integer, nullable=True),
    Column("auth_method", String(20), nullable=False),
    Column("client_addr", String(64), nullable=False),
    Column("action", String(80), nullable=False),           # kebab-case, e.g. "run-log-batch"
    Column("resource_type", String(40), nullable=False),
    Column("resource_id", String(600), nullable=False),
    Column("outcome", String(10), nullable=False),          # success | denied | error
    Column("error_code", String(40), nullable=True),
    Column("details", Text, nullable=False),                # canonical JSON: changes, findings
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_resource", "resource_type", "resource_id", "seq"),
    Index("ix_audit_actor_time", "actor", "event_time"),
    Index("ix_audit_time", "event_time"),
)

audit_checkpoints = Table(
    "audit_checkpoints", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),  # chain head covered
    Column("hash", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("key_id", String(64), nullable=False),            # SHA-256 of the public key, hex
    Column("signature", String(128), nullable=False),        # Ed25519 over "seq:hash", hex
)

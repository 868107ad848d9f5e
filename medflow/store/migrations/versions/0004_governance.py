"""Governance: policy versions, review requests, electronic signatures (append-only) and the
stage/alias history of model versions (append-only).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

APPEND_ONLY = ("approval_signatures", "version_stage_history")


def upgrade() -> None:
    op.create_table(
        "governance_policies",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=1000), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.Column("previous_sha256", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("sha256"),
    )
    op.create_table(
        "review_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_pk", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("version_created", sa.BigInteger(), nullable=False),
        sa.Column("target_kind", sa.String(length=8), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=256), nullable=False),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column("policy_sha256", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_review_requests_version", "review_requests",
                    ["model_pk", "version", "target_kind", "target", "id"])
    op.create_table(
        "approval_signatures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("model_pk", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("version_created", sa.BigInteger(), nullable=False),
        sa.Column("model_name", sa.String(length=256), nullable=False),
        sa.Column("target_kind", sa.String(length=8), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("meaning", sa.String(length=20), nullable=False),
        sa.Column("signer_id", sa.Integer(), nullable=True),
        sa.Column("signer_username", sa.String(length=256), nullable=False),
        sa.Column("signer_name", sa.String(length=256), nullable=False),
        sa.Column("signer_groups", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.BigInteger(), nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["review_requests.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_approval_signatures_version", "approval_signatures",
                    ["model_pk", "version", "target_kind", "target", "id"])
    op.create_index("ix_approval_signatures_request", "approval_signatures", ["request_id", "id"])
    op.create_table(
        "version_stage_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_pk", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("version_created", sa.BigInteger(), nullable=False),
        sa.Column("model_name", sa.String(length=256), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("previous", sa.String(length=64), nullable=True),
        sa.Column("removed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("changed_at", sa.BigInteger(), nullable=False),
        sa.Column("changed_by", sa.String(length=256), nullable=False),
        sa.Column("reason", sa.String(length=200), server_default="", nullable=False),
        sa.Column("policy_sha256", sa.String(length=64), nullable=True),
        sa.Column("signature_ids", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_version_stage_history_version", "version_stage_history", ["model_pk", "version", "id"])
    # Signatures and history are records: the database refuses UPDATE and DELETE on them.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION medflow_governance_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'governance records are append-only (% on %)', TG_OP, TG_TABLE_NAME;
            END $$ LANGUAGE plpgsql""")
        for table in APPEND_ONLY:
            op.execute(f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
                           ON {table} FOR EACH STATEMENT EXECUTE FUNCTION medflow_governance_append_only()""")
    else:
        for table in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
                               BEGIN SELECT RAISE(ABORT, 'governance records are append-only'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS medflow_governance_append_only()")
    op.drop_index("ix_version_stage_history_version", table_name="version_stage_history")
    op.drop_table("version_stage_history")
    op.drop_index("ix_approval_signatures_request", table_name="approval_signatures")
    op.drop_index("ix_approval_signatures_version", table_name="approval_signatures")
    op.drop_table("approval_signatures")
    op.drop_index("ix_review_requests_version", table_name="review_requests")
    op.drop_table("review_requests")
    op.drop_table("governance_policies")

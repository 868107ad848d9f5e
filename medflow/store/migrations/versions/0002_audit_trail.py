"""Audit trail: hash-chained, append-only events and signed checkpoints of the chain head.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY = ("audit_events", "audit_checkpoints")


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("event_time", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("auth_method", sa.String(length=20), nullable=False),
        sa.Column("client_addr", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("resource_type", sa.String(length=40), nullable=False),
        sa.Column("resource_id", sa.String(length=600), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("error_code", sa.String(length=40), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_audit_resource", "audit_events", ["resource_type", "resource_id", "seq"])
    op.create_index("ix_audit_actor_time", "audit_events", ["actor", "event_time"])
    op.create_index("ix_audit_time", "audit_events", ["event_time"])
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    # The application can only ever append: UPDATE and DELETE are refused by the database.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION medflow_audit_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'audit records are append-only (% on %)', TG_OP, TG_TABLE_NAME;
            END $$ LANGUAGE plpgsql""")
        for table in APPEND_ONLY:
            op.execute(f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
                           ON {table} FOR EACH STATEMENT EXECUTE FUNCTION medflow_audit_append_only()""")
    else:
        for table in APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
                               BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS medflow_audit_append_only()")
    op.drop_table("audit_checkpoints")
    op.drop_index("ix_audit_time", table_name="audit_events")
    op.drop_index("ix_audit_actor_time", table_name="audit_events")
    op.drop_index("ix_audit_resource", table_name="audit_events")
    op.drop_table("audit_events")

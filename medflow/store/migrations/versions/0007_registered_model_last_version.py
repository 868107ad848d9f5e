"""registered_models.last_version: the number of the model's newest version, kept by the model.

Registering a version took the model's row lock (an UPDATE), then inserted max(version) + 1
in a second statement: on PostgreSQL two round trips, and the max had to be read after the
lock. Counting on the model row, the UPDATE itself hands out the number (re-read under the
row lock when another registration got there first), and on PostgreSQL the version is
inserted in the same statement. Existing models start from their highest version so far,
deleted versions included.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registered_models") as table:
        table.add_column(sa.Column("last_version", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE registered_models SET last_version = COALESCE("
               "(SELECT MAX(v.version) FROM model_versions v WHERE v.model_pk = registered_models.id), 0)")


def downgrade() -> None:
    with op.batch_alter_table("registered_models") as table:
        table.drop_column("last_version")

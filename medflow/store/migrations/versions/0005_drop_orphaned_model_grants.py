"""Drop the grants of registered models that no longer exist.

Until now a deleted model's grants stayed behind; on SQLite, which hands out the highest
rowid again, a model created next could inherit them. Deleting a model now deletes its
grants in the same transaction; this removes the ones left over from before, and bumps the
auth generation so running servers drop any grants they hold in memory.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM resource_grants WHERE resource_type = 'registered_model' AND NOT EXISTS "
               "(SELECT 1 FROM registered_models m WHERE CAST(m.id AS VARCHAR(64)) = resource_grants.resource_id)")
    op.execute("UPDATE auth_state SET generation = generation + 1")


def downgrade() -> None:
    pass  # nothing to restore: the grants named models that were gone

"""Accounts and access: users, password history, failed logins, API tokens, groups,
workspaces and their members, per-resource grants, break-glass elevations, bootstrap
secrets; the 'default' workspace and the auth_state row (with a fresh session-signing key).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
import secrets
import time

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("session_key", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "workspaces",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=256), nullable=False),
        sa.Column("display_name", sa.String(length=256), server_default="", nullable=False),
        sa.Column("kind", sa.String(length=16), server_default="person", nullable=False),
        sa.Column("roles", sa.String(length=200), server_default="", nullable=False),
        sa.Column("default_workspace", sa.String(length=63), server_default="default", nullable=False),
        sa.Column("password_hash", sa.String(length=512), nullable=True),
        sa.Column("password_changed_time", sa.BigInteger(), nullable=True),
        sa.Column("external_subject", sa.String(length=512), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("locked_time", sa.BigInteger(), nullable=True),
        sa.Column("lock_reason", sa.String(length=200), nullable=True),
        sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("break_glass_allowed", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("credential_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=256), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("account_id"),
        sa.UniqueConstraint("username", name="uq_accounts_username"),
        sa.UniqueConstraint("external_subject", name="uq_accounts_external_subject"),
    )
    op.create_table(
        "password_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=512), nullable=False),
        sa.Column("set_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.account_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_password_history_account", "password_history", ["account_id", "set_time"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.Column("username", sa.String(length=256), server_default="", nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("auth_method", sa.String(length=16), nullable=False),
        sa.Column("client_addr", sa.String(length=64), server_default="", nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failures_time", "login_failures", ["time"])
    op.create_index("ix_login_failures_account", "login_failures", ["account_id", "time"])
    op.create_table(
        "api_tokens",
        sa.Column("token_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("expiry_time", sa.BigInteger(), nullable=True),
        sa.Column("revoked_time", sa.BigInteger(), nullable=True),
        sa.Column("last_used_time", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.account_id"]),
        sa.PrimaryKeyConstraint("token_id"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_hash"),
    )
    op.create_index("ix_api_tokens_account", "api_tokens", ["account_id"])
    op.create_table(
        "user_groups",
        sa.Column("group_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("group_id"),
        sa.UniqueConstraint("name", name="uq_user_groups_name"),
    )
    op.create_table(
        "group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["user_groups.group_id"]),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.account_id"]),
        sa.PrimaryKeyConstraint("group_id", "account_id", name="pk_group_members"),
    )
    op.create_index("ix_group_members_account", "group_members", ["account_id"])
    op.create_table(
        "workspace_members",
        sa.Column("workspace", sa.String(length=63), nullable=False),
        sa.Column("grantee_kind", sa.String(length=8), nullable=False),
        sa.Column("grantee_id", sa.Integer(), nullable=False),
        sa.Column("permission", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["workspace"], ["workspaces.name"]),
        sa.PrimaryKeyConstraint("workspace", "grantee_kind", "grantee_id", name="pk_workspace_members"),
    )
    op.create_index("ix_workspace_members_grantee", "workspace_members", ["grantee_kind", "grantee_id"])
    op.create_table(
        "resource_grants",
        sa.Column("resource_type", sa.String(length=32), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("grantee_kind", sa.String(length=8), nullable=False),
        sa.Column("grantee_id", sa.Integer(), nullable=False),
        sa.Column("permission", sa.String(length=16), nullable=False),
        sa.Column("granted_time", sa.BigInteger(), nullable=False),
        sa.Column("granted_by", sa.String(length=256), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("resource_type", "resource_id", "grantee_kind", "grantee_id", "permission",
                                name="pk_resource_grants"),
    )
    op.create_index("ix_resource_grants_grantee", "resource_grants", ["grantee_kind", "grantee_id", "resource_type"])
    op.create_table(
        "break_glass",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("start_time", sa.BigInteger(), nullable=False),
        sa.Column("expiry_time", sa.BigInteger(), nullable=False),
        sa.Column("ended_time", sa.BigInteger(), nullable=True),
        sa.Column("activated_by", sa.String(length=256), nullable=False),
        sa.Column("reviewed_time", sa.BigInteger(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=256), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.account_id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_break_glass_account", "break_glass", ["account_id", "expiry_time"])
    op.create_table(
        "bootstrap_secrets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("creation_time", sa.BigInteger(), nullable=False),
        sa.Column("used_time", sa.BigInteger(), nullable=True),
        sa.Column("voided_time", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    now = int(time.time() * 1000)
    op.bulk_insert(sa.table("auth_state", sa.column("id"), sa.column("generation"), sa.column("session_key")),
                   [{"id": 1, "generation": 1, "session_key": secrets.token_hex(32)}])
    op.bulk_insert(sa.table("workspaces", sa.column("name"), sa.column("description"), sa.column("creation_time")),
                   [{"name": "default", "description": "Default workspace", "creation_time": now}])


def downgrade() -> None:
    op.drop_table("bootstrap_secrets")
    op.drop_index("ix_break_glass_account", table_name="break_glass")
    op.drop_table("break_glass")
    op.drop_index("ix_resource_grants_grantee", table_name="resource_grants")
    op.drop_table("resource_grants")
    op.drop_index("ix_workspace_members_grantee", table_name="workspace_members")
    op.drop_table("workspace_members")
    op.drop_index("ix_group_members_account", table_name="group_members")
    op.drop_table("group_members")
    op.drop_table("user_groups")
    op.drop_index("ix_api_tokens_account", table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index("ix_login_failures_account", table_name="login_failures")
    op.drop_index("ix_login_failures_time", table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index("ix_password_history_account", table_name="password_history")
    op.drop_table("password_history")
    op.drop_table("accounts")
    op.drop_table("workspaces")
    op.drop_table("auth_state")

"""Tables of accounts, credentials, groups, workspaces, grants and break-glass access.

They live on the same MetaData as every other table (`medflow.store.schema.metadata`);
migration 0003 creates exactly these.

Design notes:
- An account is never deleted: 21 CFR Part 11 §11.100 wants every identity unique and
  never reused, so accounts are deactivated and `account_id` / `username` stay taken.
- `credential_version` changes whenever anything that decides whether the account may
  log in changes (password, lock, status, roles). Server processes cache successful
  password checks keyed by it, so a change is seen by every process on the next request.
- `auth_state.generation` changes whenever group or workspace membership or a grant
  changes; cached principals and cached grants carry it, so those changes are seen on
  the next request too.
- API tokens and the bootstrap secret are stored only as SHA-256 digests.
- Grants name the grantee by kind ("user" → account_id, "group" → group_id); workspace
  membership carries the permission a member gets on every resource of that workspace.
"""
from sqlalchemy import (BigInteger, Boolean, Column, ForeignKey, Index, Integer, PrimaryKeyConstraint,
                        String, Table, Text, UniqueConstraint)

from medflow.store.schema import metadata

USERNAME = 256
WORKSPACE = 63

auth_state = Table(
    "auth_state", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("generation", BigInteger, nullable=False),
    Column("session_key", String(128), nullable=False),  # signs browser session cookies
)

workspaces = Table(
    "workspaces", metadata,
    Column("name", String(WORKSPACE), primary_key=True),
    Column("description", Text, nullable=False, server_default=""),
    Column("creation_time", BigInteger, nullable=False),
)

accounts = Table(
    "accounts", metadata,
    Column("account_id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(USERNAME), nullable=False),
    Column("display_name", String(256), nullable=False, server_default=""),
    Column("kind", String(16), nullable=False, server_default="person"),  # person | service
    Column("roles", String(200), nullable=False, server_default=""),  # space-separated role names
    Column("default_workspace", String(WORKSPACE), nullable=False, server_default="default"),
    Column("password_hash", String(512), nullable=True),  # NULL: SSO / proxy / token-only account
    Column("password_changed_time", BigInteger, nullable=True),
    Column("external_subject", String(512), nullable=True),  # "<issuer>|<sub>" of an OIDC identity
    Column("status", String(16), nullable=False, server_default="active"),  # active | deactivated
    Column("locked_time", BigInteger, nullable=True),
    Column("lock_reason", String(200), nullable=True),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("break_glass_allowed", Boolean, nullable=False, server_default="0"),
    Column("credential_version", Integer, nullable=False, server_default="1"),
    Column("creation_time", BigInteger, nullable=False),
    Column("created_by", String(USERNAME), nullable=False, server_default=""),
    UniqueConstraint("username", name="uq_accounts_username"),
    UniqueConstraint("external_subject", name="uq_accounts_external_subject"),
)

password_history = Table(
    "password_history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.account_id"), nullable=False),
    Column("password_hash", String(512), nullable=False),
    Column("set_time", BigInteger, nullable=False),
    Index("ix_password_history_account", "account_id", "set_time"),
)

login_failures = Table(
    "login_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("time", BigInteger, nullable=False),
    Column("username", String(USERNAME), nullable=False, server_default=""),  # as attempted
    Column("account_id", Integer, nullable=True),  # NULL when no such account
    Column("auth_method", String(16), nullable=False),
    Column("client_addr", String(64), nullable=False, server_default=""),
    Column("reason", String(64), nullable=False),
    Index("ix_login_failures_time", "time"),
    Index("ix_login_failures_account", "account_id", "time"),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("token_id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.account_id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False),  # hex SHA-256 of the secret
    Column("prefix", String(16), nullable=False),  # first characters, to recognise a token in lists
    Column("creation_time", BigInteger, nullable=False),
    Column("expiry_time", BigInteger, nullable=True),
    Column("revoked_time", BigInteger, nullable=True),
    Column("last_used_time", BigInteger, nullable=True),
    UniqueConstraint("token_hash", name="uq_api_tokens_hash"),
    Index("ix_api_tokens_account", "account_id"),
)

user_groups = Table(
    "user_groups", metadata,
    Column("group_id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("creation_time", BigInteger, nullable=False),
    UniqueConstraint("name", name="uq_user_groups_name"),
)

group_members = Table(
    "group_members", metadata,
    Column("group_id", Integer, ForeignKey("user_groups.group_id"), nullable=False),
    Column("account_id", Integer, ForeignKey("accounts.account_id"), nullable=False),
    PrimaryKeyConstraint("group_id", "account_id", name="pk_group_members"),
    Index("ix_group_members_account", "account_id"),
)

workspace_members = Table(
    "workspace_members", metadata,
    Column("workspace", String(WORKSPACE), ForeignKey("workspaces.name"), nullable=False),
    Column("grantee_kind", String(8), nullable=False),  # user | group
    Column("grantee_id", Integer, nullable=False),
    Column("permission", String(16), nullable=False),  # NONE | READ | EDIT | MANAGE
    PrimaryKeyConstraint("workspace", "grantee_kind", "grantee_id", name="pk_workspace_members"),
    Index("ix_workspace_members_grantee", "grantee_kind", "grantee_id"),
)

resource_grants = Table(
    "resource_grants", metadata,
    Column("resource_type", String(32), nullable=False),  # experiment | registered_model
    Column("resource_id", String(64), nullable=False),
    Column("grantee_kind", String(8), nullable=False),  # user | group
    Column("grantee_id", Integer, nullable=False),
    Column("permission", String(16), nullable=False),  # READ | EDIT | MANAGE | APPROVE
    Column("granted_time", BigInteger, nullable=False),
    Column("granted_by", String(USERNAME), nullable=False, server_default=""),
    PrimaryKeyConstraint("resource_type", "resource_id", "grantee_kind", "grantee_id", "permission",
                         name="pk_resource_grants"),
    Index("ix_resource_grants_grantee", "grantee_kind", "grantee_id", "resource_type"),
)

break_glass = Table(
    "break_glass", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("accounts.account_id"), nullable=False),
    Column("reason", Text, nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("expiry_time", BigInteger, nullable=False),
    Column("ended_time", BigInteger, nullable=True),
    Column("activated_by", String(USERNAME), nullable=False),
    Column("reviewed_time", BigInteger, nullable=True),
    Column("reviewed_by", String(USERNAME), nullable=True),
    Column("review_note", Text, nullable=True),
    Index("ix_break_glass_account", "account_id", "expiry_time"),
)

bootstrap_secrets = Table(
    "bootstrap_secrets", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("secret_hash", String(64), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("used_time", BigInteger, nullable=True),
    Column("voided_time", BigInteger, nullable=True),
)

ACCOUNT_TABLES = [auth_state, workspaces, accounts, password_history, login_failures, api_tokens,
                  user_groups, group_members, workspace_members, resource_grants, break_glass,
                  bootstrap_secrets]

"""Groups (e.g. clinical teams), their members, and workspaces (departments) with their members.

A workspace member — a user or a whole group — gets a permission on every experiment and
model of the workspace (NONE, READ, EDIT or MANAGE); grants on single resources add to it.
Membership changes bump the auth generation, so every server process sees them at once.
"""
from __future__ import annotations

import re

from medflow.auth.accounts import check_text
from medflow.auth.config import AuthConfig
from medflow.auth.permissions import READ, WORKSPACE_MEMBER_PERMISSIONS
from medflow.errors import MedflowError
from medflow.services.clock import now_ms
from medflow.store import accounts as account_store
from medflow.store import accounts_directory as store
from medflow.store.engine import Database

# MLflow 3's workspace names (Kubernetes-style), so a 3.x client accepts them.
_WORKSPACE_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_RESERVED_WORKSPACES = {"workspaces", "api", "ajax-api", "static-files"}
_GROUP_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/\- ]{0,255}$")


def check_workspace_name(name: str | None) -> str:
    if not name:
        raise MedflowError.missing("name")
    if not isinstance(name, str) or not 2 <= len(name) <= 63 or not _WORKSPACE_RE.match(name):
        raise MedflowError.invalid(f"Invalid workspace name '{str(name)[:80]}': use 2-63 lowercase letters, "
                                   "digits and inner hyphens, e.g. 'cardiology'.")
    if name in _RESERVED_WORKSPACES:
        raise MedflowError.invalid(f"Workspace name '{name}' is reserved: choose another.")
    return name


def check_group_name(name: str | None) -> str:
    if not name:
        raise MedflowError.missing("name")
    if not isinstance(name, str) or not _GROUP_RE.match(name):
        raise MedflowError.invalid("Invalid group name: use up to 256 letters, digits, spaces and . _ : @ / - "
                                   "(as the identity provider names the group, e.g. 'cardiology-ds').")
    return name


def check_member_permission(permission: str | None) -> str:
    value = (permission or READ).upper()
    if value not in WORKSPACE_MEMBER_PERMISSIONS:
        raise MedflowError.invalid(f"Invalid workspace permission '{permission}': use one of "
                                   f"{', '.join(WORKSPACE_MEMBER_PERMISSIONS)}.")
    return value


def check_member_kind(kind: str | None) -> str:
    if kind not in ("user", "group"):
        raise MedflowError.invalid(f"Invalid member kind '{kind}': use user or group.")
    return kind


class DirectoryService:
    def __init__(self, db: Database, config: AuthConfig):
        self.db = db
        self.config = config

    # --- groups --------------------------------------------------------------------------------
    def create_group(self, name: str | None, description: str = "") -> dict:
        name = check_group_name(name)
        description = check_text("description", description, 2000)
        with self.db.write() as conn:
            group_id = store.create_group(conn, name, description, now_ms())
        return {"id": str(group_id), "name": name, "description": description}

    def list_groups(self) -> list[dict]:
        with self.db.read() as conn:
            return store.list_groups(conn)

    def add_group_member(self, group: str, username: str) -> bool:
        with self.db.write() as conn:
            group_row = store.require_group(conn, group)
            account = account_store.require_row(conn, username)
            added = store.add_member(conn, group_row.group_id, account.account_id)
            account_store.bump_generation(conn)
            return added

    def remove_group_member(self, group: str, username: str) -> None:
        with self.db.write() as conn:
            group_row = store.require_group(conn, group)
            account = account_store.require_row(conn, username)
            if not store.remove_member(conn, group_row.group_id, account.account_id):
                raise MedflowError.not_found(f"'{username}' is not a member of group '{group}'.")
            account_store.bump_generation(conn)

    # --- workspaces ----------------------------------------------------------------------------
    def create_workspace(self, name: str | None, description: str = "") -> dict:
        name = check_workspace_name(name)
        description = check_text("description", description, 2000)
        now = now_ms()
        with self.db.write() as conn:
            store.create_workspace(conn, name, description, now)
        return {"name": name, "description": description, "creation_time": now}

    def get_workspace(self, name: str, visible: frozenset[str] | None = None) -> dict:
        """One workspace; `visible` limits what a non-admin may see (others do not exist for them)."""
        with self.db.read() as conn:
            found = store.list_workspaces(conn, frozenset({name}) if visible is None else visible & {name})
        if not found:
            raise MedflowError.not_found(f"Workspace '{name}' not found.")
        return found[0]

    def list_workspaces(self, visible: frozenset[str] | None = None) -> list[dict]:
        with self.db.read() as conn:
            return store.list_workspaces(conn, visible)

    def update_workspace(self, name: str, description: str | None) -> dict:
        description = check_text("description", description, 2000)
        with self.db.write() as conn:
            store.require_workspace(conn, name)
            store.set_description(conn, name, description)
            return store.list_workspaces(conn, frozenset({name}))[0]

    def delete_workspace(self, name: str) -> None:
        """Only an empty workspace can go (MLflow's RESTRICT mode); 'default' never."""
        if name == "default":
            raise MedflowError.invalid("The 'default' workspace is reserved and cannot be deleted.")
        with self.db.write() as conn:
            store.require_workspace(conn, name)
            if store.workspace_in_use(conn, name):
                raise MedflowError.invalid(f"Workspace '{name}' still holds experiments or registered "
                                           "models, or is an account's default workspace: move them first.")
            store.delete_workspace(conn, name)
            account_store.bump_generation(conn)

    def set_workspace_member(self, workspace: str, kind: str | None, member: str,
                             permission: str | None = None) -> None:
        """Add a user or group to a workspace, or change the permission it confers."""
        kind = check_member_kind(kind)
        permission = check_member_permission(permission)
        with self.db.write() as conn:
            store.require_workspace(conn, workspace)
            grantee_id = self._grantee_id(conn, kind, member)
            store.set_workspace_member(conn, workspace, kind, grantee_id, permission)
            account_store.bump_generation(conn)

    def remove_workspace_member(self, workspace: str, kind: str | None, member: str) -> None:
        kind = check_member_kind(kind)
        with self.db.write() as conn:
            store.require_workspace(conn, workspace)
            if not store.remove_workspace_member(conn, workspace, kind, self._grantee_id(conn, kind, member)):
                raise MedflowError.not_found(f"{kind} '{member}' is not a member of workspace '{workspace}'.")
            account_store.bump_generation(conn)

    @staticmethod
    def _grantee_id(conn, kind: str, name: str) -> int:
        if kind == "user":
            return account_store.require_row(conn, name).account_id
        return store.require_group(conn, name).group_id

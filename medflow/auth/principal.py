"""The identity a request acts as, resolved once per request by the Authenticator."""
from __future__ import annotations

from dataclasses import dataclass

VIEWER, DATA_SCIENTIST, REVIEWER, AUDITOR, ADMIN = "viewer", "data_scientist", "reviewer", "auditor", "admin"
ROLES = (VIEWER, DATA_SCIENTIST, REVIEWER, AUDITOR, ADMIN)
# Roles that see every workspace: an auditor reads everything, an admin runs the platform.
ALL_WORKSPACE_ROLES = frozenset({AUDITOR, ADMIN})
AUTH_METHODS = ("basic", "bearer", "proxy", "session", "oidc")


@dataclass(frozen=True)
class Principal:
    account_id: int | None
    username: str
    display_name: str
    roles: frozenset[str]
    groups: frozenset[str]
    workspaces: frozenset[str]
    default_workspace: str
    auth_method: str
    token_id: int | None = None
    break_glass: bool = False  # an emergency elevation is active: every action is flagged
    # The auth generation read when this request was authenticated: it changes with every
    # membership or grant change, so grants cached under it are still current.
    generation: int = 0
    credential_version: int = 0  # the account's, when this request was authenticated

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    @property
    def sees_all_workspaces(self) -> bool:
        return bool(self.roles & ALL_WORKSPACE_ROLES) or self.break_glass

    def in_workspace(self, workspace: str) -> bool:
        return self.sees_all_workspaces or workspace in self.workspaces

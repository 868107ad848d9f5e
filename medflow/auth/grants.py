"""Per-resource grants and break-glass elevation.

`grant_creator` is what the experiment and registry services call inside their create
transaction, so a creator holds MANAGE from the moment the resource exists.
"""
from __future__ import annotations

from medflow.auth.accounts import check_text
from medflow.auth.config import AuthConfig
from medflow.auth.directory import check_member_kind
from medflow.auth.permissions import ResourceRef, check_permission_name
from medflow.auth.principal import Principal
from medflow.errors import PERMISSION_DENIED, MedflowError
from medflow.services.clock import now_ms
from medflow.store import accounts as account_store
from medflow.store import accounts_break_glass as break_glass_store
from medflow.store import accounts_directory as directory_store
from medflow.store import accounts_grants as store
from medflow.store.engine import Database

# What the experiment and registry services call: inside their create transaction, and to filter searches.
grant_creator = store.grant_creator
readable_clause = store.readable_clause

MINUTE_MS = 60_000
MIN_REASON_LENGTH = 10


def _missing(resource_type: str, key, workspace: str | None) -> str:
    what = "experiment with id" if resource_type == "experiment" else "registered model named"
    return f"No {what} '{key}'" + (f" in workspace '{workspace}'." if workspace else ".")


class GrantService:
    def __init__(self, db: Database, config: AuthConfig):
        self.db = db
        self.config = config

    def _resource(self, conn, resource_type: str, key: str | None, workspace: str | None) -> ResourceRef:
        if not key:
            raise MedflowError.missing("resource")
        ref = store.resolve_resource(conn, resource_type, str(key), workspace)
        if ref is None:
            raise MedflowError.not_found(_missing(resource_type, key, workspace))
        return ref

    def grant(self, resource_type: str, resource: str | None, kind: str | None, member: str, permission: str | None,
              *, actor: str, workspace: str | None = None) -> dict:
        permission = check_permission_name(permission, resource_type)
        kind = check_member_kind(kind)
        with self.db.write() as conn:
            ref = self._resource(conn, resource_type, resource, workspace)
            grantee_id = self._grantee_id(conn, kind, member)
            store.grant(conn, resource_type=resource_type, resource_id=ref.id, kind=kind, grantee_id=grantee_id,
                        permission=permission, now=now_ms(), granted_by=actor)
        return {"resource_type": resource_type, "resource_id": ref.id, "grantee_kind": kind, "grantee": member,
                "permission": permission}

    def revoke(self, resource_type: str, resource: str | None, kind: str | None, member: str,
               permission: str | None = None, *, workspace: str | None = None) -> None:
        if permission:
            permission = check_permission_name(permission, resource_type)
        kind = check_member_kind(kind)
        with self.db.write() as conn:
            ref = self._resource(conn, resource_type, resource, workspace)
            removed = store.revoke(conn, resource_type=resource_type, resource_id=ref.id, kind=kind,
                                   grantee_id=self._grantee_id(conn, kind, member), permission=permission)
        if not removed:
            raise MedflowError.not_found(f"{kind} '{member}' holds no such grant on {resource_type} '{resource}'.")

    def list(self, resource_type: str | None = None, resource: str | None = None,
             workspace: str | None = None) -> list[dict]:
        with self.db.read() as conn:
            resource_id = self._resource(conn, resource_type, resource, workspace).id if resource else None
            return store.list_grants(conn, resource_type=resource_type, resource_id=resource_id)

    def require_manage(self, principal: Principal, resource_type: str, resource: str | None,
                       workspace: str | None = None) -> None:
        """Non-admins may grant on a resource they hold MANAGE on (MLflow's rule); others' resources do not exist."""
        from medflow.auth.permissions import authorize, authorize_role
        action = "experiment-manage-permissions" if resource_type == "experiment" else \
            "registered-model-manage-permissions"
        authorize_role(principal, action)  # the roles first: their answer says nothing about the resource
        with self.db.read() as conn:
            ref = self._resource(conn, resource_type, resource, workspace)
            grants = store.grants_for(conn, principal, [ref])[ref]
        authorize(principal, action, ref, grants, not_found_message=_missing(resource_type, resource, workspace))

    def grants_for(self, principal: Principal, resources: list[ResourceRef]):
        with self.db.read() as conn:
            return store.grants_for(conn, principal, resources)

    @staticmethod
    def _grantee_id(conn, kind: str, name: str) -> int:
        if kind == "user":
            return account_store.require_row(conn, name).account_id
        return directory_store.require_group(conn, name).group_id


class BreakGlassService:
    """Emergency access (HIPAA §164.312(a)(2)(ii)): time-limited, with a stated reason, flagged for review.

    While active, the account reads every resource in every workspace (its roles still bound
    what it may change), every request carries `break_glass=True` for the audit trail, and the
    elevation stays on the review list until an admin or auditor other than the user signs it off.
    """

    def __init__(self, db: Database, config: AuthConfig):
        self.db = db
        self.config = config

    def activate(self, actor: Principal, username: str, reason: str | None, minutes: int | None = None) -> dict:
        reason = check_text("reason", reason, 2000).strip()
        if len(reason) < MIN_REASON_LENGTH:
            raise MedflowError.invalid(f"State the reason for emergency access (at least {MIN_REASON_LENGTH} "
                                       "characters), e.g. the patient-safety event it is for.")
        limit = self.config.auth_break_glass_max_minutes
        minutes = limit if minutes is None else minutes
        if not isinstance(minutes, int) or not 1 <= minutes <= limit:
            raise MedflowError.invalid(f"Invalid duration {minutes!r}: break-glass lasts 1 to {limit} minutes "
                                       "(MEDFLOW_AUTH_BREAK_GLASS_MAX_MINUTES).")
        now = now_ms()
        with self.db.write() as conn:
            row = account_store.require_row(conn, username)
            if not actor.is_admin:
                if actor.account_id != row.account_id or not row.break_glass_allowed:
                    raise MedflowError(PERMISSION_DENIED,
                                       "Break-glass is not enabled for this account: an admin enables it with "
                                       "`medflow users update --break-glass-allowed`, or activates it for you.")
            if row.status != account_store.ACTIVE or row.locked_time is not None:
                raise MedflowError.invalid(f"Account '{username}' is locked or deactivated.")
            elevation_id = break_glass_store.activate(conn, account_id=row.account_id, reason=reason, now=now,
                                                      expiry_time=now + minutes * MINUTE_MS,
                                                      activated_by=actor.username)
            account_store.bump_generation(conn)
        return {"id": str(elevation_id), "username": username, "reason": reason, "start_time": now,
                "expiry_time": now + minutes * MINUTE_MS, "activated_by": actor.username}

    def end(self, username: str) -> None:
        with self.db.write() as conn:
            row = account_store.require_row(conn, username)
            if not break_glass_store.end_active(conn, row.account_id, now_ms()):
                raise MedflowError.not_found(f"'{username}' has no active break-glass elevation.")
            account_store.bump_generation(conn)

    def list(self, *, unreviewed_only: bool = False) -> list[dict]:
        with self.db.read() as conn:
            return break_glass_store.list_elevations(conn, unreviewed_only=unreviewed_only)

    def review(self, reviewer: Principal, elevation_id: int, note: str | None) -> None:
        note = check_text("note", note, 2000)
        with self.db.write() as conn:
            if break_glass_store.holder(conn, elevation_id) == reviewer.username:
                raise MedflowError(PERMISSION_DENIED, "An emergency access must be reviewed by someone other "
                                                      "than the user who had it.")
            break_glass_store.review(conn, elevation_id, reviewer=reviewer.username, note=note, now=now_ms())

"""Account administration: users, passwords, lockout, API tokens.

Every method validates first, then runs one transaction. Accounts are never deleted
(Part 11 unique identity): they are deactivated, and their user names stay taken.
"""
from __future__ import annotations

import re

from medflow.auth.config import AuthConfig
from medflow.auth.passwords import Passwords
from medflow.auth.principal import ADMIN, ROLES
from medflow.auth.tokens import SHOWN_PREFIX_LENGTH, digest, new_secret
from medflow.errors import MedflowError
from medflow.services.clock import now_ms
from medflow.store import accounts as store
from medflow.store import accounts_directory as directory_store
from medflow.store import accounts_tokens as token_store
from medflow.store.engine import Database

DAY_MS = 86_400_000
_USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+\-]{0,255}$")
KINDS = ("person", "service")


def check_username(username: str | None) -> str:
    if not username:
        raise MedflowError.missing("username")
    if not isinstance(username, str) or not _USERNAME_RE.match(username):
        raise MedflowError.invalid("Invalid user name: use 1-256 letters, digits and . _ @ + - "
                                   "(starting with a letter or digit), e.g. 'jdoe' or 'jdoe@hospital.org'.")
    return username


def check_roles(roles) -> frozenset[str]:
    if isinstance(roles, str):
        roles = [r for r in re.split(r"[,\s]+", roles) if r]
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise MedflowError.invalid(f"Unknown role(s) {', '.join(unknown)}: roles are {', '.join(ROLES)}.")
    return frozenset(roles)


def check_text(name: str, value: str | None, limit: int) -> str:
    value = value or ""
    if not isinstance(value, str):
        raise MedflowError.invalid(f"'{name}' must be a string.")
    if len(value) > limit:
        raise MedflowError.invalid(f"'{name}' exceeds the maximum length of {limit} characters.")
    return value


class AccountService:
    def __init__(self, db: Database, config: AuthConfig, passwords: Passwords | None = None):
        self.db = db
        self.config = config
        self.passwords = passwords or Passwords(config)

    # --- users ---------------------------------------------------------------------------------
    def create_user(self, username: str | None, password: str | None, *, actor: str, display_name: str = "",
                    roles=(), kind: str = "person", default_workspace: str | None = None,
                    break_glass_allowed: bool = False) -> dict:
        username = check_username(username)
        display_name = check_text("display_name", display_name, 256)
        roles = check_roles(roles)
        if kind not in KINDS:
            raise MedflowError.invalid(f"Invalid account kind '{kind}': use person or service.")
        workspace = default_workspace or self.config.auth_default_workspace
        password_hash = None
        if password is not None:
            self.passwords.check_policy(password, username=username)
            password_hash = self.passwords.hash(password)
        now = now_ms()
        with self.db.write() as conn:
            directory_store.require_workspace(conn, workspace)
            account_id = store.create(conn, username=username, display_name=display_name, kind=kind,
                                      roles=roles, default_workspace=workspace, password_hash=password_hash,
                                      now=now, created_by=actor, break_glass_allowed=break_glass_allowed)
            directory_store.set_workspace_member(conn, workspace, "user", account_id, "READ")
            store.bump_generation(conn)
            return store.to_wire(store.get_row(conn, account_id))

    def create_admin(self, username: str | None, password: str | None, *, actor: str, display_name: str = "") -> dict:
        if not password:
            raise MedflowError.invalid("The first admin needs a password: MedFlow has no default password.")
        return self.create_user(username, password, actor=actor, display_name=display_name, roles={ADMIN})

    def get_user(self, username: str) -> dict:
        with self.db.read() as conn:
            row = store.require_row(conn, username)
            user = store.to_wire(row)
            groups = directory_store.groups_of_accounts(conn, [row.account_id]).get(row.account_id)
        if groups:
            user["groups"] = groups
        return user

    def list_users(self, *, include_deactivated: bool = True) -> list[dict]:
        with self.db.read() as conn:
            rows = store.list_rows(conn, include_deactivated=include_deactivated)
            groups = directory_store.groups_of_accounts(conn, [r.account_id for r in rows])
        users = []
        for row in rows:
            user = store.to_wire(row)
            if groups.get(row.account_id):
                user["groups"] = groups[row.account_id]
            users.append(user)
        return users

    def set_roles(self, username: str, roles) -> dict:
        roles = check_roles(roles)
        with self.db.write() as conn:
            row = store.require_row(conn, username)
            if ADMIN not in roles:
                self._keep_an_admin(conn, row)
            store.set_fields(conn, row.account_id, invalidate=True, roles=store.roles_to_column(roles))
            return store.to_wire(store.get_row(conn, row.account_id))

    def update_profile(self, username: str, *, display_name: str | None = None,
                       default_workspace: str | None = None, break_glass_allowed: bool | None = None) -> dict:
        values = {}
        if display_name is not None:
            values["display_name"] = check_text("display_name", display_name, 256)
        if break_glass_allowed is not None:
            values["break_glass_allowed"] = bool(break_glass_allowed)
        with self.db.write() as conn:
            row = store.require_row(conn, username)
            if default_workspace is not None:
                directory_store.require_workspace(conn, default_workspace)
                values["default_workspace"] = default_workspace
            if values:
                store.set_fields(conn, row.account_id, invalidate=True, **values)
            return store.to_wire(store.get_row(conn, row.account_id))

    def lock(self, username: str, reason: str = "locked by an admin") -> None:
        reason = check_text("reason", reason, 200) or "locked by an admin"
        with self.db.write() as conn:
            row = store.require_row(conn, username)
            self._keep_an_admin(conn, row)
            store.set_fields(conn, row.account_id, invalidate=True, locked_time=now_ms(), lock_reason=reason)

    def unlock(self, username: str) -> None:
        with self.db.write() as conn:
            row = store.require_row(conn, username)
            store.set_fields(conn, row.account_id, invalidate=True, locked_time=None, lock_reason=None,
                             failed_logins=0)

    def deactivate(self, username: str) -> None:
        """Ends every login and token of the account for good; the user name is never reused."""
        with self.db.write() as conn:
            row = store.require_row(conn, username)
            self._keep_an_admin(conn, row)
            store.set_fields(conn, row.account_id, invalidate=True, status=store.DEACTIVATED)
            token_store.revoke_all_for(conn, row.account_id, now_ms())

    def reactivate(self, username: str) -> None:
        with self.db.write() as conn:
            row = store.require_row(conn, username)
            store.set_fields(conn, row.account_id, invalidate=True, status=store.ACTIVE, failed_logins=0)

    def _keep_an_admin(self, conn, row) -> None:
        """Refuse to lock, deactivate or demote the last active admin (nobody could manage accounts)."""
        if ADMIN not in store.roles_from_column(row.roles) or row.status != store.ACTIVE:
            return
        others = [r for r in store.list_rows(conn, include_deactivated=False)
                  if r.account_id != row.account_id and r.locked_time is None
                  and ADMIN in store.roles_from_column(r.roles)]
        if not others:
            raise MedflowError.invalid(f"'{row.username}' is the last active admin: make another account "
                                       "admin first (`medflow users set-roles`).")

    # --- passwords -----------------------------------------------------------------------------
    def reset_password(self, username: str, new_password: str | None) -> None:
        """An admin sets a new password (e.g. a forgotten one); unlocks the account."""
        with self.db.read() as conn:
            row = store.require_row(conn, username)
            history = store.recent_password_hashes(conn, row.account_id, self.config.auth_password_history)
        self.passwords.check_policy(new_password, username=username, previous_hashes=history)
        password_hash = self.passwords.hash(new_password)
        with self.db.write() as conn:
            store.set_password(conn, row.account_id, password_hash, now_ms(), self.config.auth_password_history)
            store.set_fields(conn, row.account_id, invalidate=False, locked_time=None, lock_reason=None)

    def change_own_password(self, username: str | None, current: str | None, new_password: str | None,
                            client_addr: str = "") -> None:
        """The user changes their own password, proving the current one (works once expired, never when locked)."""
        username = check_username(username)
        if not current:
            raise MedflowError.missing("current_password")
        with self.db.read() as conn:
            row = store.get_row_by_username(conn, username)
        verified = self.passwords.verify(row.password_hash if row else None, current)  # same time either way
        if not verified or row.status != store.ACTIVE or row.locked_time is not None:
            with self.db.write() as conn:
                store.record_failure(conn, now=now_ms(), username=username, account_id=row.account_id if row else None,
                                     method="password-change", client_addr=client_addr, reason="bad credentials")
                if row is not None:
                    store.count_failed_login(conn, row.account_id, self.config.auth_lockout_threshold, now_ms())
            raise MedflowError(
                "UNAUTHENTICATED", "The user name or current password is wrong, or the account is locked.")
        with self.db.read() as conn:
            history = store.recent_password_hashes(conn, row.account_id, self.config.auth_password_history)
        self.passwords.check_policy(new_password, username=username, previous_hashes=history)
        with self.db.write() as conn:
            store.set_password(conn, row.account_id, self.passwords.hash(new_password), now_ms(),
                               self.config.auth_password_history)

    def login_failures(self, *, since: int = 0, username: str | None = None, limit: int = 100) -> list[dict]:
        with self.db.read() as conn:
            return store.list_failures(conn, since=since, username=username, limit=min(max(limit, 1), 10_000))

    # --- API tokens ----------------------------------------------------------------------------
    def create_token(self, username: str, name: str | None, *, days: int | None = None) -> tuple[str, dict]:
        """A new token: returns (secret, listing). The secret is shown this once and never stored."""
        name = check_text("name", name, 200)
        if not name.strip():
            raise MedflowError.missing("name")
        days = self.config.auth_token_default_days if days is None else days
        if not isinstance(days, int) or days < 1 or days > self.config.auth_token_max_days:
            raise MedflowError.invalid(f"Invalid token lifetime {days!r} days: use 1 to "
                                       f"{self.config.auth_token_max_days} (MEDFLOW_AUTH_TOKEN_MAX_DAYS).")
        secret = new_secret()
        now = now_ms()
        with self.db.write() as conn:
            row = store.require_row(conn, username)
            if row.status != store.ACTIVE:
                raise MedflowError.invalid(f"Account '{username}' is deactivated: it cannot get tokens.")
            token_id = token_store.create(conn, account_id=row.account_id, name=name, token_hash=digest(secret),
                                          prefix=secret[:SHOWN_PREFIX_LENGTH], now=now,
                                          expiry_time=now + days * DAY_MS)
            return secret, token_store.to_wire(token_store.get_row(conn, token_id), username)

    def list_tokens(self, username: str | None = None, *, include_inactive: bool = False) -> list[dict]:
        with self.db.read() as conn:
            account_id = store.require_row(conn, username).account_id if username else None
            return token_store.list_for(conn, account_id, include_inactive=include_inactive, now=now_ms())

    def token_owner(self, token_id: int) -> int:
        with self.db.read() as conn:
            row = token_store.get_row(conn, token_id)
        if row is None:
            raise MedflowError.not_found(f"No API token with id {token_id}. List tokens with `medflow tokens list`.")
        return row.account_id

    def revoke_token(self, token_id: int) -> None:
        with self.db.write() as conn:
            token_store.revoke(conn, token_id, now_ms())

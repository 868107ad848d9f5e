"""Authenticator: turn a request's headers into a Principal, or refuse with UNAUTHENTICATED.

Accepted, in this order:
- trusted reverse-proxy headers (user, groups) — only from an address in
  MEDFLOW_AUTH_TRUSTED_PROXIES; from anyone else they are ignored;
- `Authorization: Basic` — what the mlflow client sends for MLFLOW_TRACKING_USERNAME and
  MLFLOW_TRACKING_PASSWORD (an API token is also accepted as the password);
- `Authorization: Bearer` — what it sends for MLFLOW_TRACKING_TOKEN.

argon2id costs tens of milliseconds, so a verified password is remembered in memory for
a short time, keyed by an HMAC of the credentials under a per-process random key. Every
hit is re-checked against the account row: its credential_version changes with any
password change, lock or deactivation, so every server process refuses the old password
on the very next request. Tokens are looked up by digest on every request (one query; a write
request on PostgreSQL may instead confirm them in its own transaction, medflow/auth/confirmation.py),
so a revoked or expired token fails at once.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import ipaddress
import logging
import os
from dataclasses import dataclass

from medflow.auth.cache import ExpiringCache
from medflow.auth.config import AuthConfig
from medflow.auth.confirmation import RecentlyVerified
from medflow.auth.passwords import Passwords
from medflow.auth.principal import Principal
from medflow.auth.sessions import COOKIE_NAME, SessionCookies, Signer
from medflow.auth.tokens import digest, looks_like_token
from medflow.errors import UNAUTHENTICATED, MedflowError
from medflow.services.clock import now_ms
from medflow.store import accounts as store
from medflow.store import accounts_break_glass as break_glass_store
from medflow.store import accounts_directory as directory_store
from medflow.store import accounts_tokens as token_store
from medflow.store.engine import Database

log = logging.getLogger("medflow.auth")

DAY_MS = 86_400_000
HOW_TO_AUTHENTICATE = (
    "With the mlflow client set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or "
    "MLFLOW_TRACKING_TOKEN (an API token from `medflow tokens create` or your admin).")
MISSING = "Authentication required. " + HOW_TO_AUTHENTICATE
BAD_PASSWORD = ("Invalid user name or password (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD). "
                "Repeated failures lock the account.")
BAD_TOKEN = ("The API token is invalid, expired or revoked (MLFLOW_TRACKING_TOKEN): create a new one with "
             "`medflow tokens create`, or ask your admin.")


def unauthenticated(message: str) -> MedflowError:
    return MedflowError(UNAUTHENTICATED, message)


@dataclass(frozen=True)
class _CachedPrincipal:
    credential_version: int
    generation: int
    break_glass_expiry: int | None
    principal: Principal


class Authenticator:
    def __init__(self, config: AuthConfig, db: Database, passwords: Passwords | None = None):
        self.config = config
        self.db = db
        self.passwords = passwords or Passwords(config)
        self._cache_key = os.urandom(32)
        self._verified = ExpiringCache()  # HMAC(credentials) -> (account_id, credential_version, password expiry)
        self._principals = ExpiringCache()  # (account_id, external groups) -> _CachedPrincipal
        self.recent = RecentlyVerified(self._cache_key, enabled=db.dialect == "postgresql")
        self._sessions: SessionCookies | None = None

    # --- entry point ---------------------------------------------------------------------------
    def authenticate(self, headers: dict[str, str], client_addr: str, *, remember: bool = False) -> Principal:
        """`remember`: keep a Basic or Bearer principal in `recent` (see medflow/auth/confirmation.py)."""
        headers = {k.lower(): v for k, v in headers.items()}
        proxy_user = headers.get(self.config.auth_proxy_user_header.lower())
        if proxy_user and self.is_trusted_proxy(client_addr):
            groups = headers.get(self.config.auth_proxy_groups_header.lower(), "")
            return self.external_principal(proxy_user.strip(), frozenset(filter(None, (
                g.strip() for g in groups.split(",")))), method="proxy", client_addr=client_addr)
        if proxy_user:
            log.warning("ignored proxy user header from untrusted address %s", client_addr)
        authorization = headers.get("authorization", "").strip()
        if not authorization:
            session_cookie = _cookie(headers.get("cookie", ""), COOKIE_NAME)
            if session_cookie:
                return self.session_principal(session_cookie)[0]
            raise unauthenticated(MISSING)
        scheme, _, credentials = authorization.partition(" ")
        scheme, credentials = scheme.lower(), credentials.strip()
        remember_as = authorization if remember else None
        if scheme == "bearer" and credentials:
            return self._token(credentials, client_addr, username=None, method="bearer", remember_as=remember_as)
        if scheme == "basic" and credentials:
            username, password = self._decode_basic(credentials)
            if looks_like_token(password):
                return self._token(password, client_addr, username=username, method="basic", remember_as=remember_as)
            return self._password(username, password, client_addr, remember_as=remember_as)
        raise unauthenticated("Unsupported Authorization header: use Basic or Bearer. " + HOW_TO_AUTHENTICATE)

    def is_trusted_proxy(self, client_addr: str) -> bool:
        networks = self.config.trusted_proxy_networks
        if not networks or not client_addr:
            return False
        try:
            address = ipaddress.ip_address(client_addr)
        except ValueError:
            return False
        return any(address in network for network in networks)

    @staticmethod
    def _decode_basic(credentials: str) -> tuple[str, str]:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise unauthenticated("Malformed Basic credentials. " + HOW_TO_AUTHENTICATE) from None
        username, sep, password = decoded.partition(":")
        if not sep or not username:
            raise unauthenticated("Malformed Basic credentials. " + HOW_TO_AUTHENTICATE)
        return username, password

    # --- passwords -----------------------------------------------------------------------------
    def _password(self, username: str, password: str, client_addr: str, remember_as: str | None = None) -> Principal:
        key = hmac.new(self._cache_key, f"{username}\0{password}".encode("utf-8", "surrogatepass"),
                       hashlib.sha256).digest()
        cached = self._verified.get(key)
        if cached is not None:
            with self.db.read() as conn:
                row = store.get_row_with_generation(conn, cached[0])
            if row is not None and row.credential_version == cached[1] and self._usable(row) is None:
                return self._remembered(remember_as, self._principal(row, "basic"), cached[2])
            self._verified.discard(key)
        with self.db.read() as conn:
            row = store.get_row_by_username(conn, username)
        verified = self.passwords.verify(row.password_hash if row is not None else None, password)
        if not verified:
            self._fail(username, row, "basic", client_addr, "bad password" if row else "unknown user", count=True)
            raise unauthenticated(BAD_PASSWORD)
        problem = self._usable(row)
        if problem == "locked" and self._lock_expired(row):
            with self.db.write() as conn:
                store.set_fields(conn, row.account_id, invalidate=True, locked_time=None, lock_reason=None,
                                 failed_logins=0)
            with self.db.read() as conn:
                row = store.get_row_by_username(conn, username)
            problem = self._usable(row)
        if problem is None and self._password_expired(row):
            problem = "password expired"
        if problem is not None:
            self._fail(username, row, "basic", client_addr, problem, count=False)
            raise unauthenticated(self._problem_message(problem))
        if row.failed_logins:
            with self.db.write() as conn:
                store.set_fields(conn, row.account_id, invalidate=False, failed_logins=0)
        expiry = self._password_expiry(row)
        with self.db.read() as conn:
            row = store.get_row_with_generation(conn, row.account_id)
        self._verified.put(key, (row.account_id, row.credential_version, expiry),
                           self.config.auth_credential_cache_seconds)
        return self._remembered(remember_as, self._principal(row, "basic"), expiry)

    def _lock_expired(self, row) -> bool:
        minutes = self.config.auth_lockout_minutes
        return minutes > 0 and row.locked_time is not None and row.locked_time + minutes * 60_000 <= now_ms()

    def _password_expired(self, row) -> bool:
        expiry = self._password_expiry(row)
        return expiry is not None and expiry <= now_ms()

    def _password_expiry(self, row) -> int | None:
        days = self.config.auth_password_expiry_days
        return (row.password_changed_time or row.creation_time) + days * DAY_MS if days > 0 else None

    def _remembered(self, remember_as: str | None, principal: Principal, valid_until_ms: int | None) -> Principal:
        if remember_as is not None:
            self.recent.remember(remember_as, principal, valid_until_ms)
        return principal

    @staticmethod
    def _usable(row) -> str | None:
        if row.status != store.ACTIVE:
            return "deactivated"
        if row.locked_time is not None:
            return "locked"
        return None

    @staticmethod
    def _problem_message(problem: str) -> str:
        return {
            "locked": "The account is locked (too many failed logins, or by an admin): ask an admin to "
                      "unlock it (`medflow users unlock`).",
            "deactivated": "The account is deactivated: ask an admin if you need access again.",
            "password expired": "The password has expired: set a new one with POST "
                                "/api/medflow/v1/users/change-password, or ask an admin to reset it.",
        }[problem]

    def _fail(self, username: str, row, method: str, client_addr: str, reason: str, *, count: bool) -> None:
        now = now_ms()
        with self.db.write() as conn:
            store.record_failure(conn, now=now, username=username, account_id=row.account_id if row else None,
                                 method=method, client_addr=client_addr, reason=reason)
            if count and row is not None and row.status == store.ACTIVE:
                if store.count_failed_login(conn, row.account_id, self.config.auth_lockout_threshold, now):
                    log.warning("account %s locked after %d failed logins", row.username,
                                self.config.auth_lockout_threshold)

    # --- tokens --------------------------------------------------------------------------------
    def _token(self, token: str, client_addr: str, *, username: str | None, method: str,
               remember_as: str | None = None) -> Principal:
        now = now_ms()
        with self.db.read() as conn:
            row = token_store.lookup(conn, digest(token))
        reason = None
        if row is None:
            reason = "unknown token"
        elif row.revoked_time is not None:
            reason = "revoked token"
        elif row.expiry_time is not None and row.expiry_time <= now:
            reason = "expired token"
        elif username is not None and username != row.username:
            reason = "token of another user"
        if reason:
            self._fail(username or "", None, "bearer", client_addr, reason, count=False)
            raise unauthenticated(BAD_TOKEN)
        problem = self._usable(row)
        if problem is not None:
            self._fail(row.username, None, "bearer", client_addr, problem, count=False)
            raise unauthenticated(self._problem_message(problem))
        if row.last_used_time is None or row.last_used_time < now - token_store.LAST_USED_RESOLUTION_MS:
            with self.db.write() as conn:
                token_store.touch(conn, row.token_id, now)
        return self._remembered(remember_as, self._principal(row, method, token_id=row.token_id), row.expiry_time)

    # --- SSO and proxy identities ------------------------------------------------------------
    def external_principal(self, username: str, groups: frozenset[str], *, method: str, client_addr: str = "",
                           display_name: str = "", subject: str | None = None) -> Principal:
        """The principal of a user the identity provider or proxy vouches for; first sight creates the account."""
        from medflow.auth.accounts import check_username
        try:
            check_username(username)
        except MedflowError:
            raise unauthenticated("The identity provider sent a user name MedFlow cannot use.") from None
        with self.db.read() as conn:
            row = store.get_row_by_subject(conn, subject) if subject else None
            if row is None:
                row = store.get_row_by_username(conn, username)
                if row is not None and subject and (row.external_subject or row.password_hash):
                    # Never let a provider's user name take over a local or differently-bound account.
                    self._fail(username, None, method, client_addr, "user name bound elsewhere", count=False)
                    raise unauthenticated(f"An account named '{username}' already exists in MedFlow and is not "
                                          "linked to this sign-on: ask an admin.")
        if row is None:
            self._provision(username, display_name, subject, method)
        elif subject and row.external_subject is None:
            with self.db.write() as conn:
                store.set_fields(conn, row.account_id, invalidate=False, external_subject=subject)
        with self.db.read() as conn:
            row = store.get_row_by_subject(conn, subject) if subject else store.get_row_by_username(conn, username)
            row = store.get_row_with_generation(conn, row.account_id)
        problem = self._usable(row)
        if problem is not None:
            self._fail(username, None, method, client_addr, problem, count=False)
            raise unauthenticated(self._problem_message(problem))
        return self._principal(row, method, external_groups=groups)

    def _provision(self, username: str, display_name: str, subject: str | None, method: str) -> None:
        try:
            with self.db.write() as conn:
                store.create(conn, username=username, display_name=display_name or username, kind="person",
                             roles=self.config.external_default_roles,
                             default_workspace=self.config.auth_default_workspace, password_hash=None,
                             now=now_ms(), created_by=method, external_subject=subject)
        except MedflowError:
            pass  # created meanwhile by another request or process

    # --- browser sessions ------------------------------------------------------------------------
    @property
    def sessions(self) -> SessionCookies:
        if self._sessions is None:
            with self.db.read() as conn:
                key = store.session_key(conn)
            self._sessions = SessionCookies(Signer(bytes.fromhex(key)),
                                            idle_minutes=self.config.auth_session_idle_minutes,
                                            max_hours=self.config.auth_session_max_hours)
        return self._sessions

    def start_session(self, principal: Principal, method: str,
                      external_groups: frozenset[str] = frozenset()) -> str:
        """Cookie value for a browser that just signed on ('session': password form, 'oidc': SSO).

        `external_groups`: the identity provider's groups (re-mapped on every request); local
        group memberships are read from the database each time, never frozen into the cookie."""
        with self.db.read() as conn:
            row = store.get_row(conn, principal.account_id)
        return self.sessions.issue(row.account_id, row.credential_version, method=method, now=now_ms(),
                                   groups=external_groups)

    def session_principal(self, cookie: str) -> tuple[Principal, str | None]:
        """(principal, refreshed cookie or None) of a live session; UNAUTHENTICATED when it ended."""
        now = now_ms()
        session = self.sessions.read(cookie, now)
        if session is None:
            raise unauthenticated("Your session has ended (idle too long, or expired): sign in again.")
        with self.db.read() as conn:
            row = store.get_row_with_generation(conn, session.account_id)
        if row is None or row.credential_version != session.credential_version or self._usable(row):
            raise unauthenticated("Your session has ended (the account changed): sign in again.")
        principal = self._principal(row, session.method, external_groups=frozenset(session.groups))
        return principal, self.sessions.refreshed(session, now)

    # --- principals ----------------------------------------------------------------------------
    def _principal(self, row, method: str, *, token_id: int | None = None,
                   external_groups: frozenset[str] = frozenset()) -> Principal:
        key = (row.account_id, external_groups)
        cached = self._principals.get(key)
        now = now_ms()
        if (cached is not None and cached.credential_version == row.credential_version
                and cached.generation == row.generation
                and (cached.break_glass_expiry is None or now < cached.break_glass_expiry)):
            principal = cached.principal
        else:
            with self.db.read() as conn:
                groups, workspaces = directory_store.memberships(conn, row.account_id, external_groups)
                break_glass_expiry = break_glass_store.active_expiry(conn, row.account_id, now)
            mapped = {self.config.external_role_groups[g] for g in external_groups
                      if g in self.config.external_role_groups}
            principal = Principal(account_id=row.account_id, username=row.username,
                                  display_name=row.display_name or row.username,
                                  roles=store.roles_from_column(row.roles) | mapped, groups=groups,
                                  workspaces=workspaces, default_workspace=row.default_workspace,
                                  auth_method=method, break_glass=break_glass_expiry is not None)
            self._principals.put(key, _CachedPrincipal(row.credential_version, row.generation, break_glass_expiry,
                                                       principal), 3600)
        return dataclasses.replace(principal, auth_method=method, token_id=token_id, generation=row.generation,
                                   credential_version=row.credential_version)


def request_workspace(principal: Principal, header_value: str | None) -> str:
    """The workspace a request works in: the X-MLFLOW-WORKSPACE header (3.x clients) or the
    account's default (2.x clients send none). A workspace the principal is not in does not exist."""
    name = (header_value or "").strip() or principal.default_workspace
    if not principal.in_workspace(name):
        raise MedflowError.not_found(f"Workspace '{name}' not found. Choose one of your workspaces "
                                     "(MLFLOW_WORKSPACE or mlflow.set_workspace()).")
    return name


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value
    return None

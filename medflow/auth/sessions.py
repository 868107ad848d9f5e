"""Signed browser session cookies with automatic logoff (HIPAA §164.312(a)(2)(iii)).

A session cookie carries the account, the account's credential_version when the session
began, the identity provider's groups (SSO), when it began and when it was last used, all
under an HMAC-SHA256 signature with the server's session key (stored in the database, so
every replica shares it). A session ends when it has been idle longer than
MEDFLOW_AUTH_SESSION_IDLE_MINUTES, when it is older than MEDFLOW_AUTH_SESSION_MAX_HOURS,
or at once when the account's password, lock, status or roles change. Each request that
uses the session slides its idle clock by re-issuing the cookie (at most once a minute).

The same signer protects short-lived values such as the OIDC login state.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass

COOKIE_NAME = "medflow_session"
REFRESH_AFTER_MS = 60_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """HMAC-SHA256 over compact JSON; `purpose` keeps a value signed for one use out of another."""

    def __init__(self, key: bytes | str):
        self.key = key.encode() if isinstance(key, str) else key

    def _mac(self, purpose: str, body: str) -> str:
        return _b64(hmac.new(self.key, f"{purpose}.{body}".encode(), hashlib.sha256).digest())

    def dumps(self, value: dict, purpose: str) -> str:
        body = _b64(json.dumps(value, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def loads(self, token: str | None, purpose: str) -> dict | None:
        """The signed value, or None when missing, malformed or not signed by this key for `purpose`."""
        if not token or not token.isascii() or token.count(".") != 1:
            return None
        body, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(purpose, body)):
            return None
        try:
            value = json.loads(_unb64(body))
        except (ValueError, UnicodeDecodeError):
            return None
        return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class Session:
    account_id: int
    credential_version: int
    method: str  # session (password form) | oidc
    groups: tuple[str, ...]
    started: int
    last_seen: int


class SessionCookies:
    def __init__(self, signer: Signer, *, idle_minutes: int, max_hours: int):
        self.signer = signer
        self.idle_ms = idle_minutes * 60_000
        self.max_ms = max_hours * 3_600_000

    def issue(self, account_id: int, credential_version: int, *, method: str, now: int,
              groups=(), started: int | None = None) -> str:
        return self.signer.dumps({"a": account_id, "v": credential_version, "m": method, "g": sorted(groups),
                                  "s": started if started is not None else now, "t": now}, "session")

    def read(self, cookie: str | None, now: int) -> Session | None:
        """The session, or None if the cookie is absent, forged, idle too long or too old."""
        value = self.signer.loads(cookie, "session")
        if value is None:
            return None
        try:
            session = Session(int(value["a"]), int(value["v"]), str(value["m"]), tuple(value["g"]),
                              int(value["s"]), int(value["t"]))
        except (KeyError, TypeError, ValueError):
            return None
        if now - session.last_seen > self.idle_ms or now - session.started > self.max_ms or now < session.last_seen:
            return None
        return session

    def refreshed(self, session: Session, now: int) -> str | None:
        """A cookie with the idle clock reset, or None when the current one is recent enough."""
        if now - session.last_seen < REFRESH_AFTER_MS:
            return None
        return self.issue(session.account_id, session.credential_version, method=session.method, now=now,
                          groups=session.groups, started=session.started)

    @staticmethod
    def set_cookie_header(value: str, *, secure: bool = True) -> str:
        """Set-Cookie value: not readable by scripts, not sent cross-site, browser-session lifetime."""
        return f"{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")

    @staticmethod
    def clear_cookie_header(*, secure: bool = True) -> str:
        return f"{COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")

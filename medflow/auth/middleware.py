"""ASGI middleware: authenticate every request before any endpoint runs.

Installed around the whole app, it answers 401 UNAUTHENTICATED (MLflow's error body, plus a
WWW-Authenticate challenge) for any request without valid credentials, except the few
PUBLIC_PATHS. On success the Principal is put in the ASGI scope (`scope["medflow.principal"]`,
i.e. `request.scope[...]`) and in a context variable (`current_principal()`) that follows the
request into the endpoint's worker thread. An app that can check credentials in its own worker
call (medflow/api/dispatch.py) gets a PendingAuthentication instead, which sets both there.

CSRF: a browser sends its session cookie with any request, also one a page on another site
makes it send. So a state-changing request (any method but GET/HEAD/OPTIONS) authenticated
by the session cookie must also carry the session's CSRF token, in the X-CSRF-Token header
or (for HTML forms) the `csrf_token` field of a url-encoded body; without it: 403. The token
is an HMAC over the session's account and start time (see csrf_token), handed to the page in
the script-readable `medflow_csrf` cookie at sign-on. Requests with an Authorization header
(Basic, Bearer: what the mlflow client sends) carry no ambient credential and are unaffected.
"""
from __future__ import annotations

import base64
import contextvars
import ipaddress
import json
import logging
from dataclasses import dataclass
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from starlette.responses import Response

from medflow.api.workers import in_worker
from medflow.audit.context import RequestAudit
from medflow.auth import confirmation
from medflow.auth.authenticate import Authenticator, _cookie
from medflow.auth.principal import Principal
from medflow.auth.sessions import COOKIE_NAME, Session, SessionCookies, Signer
from medflow.errors import PERMISSION_DENIED, UNAUTHENTICATED, MedflowError
from medflow.services.clock import now_ms

log = logging.getLogger("medflow.auth")

SCOPE_KEY = "medflow.principal"
PENDING_KEY = "medflow.pending_authentication"
# Reachable without credentials: liveness probes, first-admin bootstrap (needs its secret),
# changing one's own password (proves the current one; works when it has expired), and the
# browser sign-on routes (medflow/api/browser_auth.py), which check what they receive themselves.
BROWSER_SIGN_ON_PATHS = frozenset({"/auth/login", "/auth/callback", "/auth/logout"})
PUBLIC_PATHS = frozenset({"/health", "/version"} | BROWSER_SIGN_ON_PATHS | {
    f"{prefix}/medflow/v1/{path}"
    for prefix in ("/api", "/ajax-api") for path in ("bootstrap", "users/change-password")})

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_COOKIE, CSRF_HEADER, CSRF_FIELD = "medflow_csrf", "x-csrf-token", "csrf_token"
MAX_CSRF_FORM_BYTES = 1 << 20  # a url-encoded form read to find its csrf_token; bigger ones send the header
CSRF_REFUSED = ("This request uses your browser session but carries no valid CSRF token: send the value of "
                f"the {CSRF_COOKIE} cookie in the X-CSRF-Token header (or the {CSRF_FIELD} form field), or "
                "sign in again. Scripts and the mlflow client should use Basic or Bearer credentials instead.")

_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("medflow_principal", default=None)


def current_principal() -> Principal:
    principal = _current.get()
    if principal is None:
        raise MedflowError(UNAUTHENTICATED, "No authenticated user for this request.")
    return principal


def _default_authenticator(scope) -> Authenticator:
    return scope["app"].state.services.auth.authenticator


class AuthenticationRefused(Exception):
    """Raised by PendingAuthentication: answer with `response()`; the refusal is already audited."""

    def __init__(self, error: MedflowError):
        super().__init__(error.message)
        self.error = error

    def response(self) -> Response:
        return refusal_response(self.error)


@dataclass
class PendingAuthentication:
    """Credentials the endpoint checks first thing in its own worker call, before it parses the
    request: one thread hop per API call instead of two. AuthenticationMiddleware leaves only
    header-authenticated requests with a small body to this (see `defer`): the body is read before
    the credentials are checked, and a session cookie needs the CSRF check first."""
    authenticator: Authenticator
    headers: dict[str, str]
    client_addr: str
    scope: dict

    def principal(self, *, recently_verified: bool = False) -> Principal:
        """The request's principal, now also in the scope and in current_principal(); raises
        AuthenticationRefused (call inside the worker call that serves the request).

        `recently_verified`: a principal this process verified moments ago will do, under a Claim
        that the request must confirm (medflow/auth/confirmation.py)."""
        confirmation.clear()
        if recently_verified:
            principal = self.authenticator.recent.get(self.headers.get("authorization", ""))
            if principal is not None:
                confirmation.start(principal)
                return self._acting_as(principal)
        return self._authenticated(remember=recently_verified)

    def confirmed(self, claim: confirmation.Claim) -> None:
        """The request's Claim was confirmed by a transaction that moved the auth generation itself."""
        if claim.confirmed and claim.advanced_generation is not None:
            self.authenticator.recent.advance(self.headers.get("authorization", ""), claim.principal,
                                              claim.advanced_generation)

    def reauthenticate(self) -> Principal:
        """The look-up a Claim stood in for, as current_principal() from now on (and remembered anew)."""
        confirmation.clear()
        return self._authenticated(remember=True)

    def _authenticated(self, *, remember: bool) -> Principal:
        try:
            principal = self.authenticator.authenticate(self.headers, self.client_addr, remember=remember)
        except MedflowError as exc:
            _audit_refusal(self.scope, self.headers, self.client_addr, exc)
            raise AuthenticationRefused(exc) from None
        return self._acting_as(principal)

    def _acting_as(self, principal: Principal) -> Principal:
        self.scope[SCOPE_KEY] = principal
        _current.set(principal)  # the worker call runs in a copy of the request's context
        return principal


class AuthenticationMiddleware:
    """`defer(scope, headers)`: whether the app behind takes a PendingAuthentication (in
    scope[PENDING_KEY]) for this request instead of a Principal."""

    def __init__(self, app, get_authenticator: Callable[[dict], Authenticator] = _default_authenticator,
                 public_paths: frozenset[str] = PUBLIC_PATHS,
                 defer: Callable[[dict, dict[str, str]], bool] | None = None):
        self.app = app
        self.get_authenticator = get_authenticator
        self.public_paths = public_paths
        self.defer = defer

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        client = scope.get("client")
        client_addr = client[0] if client else ""
        authenticator = self.get_authenticator(scope)
        refreshed = None
        session_cookie = None if headers.get("authorization") else _cookie(headers.get("cookie", ""), COOKIE_NAME)
        if not session_cookie and self.defer is not None and self.defer(scope, headers):
            scope[PENDING_KEY] = PendingAuthentication(authenticator, headers, client_addr, scope)
            await self.app(scope, receive, send)
            return
        try:
            if session_cookie:
                principal, refreshed = await in_worker(authenticator.session_principal, session_cookie)
                if scope["method"] not in SAFE_METHODS:
                    receive = await _require_csrf_token(scope, receive, headers, authenticator, session_cookie)
            else:
                principal = await in_worker(authenticator.authenticate, headers, client_addr)
        except MedflowError as exc:
            _audit_refusal(scope, headers, client_addr, exc)
            await refusal_response(exc)(scope, receive, send)
            return
        scope[SCOPE_KEY] = principal
        token = _current.set(principal)
        try:
            await self.app(scope, receive, _with_cookie(send, refreshed, cookie_secure(scope)) if refreshed else send)
        finally:
            _current.reset(token)


# --- CSRF -------------------------------------------------------------------------------------

def csrf_token(signer: Signer, session: Session) -> str:
    """The session's CSRF token: bound to its account and start, so it survives idle-clock refreshes
    and dies with the session; unforgeable without the session key (unlike a bare double-submit)."""
    return signer.dumps({"a": session.account_id, "s": session.started}, "csrf")


def csrf_token_matches(signer: Signer, session: Session, token: str | None) -> bool:
    if not token or not token.isascii():  # what csrf_token makes is ASCII; the Signer compares ASCII only
        return False
    return signer.loads(token, "csrf") == {"a": session.account_id, "s": session.started}


def csrf_cookie_header(token: str, *, secure: bool) -> str:
    """Readable by the page's own scripts (they echo it in X-CSRF-Token), never sent cross-site."""
    return f"{CSRF_COOKIE}={token}; Path=/; SameSite=Strict" + ("; Secure" if secure else "")


def clear_csrf_cookie_header(*, secure: bool) -> str:
    return f"{CSRF_COOKIE}=; Path=/; Max-Age=0; SameSite=Strict" + ("; Secure" if secure else "")


async def _require_csrf_token(scope, receive, headers: dict[str, str], authenticator: Authenticator,
                              session_cookie: str):
    """The `receive` to pass on (a url-encoded body read here is replayed); PERMISSION_DENIED without a token."""
    token = headers.get(CSRF_HEADER)
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if not token and content_type == "application/x-www-form-urlencoded":
        body, receive = await _buffered_body(receive, MAX_CSRF_FORM_BYTES)
        if body is not None:
            token = (parse_qs(body.decode("latin-1")).get(CSRF_FIELD) or [None])[0]
    session = authenticator.sessions.read(session_cookie, now_ms())
    if session is None or not csrf_token_matches(authenticator.sessions.signer, session, token):
        log.warning("refused a session-cookie %s %s without a valid CSRF token", scope["method"], scope["path"])
        raise MedflowError(PERMISSION_DENIED, CSRF_REFUSED)
    return receive


async def _buffered_body(receive, limit: int):
    """(body or None when over `limit`, a receive that replays what was read)."""
    messages, size = [], 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if size > limit or not message.get("more_body"):
            break
    complete = messages[-1].get("type") == "http.request" and not messages[-1].get("more_body") and size <= limit
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request") if complete else None

    async def replay():
        return messages.pop(0) if messages else await receive()
    return body, replay


# --- cookies ----------------------------------------------------------------------------------

def cookie_secure(scope) -> bool:
    """Whether cookies get the Secure flag: always, except over plain HTTP to a loopback host
    (a laptop or a test), where a browser would otherwise drop them. Behind a TLS-terminating
    proxy the browser talks HTTPS, so Secure is right whatever the proxy-to-MedFlow hop is
    (X-Forwarded-Proto is believed from anyone here: it can only add the flag)."""
    headers = dict(scope.get("headers", []))
    if scope.get("scheme") in ("https", "wss") or headers.get(b"x-forwarded-proto", b"").lower() == b"https":
        return True
    host = headers.get(b"host", b"").decode("latin-1")
    try:
        hostname = urlsplit("//" + host).hostname or ""
        return hostname != "localhost" and not ipaddress.ip_address(hostname).is_loopback
    except ValueError:  # a malformed Host, or a name: not loopback
        return True


def _with_cookie(send, cookie: str, secure: bool):
    async def wrapped(message):
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            headers.append((b"set-cookie", SessionCookies.set_cookie_header(cookie, secure=secure).encode("latin-1")))
            message = {**message, "headers": headers}
        await send(message)
    return wrapped


def _audit_refusal(scope, headers: dict[str, str], client_addr: str, exc: MedflowError) -> None:
    """A request refused before any endpoint ran is audited too (HIPAA: failed access attempts)."""
    trail = getattr(getattr(scope["app"].state, "services", None), "audit_trail", None)
    if trail is None:
        return
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    audit = RequestAudit(action=f"{scope['method']} {scope['path']}"[:80], client_addr=client_addr,
                         auth_method=(scheme.lower() or "none")[:20])
    if scheme.lower() == "basic":
        try:
            audit.details["claimed_user"] = base64.b64decode(credentials).decode().partition(":")[0][:256]
        except (ValueError, UnicodeDecodeError):
            pass
    trail.finish(audit, outcome="denied", error_code=exc.code)


def refusal_response(exc: MedflowError) -> Response:
    """MLflow's error body; a 401 also gets the Basic challenge (clients and browsers then ask)."""
    headers = {"www-authenticate": 'Basic realm="MedFlow", charset="UTF-8"'} if exc.http_status == 401 else None
    return Response(json.dumps(exc.to_json(), separators=(",", ":")).encode(), exc.http_status, headers,
                    media_type="application/json")

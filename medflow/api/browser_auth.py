"""Browser sign-on: /auth/login (password form or OIDC), /auth/callback (OIDC), /auth/logout.

These routes only turn credentials into the signed session cookie (medflow/auth/sessions.py);
every later request is authenticated by AuthenticationMiddleware, which also enforces the
CSRF token on state-changing cookie requests. They are public (PUBLIC_PATHS) and check what
they receive themselves:

- the password form is protected against login CSRF by a signed, short-lived token in an
  HttpOnly cookie that the form must echo; the password goes through the Authenticator, so
  failures count toward lockout exactly as with Basic;
- OIDC uses OidcClient (code + PKCE + state + nonce); its login state travels in a signed
  cookie scoped to /auth;
- after sign-on the browser goes back only to a same-site relative path (no open redirect).

Sessions are stateless (a signed cookie, nothing stored server-side): logout clears the
browser's cookies; a copied cookie stays valid until its idle timeout, its maximum age, or
any change to the account (password, lock, roles, deactivation).
"""
from __future__ import annotations

import base64
import dataclasses
import functools
import logging
import secrets
import threading
import uuid
from urllib.parse import parse_qs, quote, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from medflow.api import sign_on_pages as pages
from medflow.audit.context import RequestAudit
from medflow.auth.authenticate import BAD_PASSWORD
from medflow.auth.middleware import (CSRF_FIELD, CSRF_HEADER, clear_csrf_cookie_header,
                                     cookie_secure, csrf_cookie_header, csrf_token, csrf_token_matches)
from medflow.auth.oidc import OidcClient
from medflow.auth.principal import Principal
from medflow.auth.sessions import COOKIE_NAME, SessionCookies
from medflow.errors import UNAUTHENTICATED, MedflowError
from medflow.services.clock import now_ms

log = logging.getLogger("medflow.auth")

LOGIN_PATH, CALLBACK_PATH, LOGOUT_PATH = "/auth/login", "/auth/callback", "/auth/logout"
LANDING_PATH = "/api/medflow/v1/users/whoami"  # until the web UI has a home page
LOGIN_CSRF_COOKIE = "medflow_login_csrf"
OIDC_STATE_COOKIE = "medflow_oidc"
NEXT_COOKIE = "medflow_login_next"
LOGIN_FORM_MAX_AGE_MS = 3_600_000  # a sign-in page left open longer must be reloaded
MAX_FORM_BYTES = 16 * 1024
MAX_NEXT_LENGTH = 2000


# --- redirect targets ---------------------------------------------------------------------------

def safe_next(value: str | None) -> str | None:
    """`value` when it is a path on this site, else None: no scheme, no host, no `//` or `\\`
    (browsers read `/\\evil.example` as another host), no whitespace or control characters
    (browsers drop tabs and newlines, turning `/\\t/evil.example` into `//evil.example`)."""
    if not value or len(value) > MAX_NEXT_LENGTH or not value.startswith("/") or value.startswith("//"):
        return None
    if "\\" in value or any(not 0x21 <= ord(c) <= 0x7E for c in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith("/auth/"):
        return None
    return value


# --- shared helpers ---------------------------------------------------------------------------------

def _message(title: str, message: str, status: int, link: str = LOGIN_PATH,
             link_text: str = "Sign in again") -> Response:
    return pages.message_page(title, message, status, link=link, link_text=link_text)


def _services(request: Request):
    return request.app.state.services


def _authenticator(request: Request):
    return _services(request).auth.authenticator


def _client_addr(request: Request) -> str:
    return request.client.host if request.client else ""


_oidc_lock = threading.Lock()


def _oidc_client(request: Request) -> OidcClient | None:
    """The process's OidcClient (it caches the provider's metadata and keys), or None without SSO."""
    services = _services(request)
    if not services.settings.oidc_issuer:
        return None
    with _oidc_lock:
        client = getattr(request.app.state, "oidc_client", None)
        if client is None:
            client = OidcClient(services.auth.config, services.auth.authenticator.sessions.signer)
            request.app.state.oidc_client = client
        return client


def _audit(request: Request, action: str, principal: Principal | None, outcome: str,
           error_code: str | None = None, **details) -> None:
    """Sign-ons and sign-offs belong in the audit trail (HIPAA §164.308(a)(5)(ii)(C) log-in monitoring)."""
    trail = _services(request).audit_trail
    if trail is None:
        return
    audit = RequestAudit(action=action, resource_type="session", client_addr=_client_addr(request),
                         details={k: v for k, v in details.items() if v is not None})
    if principal is not None:
        audit.actor, audit.actor_id, audit.auth_method = principal.username, principal.account_id, principal.auth_method
        audit.resource_type, audit.resource_id = "account", principal.username
    trail.finish(audit, outcome=outcome, error_code=error_code)


async def _form(request: Request) -> dict[str, str]:
    """A small url-encoded form (first value per field); {} when it is not one (the caller then
    finds its fields missing and answers with the form again)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return {}
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return {}
    return {k: v[0] for k, v in fields.items()}


def _cookie(request: Request, name: str) -> str | None:
    """A cookie's value; None unless ASCII (every value MedFlow sets is, and Signer needs it)."""
    value = request.cookies.get(name)
    return value if value and value.isascii() else None


def _set_cookie(response: Response, value: str) -> None:
    response.headers.append("set-cookie", value)


def _signed_in_response(request: Request, principal: Principal, method: str, target: str,
                        external_groups: frozenset[str]) -> Response:
    """303 to `target` with the session and CSRF cookies of a browser that just signed on."""
    authenticator = _authenticator(request)
    # start_session stores principal.groups as the session's identity-provider groups; pass only
    # the provider's own groups (none for a password), so local memberships are re-read on every
    # request and provider groups that only map to a role survive the first request.
    cookie = authenticator.start_session(principal, method, external_groups)
    session = authenticator.sessions.read(cookie, now_ms())
    secure = cookie_secure(request.scope)
    response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
    _set_cookie(response, SessionCookies.set_cookie_header(cookie, secure=secure))
    _set_cookie(response, csrf_cookie_header(csrf_token(authenticator.sessions.signer, session), secure=secure))
    return response


def _clear(response: Response, name: str, path: str, secure: bool) -> None:
    _set_cookie(response, f"{name}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Lax" + ("; Secure" if secure else ""))


def _error_boundary(handler):
    """Like Endpoint's: an unexpected error is logged under a request id, never shown."""
    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except Exception:  # noqa: BLE001 - the single error boundary of these routes
            request_id = uuid.uuid4().hex
            log.exception("internal error in %s %s (request id %s)", request.method, request.url.path, request_id)
            return _message("Sign-on failed", f"Internal error; the server log has details under request id "
                            f"{request_id}.", 500, link_text="Try again")
    return guarded


# --- GET /auth/login ----------------------------------------------------------------------------------

async def login_page(request: Request) -> Response:
    """The password form, or (with OIDC configured) a redirect to the identity provider.
    `?local=1` shows the form even with OIDC: local accounts (the first admin) when the provider is down."""
    target = safe_next(request.query_params.get("next")) or ""
    try:
        oidc = await run_in_threadpool(_oidc_client, request)
        if oidc is not None and request.query_params.get("local") != "1":
            return await run_in_threadpool(_begin_oidc, request, oidc, target)
    except MedflowError as exc:
        return _message("Single sign-on is unavailable", exc.message, 503,
                        link=f"{LOGIN_PATH}?local=1", link_text="Sign in with a MedFlow password instead")
    return await run_in_threadpool(_password_form, request, target, "", "", 200)


def _begin_oidc(request: Request, oidc: OidcClient, target: str) -> Response:
    url, state_cookie = oidc.begin(now_ms())
    secure = cookie_secure(request.scope)
    response = RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
    # Lax: the provider's redirect back is a top-level GET navigation, which Lax cookies follow.
    flags = "; Path=/auth; Max-Age=600; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")
    _set_cookie(response, f"{OIDC_STATE_COOKIE}={state_cookie}{flags}")
    if target:
        signer = _authenticator(request).sessions.signer
        _set_cookie(response, f"{NEXT_COOKIE}={signer.dumps({'next': target}, 'login-next')}{flags}")
    return response


def _password_form(request: Request, target: str, username: str, alert: str, status: int) -> Response:
    authenticator = _authenticator(request)
    token = authenticator.sessions.signer.dumps({"n": secrets.token_urlsafe(16), "t": now_ms()}, "login-csrf")
    signed_in_as = None
    cookie = _cookie(request, COOKIE_NAME)
    if cookie:
        try:
            principal, _ = authenticator.session_principal(cookie)
            signed_in_as = (principal.display_name, principal.username)
        except MedflowError:
            pass  # an ended session: just show the form
    sso_href = None
    if _services(request).settings.oidc_issuer:
        sso_href = LOGIN_PATH + (f"?next={quote(target, safe='/')}" if target else "")
    response = pages.login_form_page(action=LOGIN_PATH, csrf=token, next_path=target, username=username,
                                     alert=alert, status=status, signed_in_as=signed_in_as, sso_href=sso_href)
    _set_cookie(response, f"{LOGIN_CSRF_COOKIE}={token}; Path={LOGIN_PATH}; HttpOnly; SameSite=Strict"
                + ("; Secure" if cookie_secure(request.scope) else ""))
    return response


# --- POST /auth/login ---------------------------------------------------------------------------------

async def login_submit(request: Request) -> Response:
    form = await _form(request)
    return await run_in_threadpool(_login, request, form)


def _login(request: Request, form: dict[str, str]) -> Response:
    target = safe_next(form.get("next")) or ""
    username, password = form.get("username", "").strip(), form.get("password", "")
    if not _login_csrf_ok(request, form.get(CSRF_FIELD)):
        return _password_form(request, target, username, "This sign-in form has expired or did not come from "
                              "MedFlow's own page. Enter your user name and password again.", 403)
    if not username or not password:
        return _password_form(request, target, username, "Enter your user name and password.", 400)
    if len(username) > 256 or len(password) > 1024 or ":" in username:
        return _password_form(request, target, username, "Invalid user name or password.", 401)
    basic = base64.b64encode(f"{username}:{password}".encode()).decode()
    try:
        # The same check as Basic: lockout, failed-attempt record, expiry and the credential cache.
        principal = _authenticator(request).authenticate({"authorization": "Basic " + basic}, _client_addr(request))
        if principal.token_id is not None:
            raise MedflowError(UNAUTHENTICATED, "An API token cannot open a browser session: sign in with "
                                                "your password.")
    except MedflowError as exc:
        _audit(request, "POST auth/login", None, "denied", exc.code, method="session")
        message = exc.message
        if message == BAD_PASSWORD:
            message = "Invalid user name or password. Repeated failures lock the account."
        return _password_form(request, target, username, message, 401)
    principal = dataclasses.replace(principal, auth_method="session")
    _audit(request, "POST auth/login", principal, "success", method="session")
    response = _signed_in_response(request, principal, "session", target or LANDING_PATH, frozenset())
    _clear(response, LOGIN_CSRF_COOKIE, LOGIN_PATH, cookie_secure(request.scope))
    return response


def _login_csrf_ok(request: Request, token: str | None) -> bool:
    """The form echoes the token its page set in an HttpOnly cookie, and the token is ours and recent."""
    cookie = _cookie(request, LOGIN_CSRF_COOKIE)
    if not token or not cookie or not secrets.compare_digest(token.encode(), cookie.encode()):
        return False
    value = _authenticator(request).sessions.signer.loads(token, "login-csrf")
    return value is not None and 0 <= now_ms() - int(value.get("t", 0)) <= LOGIN_FORM_MAX_AGE_MS


# --- GET /auth/callback -------------------------------------------------------------------------------

async def oidc_callback(request: Request) -> Response:
    return await run_in_threadpool(_callback, request)


def _callback(request: Request) -> Response:
    secure = cookie_secure(request.scope)
    authenticator = _authenticator(request)
    try:
        oidc = _oidc_client(request)
        if oidc is None:
            raise MedflowError(UNAUTHENTICATED, "Single sign-on is not configured on this server "
                                                "(MEDFLOW_OIDC_ISSUER): sign in with your MedFlow password.")
        params = dict(request.query_params)
        if not all(v.isascii() for v in params.values()):  # codes and states are ASCII; OidcClient compares ASCII
            raise MedflowError(UNAUTHENTICATED, "Single sign-on failed: the identity provider's answer is "
                                                "malformed. Start the sign-on again.")
        identity = oidc.complete(params, _cookie(request, OIDC_STATE_COOKIE), now_ms())
        principal = authenticator.external_principal(
            identity.username, identity.groups, method="oidc", client_addr=_client_addr(request),
            display_name=identity.display_name, subject=identity.subject)
    except MedflowError as exc:
        _audit(request, "GET auth/callback", None, "denied", exc.code, method="oidc")
        response = _message("Single sign-on failed", exc.message, 401)
        _clear(response, OIDC_STATE_COOKIE, "/auth", secure)
        return response
    _audit(request, "GET auth/callback", principal, "success", method="oidc")
    # Keep only the provider groups that matter (MedFlow groups, role mappings): the cookie stays small.
    relevant = identity.groups & (principal.groups | set(authenticator.config.external_role_groups))
    next_value = authenticator.sessions.signer.loads(_cookie(request, NEXT_COOKIE), "login-next") or {}
    target = safe_next(str(next_value.get("next", ""))) or LANDING_PATH
    response = _signed_in_response(request, principal, "oidc", target, frozenset(relevant))
    _clear(response, OIDC_STATE_COOKIE, "/auth", secure)  # single use
    _clear(response, NEXT_COOKIE, "/auth", secure)
    return response


# --- POST /auth/logout --------------------------------------------------------------------------------

async def logout(request: Request) -> Response:
    form = {} if request.headers.get(CSRF_HEADER) else await _form(request)
    return await run_in_threadpool(_logout, request, request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD))


def _logout(request: Request, token: str | None) -> Response:
    authenticator = _authenticator(request)
    cookie = _cookie(request, COOKIE_NAME)
    session = authenticator.sessions.read(cookie, now_ms()) if cookie else None
    principal = None
    if session is not None:  # a live session: only its own pages may end it
        if not csrf_token_matches(authenticator.sessions.signer, session, token):
            return _message("Sign-out refused", "This sign-out did not come from a MedFlow page (no valid "
                            "CSRF token). Use the sign-out button in MedFlow.", 403, link=LANDING_PATH,
                            link_text="Back to MedFlow")
        try:
            principal = authenticator.session_principal(cookie)[0]
        except MedflowError:
            pass  # the account changed meanwhile: the session is over anyway
    _audit(request, "POST auth/logout", principal, "success")
    secure = cookie_secure(request.scope)
    response = _message(
        "Signed out", "You have signed out of MedFlow. If you signed in through your organisation's single "
        "sign-on, sign out there too on a shared workstation.", 200)
    _set_cookie(response, SessionCookies.clear_cookie_header(secure=secure))
    _set_cookie(response, clear_csrf_cookie_header(secure=secure))
    response.headers["Clear-Site-Data"] = '"cookies"'
    return response


ROUTES = [
    Route(LOGIN_PATH, _error_boundary(login_page), methods=["GET"]),
    Route(LOGIN_PATH, _error_boundary(login_submit), methods=["POST"]),
    Route(CALLBACK_PATH, _error_boundary(oidc_callback), methods=["GET"]),
    Route(LOGOUT_PATH, _error_boundary(logout), methods=["POST"]),
]
# (method, path) of every route above, for route-coverage tests: all public, each checks itself.
BROWSER_AUTH_ROUTES = tuple((method, route.path) for route in ROUTES for method in sorted(route.methods - {"HEAD"}))

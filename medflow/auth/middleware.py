"""ASGI middleware: authenticate every request before any endpoint runs.

Installed around the whole app, it answers 401 UNAUTHENTICATED (MLflow's error body, plus a
WWW-Authenticate challenge) for any request without valid credentials, except the few
PUBLIC_PATHS. On success the Principal is put in the ASGI scope (`scope["medflow.principal"]`,
i.e. `request.scope[...]`) and in a context variable (`current_principal()`) that follows the
request into the endpoint's worker thread.
"""
from __future__ import annotations

import contextvars
import json
import logging
from typing import Callable

from starlette.concurrency import run_in_threadpool

from medflow.auth.authenticate import Authenticator, _cookie
from medflow.auth.principal import Principal
from medflow.auth.sessions import COOKIE_NAME, SessionCookies
from medflow.errors import UNAUTHENTICATED, MedflowError

log = logging.getLogger("medflow.auth")

SCOPE_KEY = "medflow.principal"
# Reachable without credentials: liveness probes, first-admin bootstrap (needs its secret),
# and changing one's own password (proves the current one; works when it has expired).
PUBLIC_PATHS = frozenset({"/health", "/version"} | {
    f"{prefix}/medflow/v1/{path}"
    for prefix in ("/api", "/ajax-api") for path in ("bootstrap", "users/change-password")})

_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("medflow_principal", default=None)


def current_principal() -> Principal:
    principal = _current.get()
    if principal is None:
        raise MedflowError(UNAUTHENTICATED, "No authenticated user for this request.")
    return principal


def set_current_principal(principal: Principal | None):
    """For code that runs outside a request (CLI, jobs); returns the token to reset with."""
    return _current.set(principal)


def _default_authenticator(scope) -> Authenticator:
    return scope["app"].state.services.auth.authenticator


class AuthenticationMiddleware:
    def __init__(self, app, get_authenticator: Callable[[dict], Authenticator] = _default_authenticator,
                 public_paths: frozenset[str] = PUBLIC_PATHS):
        self.app = app
        self.get_authenticator = get_authenticator
        self.public_paths = public_paths

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        client = scope.get("client")
        client_addr = client[0] if client else ""
        authenticator = self.get_authenticator(scope)
        refreshed = None
        try:
            if not headers.get("authorization") and _cookie(headers.get("cookie", ""), COOKIE_NAME):
                principal, refreshed = await run_in_threadpool(
                    authenticator.session_principal, _cookie(headers["cookie"], COOKIE_NAME))
            else:
                principal = await run_in_threadpool(authenticator.authenticate, headers, client_addr)
        except MedflowError as exc:
            await _send_error(send, exc)
            return
        scope[SCOPE_KEY] = principal
        token = _current.set(principal)
        try:
            await self.app(scope, receive, _with_cookie(send, refreshed) if refreshed else send)
        finally:
            _current.reset(token)


def _with_cookie(send, cookie: str):
    async def wrapped(message):
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            headers.append((b"set-cookie", SessionCookies.set_cookie_header(cookie).encode("latin-1")))
            message = {**message, "headers": headers}
        await send(message)
    return wrapped


async def _send_error(send, exc: MedflowError) -> None:
    body = json.dumps(exc.to_json(), separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if exc.http_status == 401:
        headers.append((b"www-authenticate", b'Basic realm="MedFlow", charset="UTF-8"'))
    await send({"type": "http.response.start", "status": exc.http_status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

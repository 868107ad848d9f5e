"""The outermost ASGI app: API calls on fixed paths are looked up in a dict and served directly.

Starlette finds a route by trying each of several hundred path patterns in turn and passes
every request through two exception middlewares and a request/response adapter; for a small
call (one log-metric) that was a tenth of the event loop's work. Most MLflow calls use fixed
paths (`/api/2.0/mlflow/runs/log-metric`), so those are found by (method, path) and their
handler runs behind the same authentication middleware as every other request. Anything else
(paths with parameters, HEAD, 404s, the sign-on pages) goes through Starlette unchanged.
Endpoint handlers catch every exception themselves (medflow/api/endpoint.py), so skipping
Starlette's exception middlewares changes no response.

A fixed-path API call with a small body checks its credentials in the same worker call as the
rest of its work (PendingAuthentication): each hop to a worker thread and back costs about as
much as a database round trip.
"""
from __future__ import annotations

from typing import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from medflow.auth.middleware import AuthenticationMiddleware

Handler = Callable[[Request], Awaitable[Response]]
_HANDLER = "medflow.handler"
# A body read before its credentials are checked: at most this much (uvicorn buffers as much anyway).
DEFERRED_AUTHENTICATION_MAX_BODY = 64 * 1024


class ExactPathDispatch:
    def __init__(self, app: Starlette, handlers: dict[tuple[str, str], Handler], *, authenticate: bool):
        self.app = app
        self.handlers = handlers
        self.serve = (AuthenticationMiddleware(self._serve, defer=_defers_authentication) if authenticate
                      else self._serve)

    async def __call__(self, scope, receive, send) -> None:
        handler = self.handlers.get((scope.get("method"), scope.get("path"))) if scope["type"] == "http" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        scope["app"] = self.app  # as Starlette sets it: handlers find the services on app.state
        scope[_HANDLER] = handler
        await self.serve(scope, receive, send)

    @staticmethod
    async def _serve(scope, receive, send) -> None:
        response = await scope[_HANDLER](Request(scope, receive))
        await response(scope, receive, send)


def _defers_authentication(scope, headers: dict[str, str]) -> bool:
    """Whether this call's handler can check its credentials itself: one that parses its request
    (not a streaming one), with a body whose declared size is small (never a chunked one)."""
    if not getattr(scope[_HANDLER], "defers_authentication", False) or "transfer-encoding" in headers:
        return False
    length = headers.get("content-length", "0")
    limit = min(DEFERRED_AUTHENTICATION_MAX_BODY, scope["app"].state.services.settings.max_request_bytes)
    return length.isdigit() and int(length) <= limit

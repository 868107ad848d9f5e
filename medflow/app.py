"""create_app(settings): the whole wiring of the MedFlow server on one screen."""
from __future__ import annotations

import contextlib
import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.middleware import Middleware
from starlette.routing import Route

from medflow.auth.middleware import AuthenticationMiddleware

from medflow.api import browser_auth
from medflow.api.endpoint import json_response
from medflow.api.mlflow.routes import API_PREFIXES, MEDFLOW_ROUTES, ROUTES, TOP_LEVEL_ROUTES
from medflow.config import Settings
from medflow.services import Services
from medflow.store import migrations

log = logging.getLogger("medflow")


def _starlette_routes() -> list[Route]:
    routes = [Route(e.path, e.asgi_handler(), methods=[e.method]) for e in TOP_LEVEL_ROUTES]
    routes += browser_auth.ROUTES  # /auth/login, /auth/callback, /auth/logout: browser sign-on
    for prefix in API_PREFIXES:
        routes += [Route(prefix + e.path, e.asgi_handler(), methods=[e.method]) for e in ROUTES]
    routes += [Route("/api" + e.path, e.asgi_handler(), methods=[e.method]) for e in MEDFLOW_ROUTES]
    return routes


async def _not_found(request: Request, exc: HTTPException):
    # No error_code: like MLflow, an unknown path is not an API error of a known endpoint.
    if exc.status_code == 405:
        return json_response({"message": f"Method {request.method} is not allowed on {request.url.path}."}, 405)
    return json_response({"message": f"No endpoint {request.method} {request.url.path}. "
                                     "See docs/compatibility.md for what MedFlow serves."},
                         exc.status_code)


def create_app(settings: Settings, services: Services | None = None) -> Starlette:
    """The ASGI app. Opens the database (creating a fresh one) and the artifact store at start-up."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        nonlocal services
        if services is None:
            services = Services.from_settings(settings)
            migrations.prepare_for_serving(services.db)
        app.state.services = services
        services.start()
        if not settings.auth_enabled:
            log.warning("authentication is OFF (MEDFLOW_AUTH_ENABLED=false): every request is anonymous")
        if services.audit_trail is None:
            log.warning("the audit trail is OFF (MEDFLOW_AUDIT_ENABLED=false): for benchmarks only")
        try:
            yield
        finally:
            services.close()

    middleware = [Middleware(AuthenticationMiddleware)] if settings.auth_enabled else []
    return Starlette(routes=_starlette_routes(), lifespan=lifespan, middleware=middleware,
                     exception_handlers={404: _not_found, 405: _not_found})

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
from medflow.api.dispatch import ExactPathDispatch
from medflow.api.endpoint import Endpoint, json_response
from medflow.api.mlflow.routes import API_PREFIXES, MEDFLOW_ROUTES, ROUTES, TOP_LEVEL_ROUTES
from medflow.config import Settings
from medflow.services import Services
from medflow.store import migrations

log = logging.getLogger("medflow")


def _endpoints() -> list[tuple[str, Endpoint]]:
    """(full path, endpoint) of every API route."""
    served = [(e.path, e) for e in TOP_LEVEL_ROUTES]
    for prefix in API_PREFIXES:
        served += [(prefix + e.path, e) for e in ROUTES]
    return served + [("/api" + e.path, e) for e in MEDFLOW_ROUTES]


def _routes_and_fixed_paths() -> tuple[list[Route], dict]:
    """Starlette's routes, and the handlers of fixed paths by (method, path) for ExactPathDispatch."""
    routes, fixed = [], {}
    for path, endpoint in _endpoints():
        handler = endpoint.asgi_handler()
        routes.append(Route(path, handler, methods=[endpoint.method]))
        if "{" not in path:
            fixed[(endpoint.method, path)] = handler
    routes += browser_auth.ROUTES  # /auth/login, /auth/callback, /auth/logout: browser sign-on
    return routes, fixed


async def _not_found(request: Request, exc: HTTPException):
    # No error_code: like MLflow, an unknown path is not an API error of a known endpoint.
    if exc.status_code == 405:
        return json_response({"message": f"Method {request.method} is not allowed on {request.url.path}."}, 405)
    return json_response({"message": f"No endpoint {request.method} {request.url.path}. "
                                     "See docs/compatibility.md for what MedFlow serves."},
                         exc.status_code)


def create_app(settings: Settings, services: Services | None = None) -> ExactPathDispatch:
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
    routes, fixed_paths = _routes_and_fixed_paths()
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware,
                    exception_handlers={404: _not_found, 405: _not_found})
    return ExactPathDispatch(app, fixed_paths, authenticate=settings.auth_enabled)

"""How a v1 endpoint learns who acts, and the admin check each admin endpoint makes itself.

v1 endpoint functions are `fn(services, req, principal)`; `acting()` adapts them to the
Endpoint signature by taking the principal the authentication middleware put in the
request context.
"""
from __future__ import annotations

import functools

from medflow.auth.config import AuthConfig
from medflow.auth.middleware import current_principal
from medflow.auth.permissions import authorize
from medflow.auth.principal import Principal
from medflow.auth.service import AuthServices

PREFIX = "/medflow/v1"  # served under /api (and /ajax-api for the UI)


def acting(fn):
    @functools.wraps(fn)
    def endpoint(services, req):
        return fn(services, req, current_principal())
    return endpoint


def auth_of(services) -> AuthServices:
    """The AuthServices of this process (Services.auth once the lead wires it; built on first use until then)."""
    auth = getattr(services, "auth", None)
    if auth is None:
        auth = AuthServices(services.db, AuthConfig.from_settings(services.settings))
        services.auth = auth
    return auth


def require(principal: Principal, action: str) -> None:
    """Global actions: 'account-admin' (admins), 'audit-read' (auditors, admins), 'own-account' (anyone)."""
    authorize(principal, action)


def require_admin(principal: Principal) -> None:
    authorize(principal, "account-admin")

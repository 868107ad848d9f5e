"""users/* and bootstrap: accounts, roles, lockout, passwords, the first admin."""
from medflow.api.endpoint import Endpoint
from medflow.api.v1.acting import PREFIX, acting, auth_of, require, require_admin
from medflow.auth.bootstrap import redeem_bootstrap_secret
from medflow.errors import MedflowError

P = f"{PREFIX}/users"


def _username(req) -> str:
    return req.str("username", required=True)


def create_user(services, req, principal):
    """POST /users/create {username, password?, display_name?, roles?, kind?, default_workspace?,
    break_glass_allowed?}"""
    require_admin(principal)
    user = auth_of(services).accounts.create_user(
        req.str("username", required=True), req.str("password"), actor=principal.username,
        display_name=req.str("display_name", default=""), roles=req.str_list("roles"),
        kind=req.str("kind", default="person"), default_workspace=req.str("default_workspace"),
        break_glass_allowed=req.bool("break_glass_allowed"))
    return {"user": user}


def list_users(services, req, principal):
    """GET /users/list?include_deactivated=true"""
    require_admin(principal)
    users = auth_of(services).accounts.list_users(include_deactivated=req.bool("include_deactivated", default=True))
    return {"users": users} if users else {}


def get_user(services, req, principal):
    """GET /users/get?username= — admins any account, everyone else only their own."""
    username = _username(req)
    if username != principal.username:
        require_admin(principal)
    return {"user": auth_of(services).accounts.get_user(username)}


def whoami(services, req, principal):
    """GET /users/whoami — the principal this request acts as."""
    out = {"username": principal.username, "display_name": principal.display_name,
           "auth_method": principal.auth_method, "default_workspace": principal.default_workspace,
           "break_glass": principal.break_glass}
    for field in ("roles", "groups", "workspaces"):
        if getattr(principal, field):
            out[field] = sorted(getattr(principal, field))
    if principal.account_id is not None:
        out["id"] = str(principal.account_id)
    return out


def update_user(services, req, principal):
    """POST /users/update {username, display_name?, default_workspace?, break_glass_allowed?}"""
    require_admin(principal)
    allowed = req.bool("break_glass_allowed") if req.has("break_glass_allowed") else None
    user = auth_of(services).accounts.update_profile(
        _username(req), display_name=req.str("display_name"), default_workspace=req.str("default_workspace"),
        break_glass_allowed=allowed)
    return {"user": user}


def set_roles(services, req, principal):
    """POST /users/set-roles {username, roles: [...]}"""
    require_admin(principal)
    return {"user": auth_of(services).accounts.set_roles(_username(req), req.str_list("roles"))}


def lock_user(services, req, principal):
    """POST /users/lock {username, reason?}"""
    require_admin(principal)
    auth_of(services).accounts.lock(_username(req), req.str("reason", default="locked by an admin"))
    return {}


def unlock_user(services, req, principal):
    """POST /users/unlock {username}"""
    require_admin(principal)
    auth_of(services).accounts.unlock(_username(req))
    return {}


def reset_password(services, req, principal):
    """POST /users/reset-password {username, password}"""
    require_admin(principal)
    auth_of(services).accounts.reset_password(_username(req), req.str("password", required=True))
    return {}


def deactivate_user(services, req, principal):
    """POST /users/deactivate {username} — never a hard delete: the identity stays unique."""
    require_admin(principal)
    auth_of(services).accounts.deactivate(_username(req))
    return {}


def reactivate_user(services, req, principal):
    """POST /users/reactivate {username}"""
    require_admin(principal)
    auth_of(services).accounts.reactivate(_username(req))
    return {}


def login_failures(services, req, principal):
    """GET /users/login-failures?since=&username=&max_results= — for admins and auditors."""
    require(principal, "audit-read")
    failures = auth_of(services).accounts.login_failures(
        since=req.int64("since", default=0), username=req.str("username"),
        limit=req.int64("max_results", default=100))
    return {"failures": failures} if failures else {}


def change_own_password(services, req):
    """POST /users/change-password {username, current_password, new_password} — public: proves the password."""
    auth_of(services).accounts.change_own_password(req.str("username", required=True),
                                                   req.str("current_password", required=True),
                                                   req.str("new_password", required=True), req.client_addr)
    return {}


def bootstrap(services, req):
    """POST /bootstrap {secret, username, password, display_name?} — public: the one-time secret is the credential."""
    if not req.has("secret"):
        raise MedflowError.missing("secret")
    user = redeem_bootstrap_secret(auth_of(services).accounts, req.str("secret"), req.str("username", required=True),
                                   req.str("password", required=True), req.str("display_name", default=""))
    return {"user": user}


ROUTES = [
    Endpoint("POST", f"{P}/create", acting(create_user)),
    Endpoint("GET", f"{P}/list", acting(list_users)),
    Endpoint("GET", f"{P}/get", acting(get_user)),
    Endpoint("GET", f"{P}/whoami", acting(whoami)),
    Endpoint("POST", f"{P}/update", acting(update_user)),
    Endpoint("POST", f"{P}/set-roles", acting(set_roles)),
    Endpoint("POST", f"{P}/lock", acting(lock_user)),
    Endpoint("POST", f"{P}/unlock", acting(unlock_user)),
    Endpoint("POST", f"{P}/reset-password", acting(reset_password)),
    Endpoint("POST", f"{P}/deactivate", acting(deactivate_user)),
    Endpoint("POST", f"{P}/reactivate", acting(reactivate_user)),
    Endpoint("GET", f"{P}/login-failures", acting(login_failures)),
    Endpoint("POST", f"{P}/change-password", change_own_password),
    Endpoint("POST", f"{PREFIX}/bootstrap", bootstrap),
]

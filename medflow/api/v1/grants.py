"""grants/* and break-glass/*: per-resource permissions and emergency access."""
from medflow.api.endpoint import Endpoint
from medflow.api.v1.acting import PREFIX, acting, auth_of, require, require_admin
from medflow.errors import MedflowError

G = f"{PREFIX}/grants"
B = f"{PREFIX}/break-glass"


def _resource_type(req) -> str:
    value = req.str("resource_type", required=True)
    if value not in ("experiment", "registered_model"):
        raise MedflowError.invalid(f"Invalid resource_type '{value[:40]}': use experiment or registered_model.")
    return value


def _require_manage(services, req, principal) -> None:
    if not principal.is_admin:
        auth_of(services).grants.require_manage(principal, _resource_type(req), req.str("resource", required=True),
                                                req.str("workspace"))


def grant(services, req, principal):
    """POST /grants/grant {resource_type, resource, workspace?, kind: user|group, member, permission}

    `resource` is an experiment id or a registered model name (in `workspace`, default 'default').
    Admins grant on anything; other users on resources they hold MANAGE on.
    """
    _require_manage(services, req, principal)
    return {"grant": auth_of(services).grants.grant(
        _resource_type(req), req.str("resource", required=True), req.str("kind", default="user"),
        req.str("member", required=True), req.str("permission", required=True), actor=principal.username,
        workspace=req.str("workspace"))}


def revoke(services, req, principal):
    """POST /grants/revoke {resource_type, resource, workspace?, kind, member, permission?} (no permission: all)"""
    _require_manage(services, req, principal)
    auth_of(services).grants.revoke(_resource_type(req), req.str("resource", required=True),
                                    req.str("kind", default="user"), req.str("member", required=True),
                                    req.str("permission"), workspace=req.str("workspace"))
    return {}


def list_grants(services, req, principal):
    """GET /grants/list?resource_type=&resource=&workspace="""
    require_admin(principal)
    resource_type = _resource_type(req) if req.has("resource_type") else None
    if req.has("resource") and resource_type is None:
        raise MedflowError.missing("resource_type")
    grants = auth_of(services).grants.list(resource_type, req.str("resource"), req.str("workspace"))
    return {"grants": grants} if grants else {}


def activate_break_glass(services, req, principal):
    """POST /break-glass/activate {reason, minutes?, username?} — yourself if an admin allowed it; admins anyone."""
    require(principal, "break-glass-activate")
    return {"elevation": auth_of(services).break_glass.activate(
        principal, req.str("username") or principal.username, req.str("reason", required=True),
        req.int64("minutes"))}


def end_break_glass(services, req, principal):
    """POST /break-glass/end {username?}"""
    require(principal, "break-glass-activate")
    username = req.str("username") or principal.username
    if username != principal.username:
        require_admin(principal)
    auth_of(services).break_glass.end(username)
    return {}


def list_break_glass(services, req, principal):
    """GET /break-glass/list?unreviewed_only=true — the review list."""
    require(principal, "break-glass-review")
    elevations = auth_of(services).break_glass.list(unreviewed_only=req.bool("unreviewed_only"))
    return {"elevations": elevations} if elevations else {}


def review_break_glass(services, req, principal):
    """POST /break-glass/review {id, note}"""
    require(principal, "break-glass-review")
    raw = req.str("id", required=True)
    if not raw.isdigit():
        raise MedflowError.invalid(f"Invalid elevation id '{raw[:40]}': use the id shown by break-glass/list.")
    auth_of(services).break_glass.review(principal, int(raw), req.str("note", default=""))
    return {}


ROUTES = [
    Endpoint("POST", f"{G}/grant", acting(grant)),
    Endpoint("POST", f"{G}/revoke", acting(revoke)),
    Endpoint("GET", f"{G}/list", acting(list_grants)),
    Endpoint("POST", f"{B}/activate", acting(activate_break_glass)),
    Endpoint("POST", f"{B}/end", acting(end_break_glass)),
    Endpoint("GET", f"{B}/list", acting(list_break_glass)),
    Endpoint("POST", f"{B}/review", acting(review_break_glass)),
]

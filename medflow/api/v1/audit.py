"""/api/medflow/v1/audit: query the trail, a field's history, verification."""
from medflow.api.endpoint import Endpoint

P = "/medflow/v1/audit"


def search_audit_events(services, req):
    """GET /audit/events — filter by actor, resource, action, outcome and time range; paged by seq."""
    events, token = services.audit.search(
        actor=req.str("actor"), resource_type=req.str("resource_type"), resource_id=req.str("resource_id"),
        action=req.str("action"), outcome=req.str("outcome"), since=req.str("since"), until=req.str("until"),
        max_results=req.int64("max_results", default=100), page_token=req.str("page_token"))
    out = {"events": events}
    if token:
        out["next_page_token"] = token
    return out


def get_field_history(services, req):
    """GET /audit/history — what was this field's value at `at`, and who set it when."""
    return services.audit.field_history(
        resource_type=req.str("resource_type", required=True), resource_id=req.str("resource_id", required=True),
        field=req.str("field", required=True), at=req.str("at"))


def verify_audit_chain(services, req):
    """GET /audit/verify — recompute the hash chain and check signed checkpoints."""
    return services.audit.verify()


ROUTES = [
    Endpoint("GET", f"{P}/events", search_audit_events),
    Endpoint("GET", f"{P}/history", get_field_history),
    Endpoint("GET", f"{P}/verify", verify_audit_chain),
]

"""experiments/* endpoints."""
from medflow.api.endpoint import Endpoint

P = "/2.0/mlflow/experiments"


def create_experiment(services, req):
    """POST /experiments/create"""
    experiment_id = services.experiments.create(req.str("name"), req.str("artifact_location"),
                                                req.obj_list("tags"))
    return {"experiment_id": experiment_id}


def get_experiment(services, req):
    """GET /experiments/get"""
    return {"experiment": services.experiments.get(req.str("experiment_id", required=True))}


def get_experiment_by_name(services, req):
    """GET /experiments/get-by-name"""
    return {"experiment": services.experiments.get_by_name(req.str("experiment_name", required=True))}


def search_experiments(services, req):
    """POST|GET /experiments/search"""
    order_by = req.fields.get("order_by") or []
    order_by = [order_by] if isinstance(order_by, str) else order_by
    found, token = services.experiments.search(
        filter_string=req.str("filter"), order_by=order_by,
        view_type=req.str("view_type", default="ACTIVE_ONLY"),
        max_results=req.int64("max_results", default=1000), page_token=req.str("page_token"))
    out = {}
    if found:
        out["experiments"] = found
    if token:
        out["next_page_token"] = token
    return out


def update_experiment(services, req):
    """POST /experiments/update"""
    services.experiments.rename(req.str("experiment_id", required=True), req.str("new_name"))
    return {}


def delete_experiment(services, req):
    """POST /experiments/delete"""
    services.experiments.set_lifecycle(req.str("experiment_id", required=True), "deleted")
    return {}


def restore_experiment(services, req):
    """POST /experiments/restore"""
    services.experiments.set_lifecycle(req.str("experiment_id", required=True), "active")
    return {}


def set_experiment_tag(services, req):
    """POST /experiments/set-experiment-tag"""
    services.experiments.set_tag(req.str("experiment_id", required=True), req.str("key"), req.str("value"))
    return {}


def delete_experiment_tag(services, req):
    """POST /experiments/delete-experiment-tag"""
    services.experiments.delete_tag(req.str("experiment_id", required=True), req.str("key"))
    return {}


ROUTES = [
    Endpoint("POST", f"{P}/create", create_experiment),
    Endpoint("GET", f"{P}/get", get_experiment),
    Endpoint("GET", f"{P}/get-by-name", get_experiment_by_name),
    Endpoint("POST", f"{P}/search", search_experiments),
    Endpoint("GET", f"{P}/search", search_experiments),
    Endpoint("POST", f"{P}/update", update_experiment),
    Endpoint("POST", f"{P}/delete", delete_experiment),
    Endpoint("POST", f"{P}/restore", restore_experiment),
    Endpoint("POST", f"{P}/set-experiment-tag", set_experiment_tag),
    Endpoint("POST", f"{P}/delete-experiment-tag", delete_experiment_tag),
]

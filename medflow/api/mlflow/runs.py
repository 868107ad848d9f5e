"""runs/* endpoints: lifecycle, tags, params, metrics, inputs/outputs, models, search."""
from medflow.api.endpoint import Endpoint
from medflow.errors import MedflowError

P = "/2.0/mlflow/runs"
_STATUS_NUMBERS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
_VIEW_NUMBERS = {1: "ACTIVE_ONLY", 2: "DELETED_ONLY", 3: "ALL"}


def run_id_of(req) -> str:
    """Clients send run_id, run_uuid (MLflow 1.x name) or both."""
    run_id = req.str("run_id") or req.str("run_uuid")
    if not run_id:
        raise MedflowError.missing("run_id")
    return run_id


def _enum(req, name: str, numbers: dict) -> str | None:
    value = req.raw(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return numbers.get(value, str(value))
    return req.str(name)


def create_run(services, req):
    """POST /runs/create"""
    run = services.runs.create(experiment_id=req.str("experiment_id"), user_id=req.raw("user_id"),
                               run_name=req.raw("run_name"), start_time=req.int64("start_time"),
                               tags=req.obj_list("tags"))
    return {"run": run}


def get_run(services, req):
    """GET /runs/get"""
    return {"run": services.runs.get(run_id_of(req))}


def update_run(services, req):
    """POST /runs/update"""
    info = services.runs.update(run_id_of(req), status=_enum(req, "status", _STATUS_NUMBERS),
                                end_time=req.int64("end_time"), run_name=req.raw("run_name"))
    return {"run_info": info}


def delete_run(services, req):
    """POST /runs/delete"""
    services.runs.set_lifecycle(run_id_of(req), "deleted")
    return {}


def restore_run(services, req):
    """POST /runs/restore"""
    services.runs.set_lifecycle(run_id_of(req), "active")
    return {}


def set_tag(services, req):
    """POST /runs/set-tag"""
    services.runs.set_tag(run_id_of(req), req.raw("key"), req.raw("value"))
    return {}


def delete_tag(services, req):
    """POST /runs/delete-tag"""
    services.runs.delete_tag(run_id_of(req), req.raw("key"))
    return {}


def log_param(services, req):
    """POST /runs/log-parameter"""
    services.runs.log_param(run_id_of(req), req.raw("key"), req.raw("value"))
    return {}


def log_metric(services, req):
    """POST /runs/log-metric"""
    services.metrics.log_metric(run_id_of(req), req.fields)
    return {}


def log_batch(services, req):
    """POST /runs/log-batch"""
    services.metrics.log_batch(run_id_of(req), req.obj_list("metrics"), req.obj_list("params"),
                               req.obj_list("tags"))
    return {}


def log_inputs(services, req):
    """POST /runs/log-inputs"""
    services.runs.log_inputs(run_id_of(req), req.obj_list("datasets"), req.obj_list("models"))
    return {}


def log_outputs(services, req):
    """POST /runs/outputs"""
    services.runs.log_outputs(run_id_of(req), req.obj_list("models"))
    return {}


def log_model(services, req):
    """POST /runs/log-model"""
    services.runs.log_model(run_id_of(req), req.raw("model_json"))
    return {}


def search_runs(services, req):
    """POST /runs/search"""
    order_by = req.fields.get("order_by") or []
    order_by = [order_by] if isinstance(order_by, str) else order_by
    if not all(isinstance(o, str) for o in order_by):
        raise MedflowError.invalid("Invalid value for parameter 'order_by': expected a list of strings "
                                   "such as [\"metrics.auc DESC\"].")
    experiment_ids = req.fields.get("experiment_ids") or []
    experiment_ids = [experiment_ids] if isinstance(experiment_ids, (str, int)) else experiment_ids
    runs, token = services.runs.search(
        experiment_ids=experiment_ids, filter_string=req.str("filter"),
        run_view_type=_enum(req, "run_view_type", _VIEW_NUMBERS),
        max_results=req.int64("max_results", default=1000), order_by=order_by,
        page_token=req.str("page_token"))
    out = {}
    if runs:
        out["runs"] = runs
    if token:
        out["next_page_token"] = token
    return out


ROUTES = [
    Endpoint("POST", f"{P}/create", create_run),
    Endpoint("GET", f"{P}/get", get_run),
    Endpoint("POST", f"{P}/update", update_run),
    Endpoint("POST", f"{P}/delete", delete_run),
    Endpoint("POST", f"{P}/restore", restore_run),
    Endpoint("POST", f"{P}/set-tag", set_tag),
    Endpoint("POST", f"{P}/delete-tag", delete_tag),
    Endpoint("POST", f"{P}/log-parameter", log_param),
    Endpoint("POST", f"{P}/log-metric", log_metric),
    Endpoint("POST", f"{P}/log-batch", log_batch),
    Endpoint("POST", f"{P}/log-inputs", log_inputs),
    Endpoint("POST", f"{P}/outputs", log_outputs),
    Endpoint("POST", f"{P}/log-model", log_model),
    Endpoint("POST", f"{P}/search", search_runs),
]

"""logged-models/* endpoints (the 3.x client's model lifecycle)."""
from starlette.concurrency import run_in_threadpool

from medflow.api.endpoint import Endpoint
from medflow.api.mlflow.artifacts import file_response

P = "/2.0/mlflow/logged-models"


def create_logged_model(services, req):
    """POST /logged-models"""
    model = services.logged_models.create(
        experiment_id=req.str("experiment_id", required=True), name=req.str("name"),
        model_type=req.str("model_type"), source_run_id=req.str("source_run_id"),
        params=req.obj_list("params"), tags=req.obj_list("tags"))
    return {"model": model}


def search_logged_models(services, req):
    """POST /logged-models/search"""
    max_results = req.int64("max_results")
    models, token = services.logged_models.search(
        experiment_ids=req.str_list("experiment_ids"), filter_string=req.str("filter"),
        datasets=req.obj_list("datasets"), order_by=req.obj_list("order_by"),
        max_results=max_results, page_token=req.str("page_token"))
    out = {}
    if models:
        out["models"] = models
    if token:
        out["next_page_token"] = token
    return out


def get_logged_model(services, req):
    """GET /logged-models/{model_id}[?allow_deleted=true]"""
    return {"model": services.logged_models.get(req.path_params["model_id"],
                                                allow_deleted=req.bool("allow_deleted"))}


def finalize_logged_model(services, req):
    """PATCH /logged-models/{model_id} {status}"""
    return {"model": services.logged_models.finalize(req.path_params["model_id"], req.raw("status"))}


def delete_logged_model(services, req):
    """DELETE /logged-models/{model_id}"""
    services.logged_models.delete(req.path_params["model_id"])
    return {}


def set_logged_model_tags(services, req):
    """PATCH /logged-models/{model_id}/tags {tags}"""
    services.logged_models.set_tags(req.path_params["model_id"], req.obj_list("tags"))
    return {}


def delete_logged_model_tag(services, req):
    """DELETE /logged-models/{model_id}/tags/{tag_key}"""
    services.logged_models.delete_tag(req.path_params["model_id"], req.path_params["tag_key"])
    return {}


def log_logged_model_params(services, req):
    """POST /logged-models/{model_id}/params {params}"""
    services.logged_models.log_params(req.path_params["model_id"], req.obj_list("params"))
    return {}


def list_logged_model_artifacts(services, req):
    """GET /logged-models/{model_id}/artifacts/directories?artifact_directory_path="""
    root_uri, files = services.logged_models.list_artifacts(req.path_params["model_id"],
                                                            req.str("artifact_directory_path"))
    out = {"root_uri": root_uri}
    if files:
        out["files"] = files
    return out


async def get_logged_model_artifact(services, request):
    """GET /logged-models/{model_id}/artifacts/files?artifact_file_path= (the web UI's viewer)"""
    path, opened = await run_in_threadpool(services.logged_models.open_artifact,
                                           request.path_params["model_id"],
                                           request.query_params.get("artifact_file_path"))
    return file_response(path, opened)


# Static paths first: Starlette matches in list order, and "search" must not be a model_id.
ROUTES = [
    Endpoint("POST", P, create_logged_model),
    Endpoint("POST", f"{P}/search", search_logged_models),
    Endpoint("GET", f"{P}/{{model_id}}", get_logged_model),
    Endpoint("PATCH", f"{P}/{{model_id}}", finalize_logged_model),
    Endpoint("DELETE", f"{P}/{{model_id}}", delete_logged_model),
    Endpoint("PATCH", f"{P}/{{model_id}}/tags", set_logged_model_tags),
    Endpoint("DELETE", f"{P}/{{model_id}}/tags/{{tag_key:path}}", delete_logged_model_tag),
    Endpoint("POST", f"{P}/{{model_id}}/params", log_logged_model_params),
    Endpoint("GET", f"{P}/{{model_id}}/artifacts/directories", list_logged_model_artifacts),
    Endpoint("GET", f"{P}/{{model_id}}/artifacts/files", get_logged_model_artifact, raw=True),
]

"""registered-models/* and model-versions/* endpoints (MLflow's ModelRegistryService)."""
from medflow.api.endpoint import Endpoint

RM = "/2.0/mlflow/registered-models"
MV = "/2.0/mlflow/model-versions"


def _order_by(req) -> list[str]:
    value = req.fields.get("order_by") or []
    return [value] if isinstance(value, str) else req.str_list("order_by")


def _page(key: str, items: list[dict], token: str | None) -> dict:
    out = {}
    if items:
        out[key] = items
    if token:
        out["next_page_token"] = token
    return out


# --- registered models -------------------------------------------------------------------------

def create_registered_model(services, req):
    """POST /registered-models/create"""
    model = services.registry.create_model(req.str("name", required=True), req.obj_list("tags"),
                                           req.str("description"))
    return {"registered_model": model}


def get_registered_model(services, req):
    """GET /registered-models/get"""
    return {"registered_model": services.registry.get_model(req.str("name", required=True))}


def rename_registered_model(services, req):
    """POST /registered-models/rename"""
    model = services.registry.rename_model(req.str("name", required=True),
                                           req.str("new_name", required=True))
    return {"registered_model": model}


def update_registered_model(services, req):
    """PATCH /registered-models/update"""
    model = services.registry.update_model(req.str("name", required=True), req.str("description"))
    return {"registered_model": model}


def delete_registered_model(services, req):
    """DELETE /registered-models/delete"""
    services.registry.delete_model(req.str("name", required=True))
    return {}


def search_registered_models(services, req):
    """GET /registered-models/search"""
    found, token = services.registry.search_models(
        filter_string=req.str("filter"), order_by=_order_by(req),
        max_results=req.int64("max_results", default=100), page_token=req.str("page_token"))
    return _page("registered_models", found, token)


def get_latest_versions(services, req):
    """POST|GET /registered-models/get-latest-versions"""
    found = services.registry.latest_versions(req.str("name", required=True), req.str_list("stages"))
    return _page("model_versions", found, None)


def set_registered_model_tag(services, req):
    """POST /registered-models/set-tag"""
    services.registry.set_model_tag(req.str("name", required=True), req.str("key", required=True),
                                    req.str("value"))
    return {}


def delete_registered_model_tag(services, req):
    """DELETE /registered-models/delete-tag"""
    services.registry.delete_model_tag(req.str("name", required=True), req.str("key", required=True))
    return {}


def set_registered_model_alias(services, req):
    """POST /registered-models/alias"""
    services.registry.set_alias(req.str("name", required=True), req.str("alias", required=True),
                                req.raw("version"))
    return {}


def delete_registered_model_alias(services, req):
    """DELETE /registered-models/alias"""
    services.registry.delete_alias(req.str("name", required=True), req.str("alias", required=True))
    return {}


def get_model_version_by_alias(services, req):
    """GET /registered-models/alias"""
    return {"model_version": services.registry.version_by_alias(req.str("name", required=True),
                                                                req.str("alias", required=True))}


# --- model versions ----------------------------------------------------------------------------

def create_model_version(services, req):
    """POST /model-versions/create"""
    version = services.registry.create_version(
        name=req.str("name", required=True), source=req.str("source", required=True),
        run_id=req.str("run_id"), tags=req.obj_list("tags"), run_link=req.str("run_link"),
        description=req.str("description"), model_id=req.str("model_id"))
    return {"model_version": version}


def get_model_version(services, req):
    """GET /model-versions/get"""
    return {"model_version": services.registry.get_version(req.str("name", required=True),
                                                           req.raw("version"))}


def update_model_version(services, req):
    """PATCH /model-versions/update"""
    version = services.registry.update_version(req.str("name", required=True), req.raw("version"),
                                               req.str("description"))
    return {"model_version": version}


def delete_model_version(services, req):
    """DELETE /model-versions/delete"""
    services.registry.delete_version(req.str("name", required=True), req.raw("version"))
    return {}


def search_model_versions(services, req):
    """GET /model-versions/search"""
    found, token = services.registry.search_versions(
        filter_string=req.str("filter"), order_by=_order_by(req),
        max_results=req.int64("max_results", default=10000), page_token=req.str("page_token"))
    return _page("model_versions", found, token)


def set_model_version_tag(services, req):
    """POST /model-versions/set-tag"""
    services.registry.set_version_tag(req.str("name", required=True), req.raw("version"),
                                      req.str("key", required=True), req.str("value"))
    return {}


def delete_model_version_tag(services, req):
    """DELETE /model-versions/delete-tag"""
    services.registry.delete_version_tag(req.str("name", required=True), req.raw("version"),
                                         req.str("key", required=True))
    return {}


def transition_model_version_stage(services, req):
    """POST /model-versions/transition-stage"""
    version = services.registry.transition_stage(
        req.str("name", required=True), req.raw("version"), req.str("stage", required=True),
        req.bool("archive_existing_versions"))
    return {"model_version": version}


def get_model_version_download_uri(services, req):
    """GET /model-versions/get-download-uri"""
    return {"artifact_uri": services.registry.download_uri(req.str("name", required=True),
                                                           req.raw("version"))}


ROUTES = [
    Endpoint("POST", f"{RM}/create", create_registered_model),
    Endpoint("GET", f"{RM}/get", get_registered_model),
    Endpoint("POST", f"{RM}/rename", rename_registered_model),
    Endpoint("PATCH", f"{RM}/update", update_registered_model),
    Endpoint("DELETE", f"{RM}/delete", delete_registered_model),
    Endpoint("GET", f"{RM}/search", search_registered_models),
    Endpoint("POST", f"{RM}/get-latest-versions", get_latest_versions),
    Endpoint("GET", f"{RM}/get-latest-versions", get_latest_versions),
    Endpoint("POST", f"{RM}/set-tag", set_registered_model_tag),
    Endpoint("DELETE", f"{RM}/delete-tag", delete_registered_model_tag),
    Endpoint("POST", f"{RM}/alias", set_registered_model_alias),
    Endpoint("DELETE", f"{RM}/alias", delete_registered_model_alias),
    Endpoint("GET", f"{RM}/alias", get_model_version_by_alias),
    Endpoint("POST", f"{MV}/create", create_model_version),
    Endpoint("GET", f"{MV}/get", get_model_version),
    Endpoint("PATCH", f"{MV}/update", update_model_version),
    Endpoint("DELETE", f"{MV}/delete", delete_model_version),
    Endpoint("GET", f"{MV}/search", search_model_versions),
    Endpoint("POST", f"{MV}/set-tag", set_model_version_tag),
    Endpoint("DELETE", f"{MV}/delete-tag", delete_model_version_tag),
    Endpoint("POST", f"{MV}/transition-stage", transition_model_version_stage),
    Endpoint("GET", f"{MV}/get-download-uri", get_model_version_download_uri),
]

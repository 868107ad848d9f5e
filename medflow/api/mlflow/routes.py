"""The complete MLflow route table, in one list a reader can scan.

Every path is served under /api and /ajax-api (the MLflow web UI uses the latter).
"""
from medflow.api.v1 import approvals as approvals_v1
from medflow.api.v1 import audit as audit_v1
from medflow.api.v1 import routes as v1_routes
from medflow.api.mlflow import (artifacts, experiments, logged_models, metrics, registry, runs,
                                server_info)

API_PREFIXES = ("/api", "/ajax-api")

ROUTES = [
    *experiments.ROUTES,
    *runs.ROUTES,
    *metrics.ROUTES,
    *logged_models.ROUTES,
    *registry.ROUTES,
    *artifacts.ROUTES,
    *server_info.ROUTES,
    *v1_routes.MLFLOW_WORKSPACE_ROUTES,
]
TOP_LEVEL_ROUTES = server_info.TOP_LEVEL_ROUTES

# MedFlow's own API, under /api only (/api/medflow/v1/...).
MEDFLOW_ROUTES = [
    *audit_v1.ROUTES,
    *approvals_v1.ROUTES,
    *v1_routes.ROUTES,
]

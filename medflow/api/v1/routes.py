"""MedFlow's own admin API, served under /api/medflow/v1 (and /ajax-api/medflow/v1 for the UI),
plus MLflow 3's workspace endpoints (they belong with the MLflow routes under /api/3.0)."""
from medflow.api.v1 import directory, grants, mlflow_workspaces, tokens, users

ROUTES = [*users.ROUTES, *tokens.ROUTES, *directory.ROUTES, *grants.ROUTES]
MLFLOW_WORKSPACE_ROUTES = mlflow_workspaces.ROUTES

"""One table: every route MedFlow serves -> the action it needs and where its resource is named.

Paths are as Endpoint declares them, relative to the /api and /ajax-api prefixes (path
parameter names do not matter: `{model_id}` and `{id}` match alike). `action=None` marks
the few public routes. A route missing here is denied (see tests/auth/test_route_table.py,
which fails when a served route has no entry).

`locator` says where the request names the resource the action applies to:
  workspace       the request's workspace (X-MLFLOW-WORKSPACE header or the account default)
  filter          a search: results are filtered with readable_clause, nothing is refused
  experiment_id   field experiment_id         experiment_name  field experiment_name
  experiment_ids  every id in experiment_ids  run_id           field run_id (or run_uuid) -> its experiment
  run_ids         every id in run_ids         model_id         path model_id (logged model) -> its experiment
  artifact_path   mlflow-artifacts path (or ?path=): its first segment is the experiment id
  name            registered model `name` in the request's workspace
  workspace_name  path parameter workspace_name
  none            global action (roles only), or the endpoint checks itself (MedFlow's admin API)

`skips_missing` marks the routes whose endpoint skips ids that name nothing (runs/search,
logged-models/search, get-history-bulk): there an id of another workspace is skipped too, so
the answer is the one a missing id gets. Elsewhere such an id is answered "does not exist".
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class RouteRule:
    action: str | None  # None: public
    locator: str = "none"
    skips_missing: bool = False  # the endpoint skips unknown ids (a search), see above


def _r(action, locator="none", *, skips_missing=False) -> RouteRule:
    return RouteRule(action, locator, skips_missing)


E, R, LM, MV, RM, A = ("/2.0/mlflow/experiments", "/2.0/mlflow/runs", "/2.0/mlflow/logged-models",
                       "/2.0/mlflow/model-versions", "/2.0/mlflow/registered-models", "/2.0/mlflow-artifacts")
V1 = "/medflow/v1"

ROUTE_ACTIONS: dict[tuple[str, str], RouteRule] = {
    # server
    ("GET", "/health"): _r(None),
    ("GET", "/version"): _r(None),
    ("GET", "/3.0/mlflow/server-info"): _r("server-info"),
    # experiments
    ("POST", f"{E}/create"): _r("experiment-create", "workspace"),
    ("GET", f"{E}/get"): _r("experiment-read", "experiment_id"),
    ("GET", f"{E}/get-by-name"): _r("experiment-read", "experiment_name"),
    ("GET", f"{E}/search"): _r("experiment-search", "filter"),
    ("POST", f"{E}/search"): _r("experiment-search", "filter"),
    ("POST", f"{E}/update"): _r("experiment-update", "experiment_id"),
    ("POST", f"{E}/delete"): _r("experiment-delete", "experiment_id"),
    ("POST", f"{E}/restore"): _r("experiment-delete", "experiment_id"),
    ("POST", f"{E}/set-experiment-tag"): _r("experiment-update", "experiment_id"),
    ("POST", f"{E}/delete-experiment-tag"): _r("experiment-update", "experiment_id"),
    ("POST", f"{E}/search-datasets"): _r("run-read", "experiment_ids"),
    # runs, metrics, run artifacts
    ("POST", f"{R}/create"): _r("run-create", "experiment_id"),
    ("GET", f"{R}/get"): _r("run-read", "run_id"),
    ("POST", f"{R}/search"): _r("run-read", "experiment_ids", skips_missing=True),
    ("POST", f"{R}/update"): _r("run-update", "run_id"),
    ("POST", f"{R}/delete"): _r("run-delete", "run_id"),
    ("POST", f"{R}/restore"): _r("run-delete", "run_id"),
    ("POST", f"{R}/log-batch"): _r("run-update", "run_id"),
    ("POST", f"{R}/log-metric"): _r("run-update", "run_id"),
    ("POST", f"{R}/log-parameter"): _r("run-update", "run_id"),
    ("POST", f"{R}/log-inputs"): _r("run-update", "run_id"),
    ("POST", f"{R}/log-model"): _r("run-update", "run_id"),
    ("POST", f"{R}/outputs"): _r("run-update", "run_id"),
    ("POST", f"{R}/set-tag"): _r("run-update", "run_id"),
    ("POST", f"{R}/delete-tag"): _r("run-update", "run_id"),
    ("GET", "/2.0/mlflow/metrics/get-history"): _r("run-read", "run_id"),
    ("GET", "/2.0/mlflow/metrics/get-history-bulk"): _r("run-read", "run_ids", skips_missing=True),
    ("GET", "/2.0/mlflow/metrics/get-history-bulk-interval"): _r("run-read", "run_ids"),
    ("GET", "/2.0/mlflow/artifacts/list"): _r("artifact-read", "run_id"),
    # logged models (3.x)
    ("POST", LM): _r("logged-model-create", "experiment_id"),
    ("POST", f"{LM}/search"): _r("logged-model-read", "experiment_ids", skips_missing=True),
    ("GET", f"{LM}/{{model_id}}"): _r("logged-model-read", "model_id"),
    ("PATCH", f"{LM}/{{model_id}}"): _r("logged-model-update", "model_id"),
    ("DELETE", f"{LM}/{{model_id}}"): _r("logged-model-delete", "model_id"),
    ("POST", f"{LM}/{{model_id}}/params"): _r("logged-model-update", "model_id"),
    ("PATCH", f"{LM}/{{model_id}}/tags"): _r("logged-model-update", "model_id"),
    ("DELETE", f"{LM}/{{model_id}}/tags/{{tag_key}}"): _r("logged-model-update", "model_id"),
    ("GET", f"{LM}/{{model_id}}/artifacts/directories"): _r("artifact-read", "model_id"),
    ("GET", f"{LM}/{{model_id}}/artifacts/files"): _r("artifact-read", "model_id"),
    # model registry
    ("POST", f"{RM}/create"): _r("registered-model-create", "workspace"),
    ("GET", f"{RM}/get"): _r("registered-model-read", "name"),
    ("GET", f"{RM}/search"): _r("registered-model-search", "filter"),
    ("POST", f"{RM}/rename"): _r("registered-model-update", "name"),
    ("PATCH", f"{RM}/update"): _r("registered-model-update", "name"),
    ("DELETE", f"{RM}/delete"): _r("registered-model-delete", "name"),
    ("POST", f"{RM}/set-tag"): _r("registered-model-update", "name"),
    ("DELETE", f"{RM}/delete-tag"): _r("registered-model-update", "name"),
    ("GET", f"{RM}/get-latest-versions"): _r("model-version-read", "name"),
    ("POST", f"{RM}/get-latest-versions"): _r("model-version-read", "name"),
    ("POST", f"{RM}/alias"): _r("registered-model-alias", "name"),
    ("DELETE", f"{RM}/alias"): _r("registered-model-alias", "name"),
    ("GET", f"{RM}/alias"): _r("model-version-read", "name"),
    ("POST", f"{MV}/create"): _r("model-version-create", "name"),  # the service also checks run-read on run_id
    ("GET", f"{MV}/get"): _r("model-version-read", "name"),
    ("GET", f"{MV}/get-download-uri"): _r("model-version-read", "name"),
    ("GET", f"{MV}/search"): _r("model-version-read", "filter"),  # filtered per model (CVE-2026-2734)
    ("PATCH", f"{MV}/update"): _r("model-version-update", "name"),
    ("DELETE", f"{MV}/delete"): _r("model-version-delete", "name"),
    ("POST", f"{MV}/set-tag"): _r("model-version-update", "name"),
    ("DELETE", f"{MV}/delete-tag"): _r("model-version-update", "name"),
    ("POST", f"{MV}/transition-stage"): _r("model-version-transition", "name"),
    # artifact proxy
    ("GET", f"{A}/artifacts"): _r("artifact-read", "artifact_path"),
    ("GET", f"{A}/artifacts/{{artifact_path}}"): _r("artifact-read", "artifact_path"),
    ("PUT", f"{A}/artifacts/{{artifact_path}}"): _r("artifact-write", "artifact_path"),
    ("DELETE", f"{A}/artifacts/{{artifact_path}}"): _r("artifact-delete", "artifact_path"),
    ("POST", f"{A}/mpu/create/{{artifact_path}}"): _r("artifact-write", "artifact_path"),
    ("POST", f"{A}/mpu/complete/{{artifact_path}}"): _r("artifact-write", "artifact_path"),
    ("POST", f"{A}/mpu/abort/{{artifact_path}}"): _r("artifact-write", "artifact_path"),
    ("GET", f"{A}/presigned/{{artifact_path}}"): _r("artifact-read", "artifact_path"),
    # MLflow 3 workspaces
    ("GET", "/3.0/mlflow/workspaces"): _r("workspace-list", "filter"),
    ("POST", "/3.0/mlflow/workspaces"): _r("workspace-admin"),
    ("GET", "/3.0/mlflow/workspaces/{workspace_name}"): _r("workspace-read", "workspace_name"),
    ("PATCH", "/3.0/mlflow/workspaces/{workspace_name}"): _r("workspace-admin"),
    ("DELETE", "/3.0/mlflow/workspaces/{workspace_name}"): _r("workspace-admin"),
    # MedFlow's audit API
    ("GET", f"{V1}/audit/events"): _r("audit-read"),
    ("GET", f"{V1}/audit/history"): _r("audit-read"),
    ("GET", f"{V1}/audit/verify"): _r("audit-read"),
    # MedFlow's approvals API (governance): reviewers sign with model-version-approve (APPROVE on the model)
    ("POST", f"{V1}/approvals/request"): _r("model-version-update", "name"),
    ("POST", f"{V1}/approvals/approve"): _r("model-version-approve", "name"),
    ("POST", f"{V1}/approvals/reject"): _r("model-version-approve", "name"),
    ("GET", f"{V1}/approvals/list"): _r("model-version-read", "name"),
    ("GET", f"{V1}/approvals/verify"): _r("model-version-read", "name"),
    ("GET", f"{V1}/approvals/history"): _r("model-version-read", "name"),
    ("GET", f"{V1}/approvals/policy"): _r("server-info"),
    ("POST", f"{V1}/approvals/policy/validate"): _r("server-info"),
    # MedFlow's admin API: each endpoint checks the principal itself; this is the least it needs
    ("POST", f"{V1}/bootstrap"): _r(None),
    ("POST", f"{V1}/users/change-password"): _r(None),
    ("GET", f"{V1}/users/whoami"): _r("own-account"),
    ("GET", f"{V1}/users/get"): _r("own-account"),
    ("GET", f"{V1}/users/login-failures"): _r("audit-read"),
    **{("POST", f"{V1}/users/{verb}"): _r("account-admin")
       for verb in ("create", "update", "set-roles", "lock", "unlock", "reset-password", "deactivate", "reactivate")},
    ("GET", f"{V1}/users/list"): _r("account-admin"),
    ("POST", f"{V1}/tokens/create"): _r("own-account"),
    ("GET", f"{V1}/tokens/list"): _r("own-account"),
    ("POST", f"{V1}/tokens/revoke"): _r("own-account"),
    ("POST", f"{V1}/groups/create"): _r("account-admin"),
    ("GET", f"{V1}/groups/list"): _r("account-admin"),
    ("POST", f"{V1}/groups/add-member"): _r("account-admin"),
    ("POST", f"{V1}/groups/remove-member"): _r("account-admin"),
    ("POST", f"{V1}/workspaces/create"): _r("workspace-admin"),
    ("GET", f"{V1}/workspaces/list"): _r("workspace-list", "filter"),
    ("GET", f"{V1}/workspaces/get"): _r("workspace-list", "filter"),
    ("POST", f"{V1}/workspaces/update"): _r("workspace-admin"),
    ("POST", f"{V1}/workspaces/set-member"): _r("workspace-admin"),
    ("POST", f"{V1}/workspaces/remove-member"): _r("workspace-admin"),
    ("POST", f"{V1}/grants/grant"): _r("own-account"),  # MANAGE on the resource, or admin: checked inside
    ("POST", f"{V1}/grants/revoke"): _r("own-account"),
    ("GET", f"{V1}/grants/list"): _r("account-admin"),
    ("POST", f"{V1}/break-glass/activate"): _r("break-glass-activate"),
    ("POST", f"{V1}/break-glass/end"): _r("break-glass-activate"),
    ("GET", f"{V1}/break-glass/list"): _r("break-glass-review"),
    ("POST", f"{V1}/break-glass/review"): _r("break-glass-review"),
}

_PARAM = re.compile(r"\{[^}]*\}")
_NORMALIZED = {(method, _PARAM.sub("{}", path)): rule for (method, path), rule in ROUTE_ACTIONS.items()}


def rule_for(method: str, path: str) -> RouteRule | None:
    """The rule of a route as declared (Starlette path syntax); None when it has none (deny)."""
    return _NORMALIZED.get((method.upper(), _PARAM.sub("{}", path)))

"""The common calls of the official mlflow client, each named with the routes it makes, so what each
account must get comes from the permission table too (the first route the table refuses decides).

Each write leaves a mark of its account (a metric key, an alias, a file name, a version description),
so the test reads back exactly which accounts' writes landed.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import requests
from mlflow.exceptions import MlflowException
from mlflow.tracking._tracking_service import utils as tracking_utils

from medflow.auth.route_actions import rule_for
from tests.auth.role_matrix_expect import ALLOWED, HEADER_LOCATORS, expected, masked
from tests.auth.role_matrix_world import Account, Dept

E, R = "/2.0/mlflow/experiments", "/2.0/mlflow/runs"
RM, MV = "/2.0/mlflow/registered-models", "/2.0/mlflow/model-versions"
ARTIFACT_FILE = ("PUT", "/2.0/mlflow-artifacts/artifacts/{artifact_path:path}")
CREDENTIAL_ENV = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN", "NETRC",
                  "MLFLOW_WORKSPACE")


def mark(account: Account) -> str:
    """What an account's writes are recognisable by (letters, digits and '-' only)."""
    return "by-" + account.username.replace(".", "-").replace("_", "-")


@dataclass(frozen=True)
class ClientOp:
    name: str
    routes: tuple[tuple[str, str], ...]
    run: Callable  # (client, dept, account, tmp_path) -> result

    def outcome(self, account: Account, dept: Dept) -> str:
        for route in self.routes:
            result = expected(account, rule_for(*route), dept)
            if result != ALLOWED:
                return result
        return ALLOWED

    def uses_workspace(self) -> bool:
        return any(rule_for(*route).locator in HEADER_LOCATORS for route in self.routes)


def _log_artifact(client, dept, account, tmp_path):
    local = Path(tmp_path) / f"{mark(account)}.txt"
    local.write_text("from the official client")
    client.log_artifact(dept.run_id, str(local))


def _download(client, dept, account, tmp_path):
    return Path(client.download_artifacts(dept.run_id, "notes.txt", str(tmp_path))).read_text()


CLIENT_OPS = [
    ClientOp("get_experiment", (("GET", f"{E}/get"),), lambda c, d, a, t: c.get_experiment(d.experiment_id).name),
    ClientOp("search_runs", (("POST", f"{R}/search"),),
             lambda c, d, a, t: sorted(r.info.run_id for r in c.search_runs([d.experiment_id]))),
    ClientOp("log_metric", (("POST", f"{R}/log-metric"),), lambda c, d, a, t: c.log_metric(d.run_id, mark(a), 1.0)),
    ClientOp("create_model_version", (("POST", f"{MV}/create"),),
             lambda c, d, a, t: c.create_model_version(d.model_name, f"runs:/{d.run_id}", run_id=d.run_id,
                                                       description=mark(a)).version),
    ClientOp("transition_model_version_stage", (("POST", f"{MV}/transition-stage"),),
             lambda c, d, a, t: c.transition_model_version_stage(d.model_name, d.version, "Staging").current_stage),
    ClientOp("set_registered_model_alias", (("POST", f"{RM}/alias"),),
             lambda c, d, a, t: c.set_registered_model_alias(d.model_name, mark(a), d.version)),
    ClientOp("log_artifact", (("GET", f"{R}/get"), ARTIFACT_FILE), _log_artifact),
    ClientOp("download_artifacts", (("GET", f"{R}/get"), ("GET", "/2.0/mlflow-artifacts/artifacts"),
                                    ("GET", "/2.0/mlflow-artifacts/artifacts/{artifact_path:path}")), _download),
]


def use_credentials(monkeypatch, account: Account, workspace: str | None = None) -> None:
    """The official client's way: environment variables only (no netrc, no token)."""
    for name in CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    if account.username:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", account.username)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", account.password)
    if workspace:
        monkeypatch.setenv("MLFLOW_WORKSPACE", workspace)


def client_answer(fn, dept: Dept) -> tuple:
    """('ok', masked result) or ('error', error code, masked message) of one client call."""
    # The client caches a run's artifact location for the whole process; a user's own process would
    # not have another account's entries, so each call starts without them.
    tracking_utils._artifact_repos_cache.clear()
    try:
        return "ok", masked(repr(fn()), dept)
    except MlflowException as e:
        return "error", e.error_code, masked(e.message, dept)
    except requests.HTTPError as e:  # the artifact repository raises the HTTP error itself
        body = e.response.json() if e.response is not None and e.response.content else {}
        return "error", body.get("error_code", str(e.response.status_code)), masked(body.get("message", ""), dept)


def landed_marks(admin, dept: Dept) -> dict[str, set[str]]:
    """The marks of the accounts whose writes landed on the department's objects, as the admin reads them."""
    run = admin.ok("GET", f"{R}/get", params={"run_id": dept.run_id})["run"]
    model = admin.ok("GET", f"{RM}/get", params={"name": dept.model_name}, workspace=dept.workspace)
    versions = admin.ok("GET", f"{MV}/search", params={"filter": f"name='{dept.model_name}'"},
                        workspace=dept.workspace).get("model_versions", [])
    files = admin.ok("GET", "/2.0/mlflow-artifacts/artifacts", params={"path": dept.run_artifacts}).get("files", [])
    marked = {
        "log_metric": [m["key"] for m in run["data"].get("metrics", [])],
        "set_registered_model_alias": [a["alias"] for a in model["registered_model"].get("aliases", [])],
        "create_model_version": [v.get("description") or "" for v in versions],
        "log_artifact": [f["path"].removesuffix(".txt") for f in files],
    }
    return {op: {value for value in values if value.startswith("by-")} for op, values in marked.items()}

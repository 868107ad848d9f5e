"""For every route MedFlow serves, a request that succeeds when the caller is allowed to make it.

What each role may do comes from the permission table (ACTIONS and ROUTE_ACTIONS), never from
here: a case only says how to call its route on a department's objects (`ctx.dept`), using
objects made for it (`ctx.fresh`) when the call uses one up. `ok` is the status an authorized
call gets when it is not 200 (e.g. 501: MedFlow refuses multipart uploads for every caller).
A served route without a case fails test_every_served_route_has_a_case.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tests.auth.role_matrix_world import PASSWORD, Account, Dept, Fresh, Http, unique

E, R, LM = "/2.0/mlflow/experiments", "/2.0/mlflow/runs", "/2.0/mlflow/logged-models"
RM, MV, A = "/2.0/mlflow/registered-models", "/2.0/mlflow/model-versions", "/2.0/mlflow-artifacts"
V1, WS3 = "/medflow/v1", "/3.0/mlflow/workspaces"


@dataclass
class Call:
    path: str
    json: dict | None = None
    params: dict | None = None
    data: bytes | None = None
    ok: int = 200


@dataclass
class Ctx:
    account: Account
    http: Http  # as the caller
    dept: Dept
    fresh: Fresh


CASES: dict[tuple[str, str], Callable[[Ctx], Call]] = {}
# MedFlow's grant endpoints let everyone through at the route and check MANAGE on the resource the
# request names inside: for those, the table's action of that check, on the department's experiment.
INNER_ACTIONS: dict[tuple[str, str], str] = {}
_PARAM = re.compile(r"\{[^}]*\}")


def key(method: str, path: str) -> tuple[str, str]:
    return method, _PARAM.sub("{}", path)


def case(method: str, path: str, *, inner_action: str | None = None):
    def register(fn):
        CASES[key(method, path)] = fn
        if inner_action:
            INNER_ACTIONS[key(method, path)] = inner_action
        return fn
    return register


def simple(method: str, path: str, **call):
    """A case whose request only names the department's shared objects."""
    CASES[key(method, path)] = lambda c: Call(path, **{k: v(c.dept) if callable(v) else v for k, v in call.items()})


# --- server -----------------------------------------------------------------------------------
simple("GET", "/3.0/mlflow/server-info")

# --- experiments ------------------------------------------------------------------------------
case("POST", f"{E}/create")(lambda c: Call(f"{E}/create", json={"name": unique("created")}))
simple("GET", f"{E}/get", params=lambda d: {"experiment_id": d.experiment_id})
simple("GET", f"{E}/get-by-name", params=lambda d: {"experiment_name": d.experiment_name})
simple("GET", f"{E}/search", params={"max_results": 10})
simple("POST", f"{E}/search", json={"max_results": 10})
case("POST", f"{E}/update")(lambda c: Call(f"{E}/update", json={"experiment_id": c.fresh.experiment(),
                                                                 "new_name": unique("renamed")}))
case("POST", f"{E}/delete")(lambda c: Call(f"{E}/delete", json={"experiment_id": c.fresh.experiment()}))
case("POST", f"{E}/restore")(lambda c: Call(f"{E}/restore",
                                             json={"experiment_id": c.fresh.experiment(deleted=True)}))
simple("POST", f"{E}/set-experiment-tag", json=lambda d: {"experiment_id": d.experiment_id, "key": "k", "value": "v"})


@case("POST", f"{E}/delete-experiment-tag")
def _delete_experiment_tag(c):
    c.fresh.experiment_tag("doomed")
    return Call(f"{E}/delete-experiment-tag", json={"experiment_id": c.dept.experiment_id, "key": "doomed"})


# --- runs and metrics -------------------------------------------------------------------------
simple("POST", f"{R}/create", json=lambda d: {"experiment_id": d.experiment_id})
simple("GET", f"{R}/get", params=lambda d: {"run_id": d.run_id})
simple("POST", f"{R}/search", json=lambda d: {"experiment_ids": [d.experiment_id]})
simple("POST", f"{R}/update", json=lambda d: {"run_id": d.run_id, "status": "RUNNING"})
case("POST", f"{R}/delete")(lambda c: Call(f"{R}/delete", json={"run_id": c.fresh.run()}))
case("POST", f"{R}/restore")(lambda c: Call(f"{R}/restore", json={"run_id": c.fresh.run(deleted=True)}))
simple("POST", f"{R}/set-tag", json=lambda d: {"run_id": d.run_id, "key": "k", "value": "v"})
case("POST", f"{R}/delete-tag")(lambda c: Call(f"{R}/delete-tag", json={"run_id": c.fresh.run(tag="doomed"),
                                                                         "key": "doomed"}))
case("POST", f"{R}/log-parameter")(lambda c: Call(f"{R}/log-parameter", json={
    "run_id": c.dept.run_id, "key": unique("p"), "value": "1"}))
simple("POST", f"{R}/log-metric", json=lambda d: {"run_id": d.run_id, "key": "loss", "value": 0.5,
                                                    "timestamp": 1, "step": 1})
case("POST", f"{R}/log-batch")(lambda c: Call(f"{R}/log-batch", json={
    "run_id": c.dept.run_id, "metrics": [{"key": "loss", "value": 0.4, "timestamp": 2, "step": 2}],
    "params": [{"key": unique("b"), "value": "2"}]}))
simple("POST", f"{R}/log-inputs", json=lambda d: {"run_id": d.run_id, "datasets": [{"dataset": {
    "name": "vitals", "digest": "abc123", "source_type": "local", "source": "{}"}}]})
simple("POST", f"{R}/outputs", json=lambda d: {"run_id": d.run_id, "models": [{"model_id": d.logged_model_id,
                                                                                 "step": 0}]})
simple("POST", f"{R}/log-model", json=lambda d: {"run_id": d.run_id, "model_json": (
    '{"artifact_path": "m", "flavors": {}, "utc_time_created": "2026-01-01 00:00:00.000000", '
    f'"run_id": "{d.run_id}"}}')})
simple("GET", "/2.0/mlflow/metrics/get-history", params=lambda d: {"run_id": d.run_id, "metric_key": "auc"})
simple("GET", "/2.0/mlflow/metrics/get-history-bulk", params=lambda d: {"run_id": d.run_id, "metric_key": "auc"})
simple("GET", "/2.0/mlflow/metrics/get-history-bulk-interval",
       params=lambda d: {"run_ids": d.run_id, "metric_key": "auc", "max_results": 10})
simple("GET", "/2.0/mlflow/artifacts/list", params=lambda d: {"run_id": d.run_id})

# --- logged models ----------------------------------------------------------------------------
simple("POST", LM, json=lambda d: {"experiment_id": d.experiment_id, "name": "created"})
simple("POST", f"{LM}/search", json=lambda d: {"experiment_ids": [d.experiment_id]})
case("GET", f"{LM}/{{model_id}}")(lambda c: Call(f"{LM}/{c.dept.logged_model_id}"))
case("PATCH", f"{LM}/{{model_id}}")(lambda c: Call(f"{LM}/{c.dept.logged_model_id}",
                                                   json={"status": "LOGGED_MODEL_READY"}))
case("DELETE", f"{LM}/{{model_id}}")(lambda c: Call(f"{LM}/{c.fresh.logged_model()}"))
case("POST", f"{LM}/{{model_id}}/params")(lambda c: Call(f"{LM}/{c.dept.logged_model_id}/params", json={
    "params": [{"key": unique("p"), "value": "1"}]}))
case("PATCH", f"{LM}/{{model_id}}/tags")(lambda c: Call(f"{LM}/{c.dept.logged_model_id}/tags", json={
    "tags": [{"key": "k", "value": "v"}]}))
case("DELETE", f"{LM}/{{model_id}}/tags/{{tag_key}}")(
    lambda c: Call(f"{LM}/{c.fresh.logged_model(tag='doomed')}/tags/doomed"))
case("GET", f"{LM}/{{model_id}}/artifacts/directories")(
    lambda c: Call(f"{LM}/{c.dept.logged_model_id}/artifacts/directories"))
case("GET", f"{LM}/{{model_id}}/artifacts/files")(lambda c: Call(
    f"{LM}/{c.dept.logged_model_id}/artifacts/files", params={"artifact_file_path": c.dept.model_file}))

# --- model registry ---------------------------------------------------------------------------
case("POST", f"{RM}/create")(lambda c: Call(f"{RM}/create", json={"name": unique("registered")}))
simple("GET", f"{RM}/get", params=lambda d: {"name": d.model_name})
simple("GET", f"{RM}/search", params={"max_results": 10})
case("POST", f"{RM}/rename")(lambda c: Call(f"{RM}/rename", json={"name": c.fresh.registered_model(),
                                                                   "new_name": unique("renamed-model")}))
simple("PATCH", f"{RM}/update", json=lambda d: {"name": d.model_name, "description": "sepsis"})
case("DELETE", f"{RM}/delete")(lambda c: Call(f"{RM}/delete", json={"name": c.fresh.registered_model()}))
simple("POST", f"{RM}/set-tag", json=lambda d: {"name": d.model_name, "key": "k", "value": "v"})


@case("DELETE", f"{RM}/delete-tag")
def _delete_model_tag(c):
    c.fresh.model_tag("doomed")
    return Call(f"{RM}/delete-tag", json={"name": c.dept.model_name, "key": "doomed"})


simple("GET", f"{RM}/get-latest-versions", params=lambda d: {"name": d.model_name})
simple("POST", f"{RM}/get-latest-versions", json=lambda d: {"name": d.model_name})
simple("POST", f"{RM}/alias", json=lambda d: {"name": d.model_name, "alias": "matrix", "version": d.version})


@case("DELETE", f"{RM}/alias")
def _delete_alias(c):
    c.fresh.alias("doomed")
    return Call(f"{RM}/alias", json={"name": c.dept.model_name, "alias": "doomed"})


simple("GET", f"{RM}/alias", params=lambda d: {"name": d.model_name, "alias": d.alias})
simple("POST", f"{MV}/create", json=lambda d: {"name": d.model_name, "source": f"runs:/{d.run_id}",
                                                 "run_id": d.run_id})
simple("GET", f"{MV}/get", params=lambda d: {"name": d.model_name, "version": d.version})
simple("GET", f"{MV}/get-download-uri", params=lambda d: {"name": d.model_name, "version": d.version})
simple("GET", f"{MV}/search", params={"max_results": 10})
simple("PATCH", f"{MV}/update", json=lambda d: {"name": d.model_name, "version": d.version, "description": "v1"})
case("DELETE", f"{MV}/delete")(lambda c: Call(f"{MV}/delete", json={"name": c.dept.model_name,
                                                                      "version": c.fresh.version()}))
simple("POST", f"{MV}/set-tag", json=lambda d: {"name": d.model_name, "version": d.version, "key": "k",
                                                  "value": "v"})
case("DELETE", f"{MV}/delete-tag")(lambda c: Call(f"{MV}/delete-tag", json={
    "name": c.dept.model_name, "version": c.fresh.version(tag="doomed"), "key": "doomed"}))
simple("POST", f"{MV}/transition-stage", json=lambda d: {"name": d.model_name, "version": d.version,
                                                           "stage": "Staging", "archive_existing_versions": False})

# --- the artifact proxy -----------------------------------------------------------------------
simple("GET", f"{A}/artifacts", params=lambda d: {"path": d.run_artifacts})
case("GET", f"{A}/artifacts/{{artifact_path}}")(lambda c: Call(f"{A}/artifacts/{c.dept.run_file}"))
case("PUT", f"{A}/artifacts/{{artifact_path}}")(
    lambda c: Call(f"{A}/artifacts/{c.dept.run_artifacts}/{unique('upload')}.txt", data=b"hello"))
case("DELETE", f"{A}/artifacts/{{artifact_path}}")(lambda c: Call(f"{A}/artifacts/{c.fresh.artifact()}"))
for _verb in ("create", "complete", "abort"):
    case("POST", f"{A}/mpu/{_verb}/{{artifact_path}}")(
        lambda c, verb=_verb: Call(f"{A}/mpu/{verb}/{c.dept.run_artifacts}/big.bin", json={"path": "big.bin"},
                                   ok=501))
case("GET", f"{A}/presigned/{{artifact_path}}")(lambda c: Call(f"{A}/presigned/{c.dept.run_file}", ok=501))

# --- MLflow 3 workspaces ----------------------------------------------------------------------
simple("GET", WS3)
case("POST", WS3)(lambda c: Call(WS3, json={"name": unique("ws3")}, ok=201))
case("GET", f"{WS3}/{{workspace_name}}")(lambda c: Call(f"{WS3}/{c.dept.workspace}"))
case("PATCH", f"{WS3}/{{workspace_name}}")(lambda c: Call(f"{WS3}/{c.fresh.workspace()}",
                                                          json={"description": "matrix"}))
case("DELETE", f"{WS3}/{{workspace_name}}")(lambda c: Call(f"{WS3}/{c.fresh.workspace()}", ok=204))

# --- MedFlow's approvals API (governance) -----------------------------------------------------
POLICY = Path(__file__).resolve().parents[1] / "governance" / "healthcare_policy.yaml"
AP = f"{V1}/approvals"
case("POST", f"{AP}/request")(lambda c: Call(f"{AP}/request", json={
    "name": c.dept.model_name, "version": c.fresh.version(), "stage": "Staging"}))
case("POST", f"{AP}/approve")(lambda c: Call(f"{AP}/approve", json={
    "name": c.dept.model_name, "version": c.fresh.under_review(), "stage": "Staging",
    "password": c.account.password, "comment": "evidence reviewed"}))
case("POST", f"{AP}/reject")(lambda c: Call(f"{AP}/reject", json={
    "name": c.dept.model_name, "version": c.fresh.under_review(), "stage": "Staging",
    "password": c.account.password, "comment": "needs an external validation cohort"}))
for _read in ("list", "verify", "history"):
    simple("GET", f"{AP}/{_read}", params=lambda d: {"name": d.model_name, "version": d.version})
simple("GET", f"{AP}/policy")
case("POST", f"{AP}/policy/validate")(lambda c: Call(f"{AP}/policy/validate", json={"policy": POLICY.read_text()}))

# --- MedFlow's audit API ----------------------------------------------------------------------
simple("GET", f"{V1}/audit/events", params={"max_results": 5})
simple("GET", f"{V1}/audit/history", params=lambda d: {"resource_type": "run", "resource_id": d.run_id,
                                                         "field": "status"})
simple("GET", f"{V1}/audit/verify")

# --- MedFlow's admin API: accounts, tokens, groups, workspaces, grants, break-glass -----------
case("GET", f"{V1}/users/whoami")(lambda c: Call(f"{V1}/users/whoami"))
case("GET", f"{V1}/users/get")(lambda c: Call(f"{V1}/users/get", params={"username": c.account.username}))
simple("GET", f"{V1}/users/list")
simple("GET", f"{V1}/users/login-failures")
case("POST", f"{V1}/users/create")(lambda c: Call(f"{V1}/users/create", json={
    "username": unique("created"), "password": PASSWORD, "roles": ["viewer"]}))
case("POST", f"{V1}/users/update")(lambda c: Call(f"{V1}/users/update", json={
    "username": c.fresh.user(), "display_name": "Updated"}))
case("POST", f"{V1}/users/set-roles")(lambda c: Call(f"{V1}/users/set-roles", json={
    "username": c.fresh.user(), "roles": ["reviewer"]}))
case("POST", f"{V1}/users/lock")(lambda c: Call(f"{V1}/users/lock", json={"username": c.fresh.user()}))
case("POST", f"{V1}/users/unlock")(lambda c: Call(f"{V1}/users/unlock", json={"username": c.fresh.user(locked=True)}))
case("POST", f"{V1}/users/reset-password")(lambda c: Call(f"{V1}/users/reset-password", json={
    "username": c.fresh.user(), "password": "Another-Matrix-Passphrase-2026"}))
case("POST", f"{V1}/users/deactivate")(lambda c: Call(f"{V1}/users/deactivate", json={"username": c.fresh.user()}))
case("POST", f"{V1}/users/reactivate")(lambda c: Call(f"{V1}/users/reactivate", json={
    "username": c.fresh.user(deactivated=True)}))
case("POST", f"{V1}/tokens/create")(lambda c: Call(f"{V1}/tokens/create", json={"name": unique("token"), "days": 1}))
simple("GET", f"{V1}/tokens/list")


@case("POST", f"{V1}/tokens/revoke")
def _revoke_own_token(c):
    created = c.http.request("POST", f"{V1}/tokens/create", json={"name": unique("revoked"), "days": 1})
    token_id = created.json()["token_info"]["id"] if created.status_code == 200 else "1"
    return Call(f"{V1}/tokens/revoke", json={"id": token_id})


case("POST", f"{V1}/groups/create")(lambda c: Call(f"{V1}/groups/create", json={"name": unique("created-group")}))
simple("GET", f"{V1}/groups/list")
case("POST", f"{V1}/groups/add-member")(lambda c: Call(f"{V1}/groups/add-member", json={
    "group": c.fresh.group(), "username": c.fresh.user()}))


@case("POST", f"{V1}/groups/remove-member")
def _remove_group_member(c):
    member = c.fresh.user()
    return Call(f"{V1}/groups/remove-member", json={"group": c.fresh.group(member), "username": member})


case("POST", f"{V1}/workspaces/create")(lambda c: Call(f"{V1}/workspaces/create", json={"name": unique("created-ws")}))
simple("GET", f"{V1}/workspaces/list")
simple("GET", f"{V1}/workspaces/get", params=lambda d: {"name": d.workspace})
case("POST", f"{V1}/workspaces/update")(lambda c: Call(f"{V1}/workspaces/update", json={
    "name": c.fresh.workspace(), "description": "matrix"}))
case("POST", f"{V1}/workspaces/set-member")(lambda c: Call(f"{V1}/workspaces/set-member", json={
    "workspace": c.fresh.workspace(), "kind": "user", "member": c.fresh.user(), "permission": "READ"}))


@case("POST", f"{V1}/workspaces/remove-member")
def _remove_workspace_member(c):
    workspace, member = c.fresh.workspace(), c.fresh.user()
    c.fresh.admin.ok("POST", f"{V1}/workspaces/set-member", json={"workspace": workspace, "kind": "user",
                                                                  "member": member, "permission": "READ"})
    return Call(f"{V1}/workspaces/remove-member", json={"workspace": workspace, "kind": "user", "member": member})


case("POST", f"{V1}/grants/grant", inner_action="experiment-manage-permissions")(lambda c: Call(
    f"{V1}/grants/grant", json={"resource_type": "experiment", "resource": c.dept.experiment_id, "kind": "user",
                                "member": c.fresh.user(), "permission": "READ"}))


@case("POST", f"{V1}/grants/revoke", inner_action="experiment-manage-permissions")
def _revoke_grant(c):
    member = c.fresh.user()
    body = {"resource_type": "experiment", "resource": c.dept.experiment_id, "kind": "user", "member": member,
            "permission": "READ"}
    if not c.fresh.missing:
        c.fresh.admin.ok("POST", f"{V1}/grants/grant", json=body)
    return Call(f"{V1}/grants/revoke", json=body)


simple("GET", f"{V1}/grants/list")
# Starting an elevation changes what the caller sees; here a too-short reason is refused (400) after the
# route's check, and test_break_glass_across_departments runs a real one.
simple("POST", f"{V1}/break-glass/activate", json={"reason": "short"}, ok=400)
simple("POST", f"{V1}/break-glass/end", ok=404)  # the caller has no elevation to end
simple("GET", f"{V1}/break-glass/list")
case("POST", f"{V1}/break-glass/review")(lambda c: Call(f"{V1}/break-glass/review", json={
    "id": c.fresh.elevation(c.fresh.user()), "note": "checked"}))

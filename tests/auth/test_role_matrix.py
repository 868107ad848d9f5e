"""Issue 3's done-when: each role in each of two departments can do exactly what the permission table
says on every route, and nothing else — on one real server per backend (SQLite, PostgreSQL).

The expectations are generated from the table (ACTIONS x ROUTE_ACTIONS, see role_matrix_expect.py);
role_matrix_cases.py only knows how to call each route so that an allowed call succeeds. Every route
is called by every account (one per role and department, plus the admin) on each department's
objects and on objects that exist nowhere, and once without credentials:

    allowed calls succeed; denied ones get 403 PERMISSION_DENIED; without credentials 401
    UNAUTHENTICATED; another department's objects answer exactly like missing ones.

Then the common calls through the official client, searches (experiments, runs, registered models,
model versions — CVE-2026-2734 —, logged models), break-glass, expired tokens and locked accounts,
and the seed's a_tracking.py as a data scientist of one department with credentials from the
environment only. Revoked tokens, lockout after failed logins and spoofed proxy headers are in
test_server_auth.py.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from sqlalchemy import update

from medflow.api.mlflow import routes as served
from medflow.auth.route_actions import rule_for
from medflow.services.clock import now_ms
from medflow.store.engine import Database
from medflow.store.schema_accounts import api_tokens
from tests.auth.role_matrix_cases import CASES, INNER_ACTIONS, Ctx, key
from tests.auth.role_matrix_client import CLIENT_OPS, client_answer, landed_marks, mark, use_credentials
from tests.auth.role_matrix_search import SEARCHES, held_by
from tests.auth.role_matrix_expect import (ALLOWED, DENIED, HEADER_LOCATORS, HIDDEN, answer, check, expected,
                                           per_department)
from tests.auth.role_matrix_world import (ADMIN, ANONYMOUS, DEPARTMENTS, MISSING, PASSWORD, Account, Fresh, Http,
                                          build_hospital)
from tests.servers import REPO_ROOT

pytestmark = pytest.mark.timeout(900)


def served_routes() -> list[tuple[str, str]]:
    endpoints = [*served.ROUTES, *served.TOP_LEVEL_ROUTES, *served.MEDFLOW_ROUTES]
    return sorted({(e.method, e.path) for e in endpoints})


GUARDED = [route for route in served_routes() if rule_for(*route).action is not None]
PUBLIC = [route for route in served_routes() if rule_for(*route).action is None]
def _route_params(routes):
    return [pytest.param(route, id=f"{route[0]} {route[1]}") for route in routes]


class Hospital:
    def __init__(self, url: str):
        self.url = url
        self.accounts, self.depts = build_hospital(url)
        self.http = {a.username: Http(url, a) for a in self.accounts}
        self.admin = self.http[ADMIN.username]


@pytest.fixture(scope="module")
def hospital(medflow_server) -> Hospital:
    return Hospital(medflow_server.url)


def test_every_served_route_has_a_case():
    guarded = {key(*route) for route in GUARDED}
    assert not guarded - set(CASES), f"routes without a case (role_matrix_cases.py): {sorted(guarded - set(CASES))}"
    assert not set(CASES) - guarded, f"cases for routes that are not served: {sorted(set(CASES) - guarded)}"


@pytest.mark.parametrize("route", _route_params(GUARDED))
def test_route_follows_the_permission_table(hospital, route):
    method, path = route
    rule = rule_for(method, path)
    build, inner_action = CASES[key(method, path)], INNER_ACTIONS.get(key(method, path))
    problems = []

    def attempt(account, http, target):
        ctx = Ctx(account, http, target, Fresh(hospital.admin, target))
        call = build(ctx)
        header = target.workspace if rule.locator in HEADER_LOCATORS else None
        return call, http.request(method, call.path, json=call.json, params=call.params, data=call.data,
                                  workspace=header)

    anonymous = Http(hospital.url, ANONYMOUS)
    _, response = attempt(ANONYMOUS, anonymous, hospital.depts[DEPARTMENTS[0]])
    if (response.status_code, response.json().get("error_code")) != (401, "UNAUTHENTICATED"):
        problems.append(f"without credentials: {response.status_code} {response.text[:200]}")
    for account in hospital.accounts:
        http = hospital.http[account.username]
        departments = hospital.depts.values() if per_department(rule, inner_action) else \
            [hospital.depts[account.department or DEPARTMENTS[0]]]
        missing_answer = None
        for target in departments:
            outcome = expected(account, rule, target, inner_action)
            if outcome == HIDDEN and missing_answer is None:
                missing_answer = answer(attempt(account, http, MISSING)[1], MISSING)
            call, response = attempt(account, http, target)
            wrong = check(outcome, response, call.ok, missing_answer, target)
            if wrong:
                problems.append(f"{account.label} on {target.workspace} ({outcome}): {wrong}")
    assert not problems, f"{method} {path} ({rule.action}, {rule.locator}):\n" + "\n".join(problems)


@pytest.mark.parametrize("route", PUBLIC, ids=[f"{m} {p}" for m, p in PUBLIC])
def test_public_routes_need_no_credentials(medflow_server, route):
    method, path = route
    url = medflow_server.url + (path if path in ("/health", "/version") else "/api" + path)
    response = Http(medflow_server.url, ANONYMOUS).session.request(method, url, json={}, timeout=30)
    assert response.status_code != 401, response.text


# --- the official client ----------------------------------------------------------------------

def _client_calls(hospital, ops, monkeypatch, tmp_path) -> None:
    """Each op as every account on every department; then read back exactly which writes landed."""
    client = mlflow.MlflowClient(tracking_uri=hospital.url)
    problems, wanted = [], defaultdict(set)
    for account, op in itertools.product(hospital.accounts, ops):
        missing = None
        for dept in hospital.depts.values():
            outcome = op.outcome(account, dept)
            if outcome == HIDDEN and missing is None:
                use_credentials(monkeypatch, account, MISSING.workspace if op.uses_workspace() else None)
                missing = client_answer(lambda: op.run(client, MISSING, account, tmp_path), MISSING)
            use_credentials(monkeypatch, account, dept.workspace if op.uses_workspace() else None)
            got = client_answer(lambda: op.run(client, dept, account, tmp_path), dept)
            want = {ALLOWED: ("ok",), DENIED: ("error", "PERMISSION_DENIED"), HIDDEN: missing}[outcome]
            if got[:len(want)] != want:
                problems.append(f"{op.name} as {account.label} on {dept.workspace} ({outcome}): {got}, want {want}")
            if outcome == ALLOWED:
                wanted[op.name, dept.workspace].add(mark(account))
    assert not problems, "\n".join(problems)
    for dept in hospital.depts.values():
        landed = landed_marks(hospital.admin, dept)
        for op in ops:
            if op.name in landed:
                assert landed[op.name] == wanted[op.name, dept.workspace], f"{op.name} in {dept.workspace}"


def test_tracking_calls_through_the_official_client(hospital, monkeypatch, tmp_path):
    """get_experiment, search_runs, log_metric, log_artifact, download_artifacts: every account, every department."""
    _client_calls(hospital, [op for op in CLIENT_OPS if not op.uses_workspace()], monkeypatch, tmp_path)


def test_registry_calls_through_the_official_client(hospital, monkeypatch, tmp_path):
    """create_model_version, transition_model_version_stage, set_registered_model_alias, with MLFLOW_WORKSPACE."""
    _client_calls(hospital, [op for op in CLIENT_OPS if op.uses_workspace()], monkeypatch, tmp_path)


def test_searches_never_return_another_departments_objects(hospital, monkeypatch):
    """Experiments, runs, registered models, model versions (CVE-2026-2734) and logged models: through
    the official client in the account's own department, and raw with each department's header."""
    client = mlflow.MlflowClient(tracking_uri=hospital.url)
    held = {ws: held_by(dept, hospital.admin) for ws, dept in hospital.depts.items()}
    cardiology, radiology = (held[ws] for ws in DEPARTMENTS)
    assert cardiology["runs"] and not cardiology["runs"] & radiology["runs"]
    every_experiment = sorted(cardiology["experiments"] | radiology["experiments"])
    for account in hospital.accounts[1:]:
        use_credentials(monkeypatch, account)  # no MLFLOW_WORKSPACE: the account's default, its department
        own = held[account.department]
        assert {e.experiment_id for e in client.search_experiments(max_results=1000)} == own["experiments"]
        assert {m.name for m in client.search_registered_models(max_results=1000)} == own["registered_models"]
        assert {(v.name, v.version, v.run_id) for v in client.search_model_versions()} == own["versions"]
        visible = [held[ws] for ws in DEPARTMENTS if account.sees(ws)]
        runs = {r.info.run_id for r in client.search_runs(every_experiment, max_results=5000)}
        assert runs == set().union(*(h["runs"] for h in visible)), account.label
        models = {m.model_id for m in client.search_logged_models(experiment_ids=every_experiment)}
        assert models == set().union(*(h["logged_models"] for h in visible)), account.label
        http = hospital.http[account.username]
        for ws, (kind, (method, path, query, field, item_key)) in itertools.product(DEPARTMENTS, SEARCHES.items()):
            body = {"json": query} if method == "POST" else {"params": query}
            response = http.request(method, path, workspace=ws, **body)
            if not account.sees(ws):
                nowhere = http.request(method, path, workspace=MISSING.workspace, **body)
                assert answer(response, hospital.depts[ws]) == answer(nowhere, MISSING), f"{kind} in {ws}"
                continue
            found = {item_key(item) for item in response.json().get(field, [])}
            assert found == held[ws][kind], f"{kind} as {account.label} in {ws}"


def test_model_version_search_is_filtered_per_model(hospital, monkeypatch):
    """CVE-2026-2734: inside its own department, an account sees only the models (and their versions)
    it may read — here one granted model, to an account whose membership confers nothing."""
    cardiology = hospital.depts["cardiology"]
    consultant = Account("cardiology.consultant", PASSWORD, frozenset({"viewer"}), "cardiology", "NONE")
    admin = hospital.admin
    admin.ok("POST", "/medflow/v1/users/create", json={"username": consultant.username, "password": PASSWORD,
                                                      "roles": ["viewer"], "default_workspace": "cardiology"})
    admin.ok("POST", "/medflow/v1/workspaces/set-member", json={"workspace": "cardiology", "kind": "user",
                                                               "member": consultant.username, "permission": "NONE"})
    granted = Fresh(admin, cardiology).registered_model()
    admin.ok("POST", "/2.0/mlflow/model-versions/create", workspace="cardiology",
             json={"name": granted, "source": f"runs:/{cardiology.run_id}", "run_id": cardiology.run_id})
    admin.ok("POST", "/medflow/v1/grants/grant", json={"resource_type": "registered_model", "resource": granted,
                                                      "workspace": "cardiology", "kind": "user",
                                                      "member": consultant.username, "permission": "READ"})
    client = mlflow.MlflowClient(tracking_uri=hospital.url)
    use_credentials(monkeypatch, consultant)  # works in its default workspace, cardiology
    assert {(v.name, v.version) for v in client.search_model_versions()} == {(granted, "1")}
    assert {(v.name, v.version) for v in client.search_model_versions(f"name='{cardiology.model_name}'")} == set()
    assert [m.name for m in client.search_registered_models()] == [granted]
    assert client.search_experiments() == []
    assert client.get_model_version(granted, "1").run_id == cardiology.run_id
    for denied in (lambda: client.get_model_version(cardiology.model_name, "1"),
                   lambda: client.search_runs([cardiology.experiment_id])):
        with pytest.raises(MlflowException) as err:
            denied()
        assert err.value.error_code == "PERMISSION_DENIED"


def _new_account(hospital, username, role, department, **extra) -> tuple[Account, Http]:
    account = Account(username, PASSWORD, frozenset({role}), department)
    hospital.admin.ok("POST", "/medflow/v1/users/create", json={
        "username": username, "password": PASSWORD, "roles": [role], "default_workspace": department, **extra})
    return account, Http(hospital.url, account)


def test_break_glass_reads_across_departments_for_a_while_and_is_flagged(hospital):
    cardiology = hospital.depts["cardiology"]
    oncall, http = _new_account(hospital, "radiology.oncall", "viewer", "radiology", break_glass_allowed=True)
    read = {"params": {"experiment_id": cardiology.experiment_id}}
    before = http.request("GET", "/2.0/mlflow/experiments/get", **read)
    assert before.status_code == 404
    elevation = http.ok("POST", "/medflow/v1/break-glass/activate",
                        json={"reason": "sepsis alert: cardiology model check", "minutes": 5})["elevation"]
    assert http.ok("GET", "/medflow/v1/users/whoami")["break_glass"] is True
    assert http.ok("GET", "/2.0/mlflow/experiments/get", **read)["experiment"]["name"] == cardiology.experiment_name
    assert http.ok("GET", "/2.0/mlflow/runs/get", params={"run_id": cardiology.run_id})["run"]["info"]["run_id"]
    write = http.request("POST", "/2.0/mlflow/runs/log-metric", json={"run_id": cardiology.run_id, "key": "bg",
                                                                      "value": 1, "timestamp": 1})
    assert write.status_code == 403  # the roles still bound what it may change
    for _ in range(50):  # reads reach the trail in small batches (medflow/audit/trail.py)
        events = hospital.admin.ok("GET", "/medflow/v1/audit/events",
                                   params={"actor": oncall.username, "max_results": 100})["events"]
        flagged = [e["action"] for e in events if "break_glass" in json.dumps(e.get("details"))]
        if "GET experiments/get" in flagged and "POST runs/log-metric" in flagged:
            break
        time.sleep(0.1)
    assert {"GET experiments/get", "GET runs/get", "POST runs/log-metric"} <= set(flagged), events
    http.ok("POST", "/medflow/v1/break-glass/end", json={})
    after = http.request("GET", "/2.0/mlflow/experiments/get", **read)
    assert (after.status_code, after.json()) == (before.status_code, before.json())
    auditor = hospital.http["cardiology.auditor"]
    pending = auditor.ok("GET", "/medflow/v1/break-glass/list", params={"unreviewed_only": "true"})["elevations"]
    assert elevation["id"] in [e["id"] for e in pending]
    assert http.request("POST", "/medflow/v1/break-glass/review", json={"id": elevation["id"]}).status_code == 403
    auditor.ok("POST", "/medflow/v1/break-glass/review", json={"id": elevation["id"], "note": "checked"})
    pending = auditor.ok("GET", "/medflow/v1/break-glass/list", params={"unreviewed_only": "true"})
    assert elevation["id"] not in [e["id"] for e in pending.get("elevations", [])]


def test_an_expired_token_and_a_locked_account_stop_on_the_next_request(hospital, medflow_server, monkeypatch):
    radiology = hospital.depts["radiology"]
    locum, http = _new_account(hospital, "radiology.locum", "data_scientist", "radiology")
    client = mlflow.MlflowClient(tracking_uri=hospital.url)
    token = http.ok("POST", "/medflow/v1/tokens/create", json={"name": "notebook", "days": 1})
    use_credentials(monkeypatch, ANONYMOUS)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token["token"])
    assert client.get_experiment(radiology.experiment_id).name == radiology.experiment_name
    db = Database(medflow_server.db_url)  # time passes: the token's expiry is now behind us
    try:
        with db.write() as conn:
            conn.execute(update(api_tokens).where(api_tokens.c.token_id == int(token["token_info"]["id"]))
                         .values(expiry_time=now_ms() - 1))
    finally:
        db.dispose()
    with pytest.raises(MlflowException, match="invalid, expired or revoked"):
        client.get_experiment(radiology.experiment_id)

    second = http.ok("POST", "/medflow/v1/tokens/create", json={"name": "second", "days": 1})["token"]
    hospital.admin.ok("POST", "/medflow/v1/users/lock", json={"username": locum.username, "reason": "left"})
    for _ in range(3):  # refused on every request, by password and by token alike
        for use in ({"MLFLOW_TRACKING_USERNAME": locum.username, "MLFLOW_TRACKING_PASSWORD": PASSWORD},
                    {"MLFLOW_TRACKING_TOKEN": second}):
            use_credentials(monkeypatch, ANONYMOUS)
            for name, value in use.items():
                monkeypatch.setenv(name, value)
            with pytest.raises(MlflowException, match="locked") as err:
                client.get_experiment(radiology.experiment_id)
            assert err.value.error_code == "UNAUTHENTICATED"
    hospital.admin.ok("POST", "/medflow/v1/users/unlock", json={"username": locum.username})
    assert client.get_experiment(radiology.experiment_id).name == radiology.experiment_name


SEED_TRACKING = REPO_ROOT.parent / "shared" / "acceptance" / "seed_examples" / "a_tracking.py"


def test_seed_tracking_example_as_a_department_data_scientist(hospital, tmp_path):
    """The seed's a_tracking.py, unchanged, with a cardiology data scientist's credentials in the
    environment and nothing else: everything lands in cardiology, where radiology cannot see it."""
    if not SEED_TRACKING.is_file():
        pytest.skip(f"seed examples not found at {SEED_TRACKING.parent}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_") and k != "NETRC"}
    env.update(MLFLOW_TRACKING_URI=hospital.url, MLFLOW_TRACKING_USERNAME="cardiology.data_scientist",
               MLFLOW_TRACKING_PASSWORD=PASSWORD, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0",
               MLFLOW_DISABLE_TELEMETRY="true", MPLBACKEND="Agg", GIT_PYTHON_REFRESH="quiet")
    done = subprocess.run([sys.executable, str(SEED_TRACKING)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run_id = re.search(r"^RUN_ID=(\w+)$", done.stdout, re.M).group(1)
    viewer, outsider = hospital.http["cardiology.viewer"], hospital.http["radiology.data_scientist"]
    run = viewer.ok("GET", "/2.0/mlflow/runs/get", params={"run_id": run_id})["run"]
    assert run["info"]["status"] == "FINISHED"
    experiment = viewer.ok("GET", "/2.0/mlflow/experiments/get",
                           params={"experiment_id": run["info"]["experiment_id"]})["experiment"]
    assert experiment["name"] == "sepsis-early-warning-system"
    assert viewer.ok("GET", "/2.0/mlflow/registered-models/get", params={"name": "sepsis-early-warning"},
                     workspace="cardiology")["registered_model"]["name"] == "sepsis-early-warning"
    hidden = outsider.request("GET", "/2.0/mlflow/runs/get", params={"run_id": run_id})
    assert (hidden.status_code, hidden.json()["message"]) == (404, f"Run with id={run_id} not found")
    elsewhere = outsider.request("GET", "/2.0/mlflow/registered-models/get", params={"name": "sepsis-early-warning"},
                                 workspace="radiology")
    assert elsewhere.status_code == 404


SECOND_OBJECTS = {  # a request that names, besides its own object, one of another department's
    "model version from another department's run": lambda d, o: (
        "/2.0/mlflow/model-versions/create", {"name": d.model_name, "source": f"runs:/{o.run_id}", "run_id": o.run_id}),
    "model version from another department's logged model": lambda d, o: (
        "/2.0/mlflow/model-versions/create", {"name": d.model_name, "source": f"models:/{o.logged_model_id}"}),
    "logged model whose source run is another department's": lambda d, o: (
        "/2.0/mlflow/logged-models", {"experiment_id": d.experiment_id, "source_run_id": o.run_id}),
    "run outputs naming another department's logged model": lambda d, o: (
        "/2.0/mlflow/runs/outputs", {"run_id": d.run_id, "models": [{"model_id": o.logged_model_id, "step": 0}]}),
}
@pytest.mark.parametrize("what", SECOND_OBJECTS)
def test_objects_named_inside_a_request_answer_like_missing_ones(hospital, what):
    """A cardiology data scientist may write in cardiology, but a radiology object named in the request
    body answers exactly as an object that does not exist (and nothing is written)."""
    cardiology, radiology = hospital.depts["cardiology"], hospital.depts["radiology"]
    http = hospital.http["cardiology.data_scientist"]
    answers = []
    for other in (radiology, MISSING):
        path, body = SECOND_OBJECTS[what](cardiology, other)
        answers.append(answer(http.request("POST", path, json=body, workspace="cardiology"), other))
    assert answers[0] == answers[1] and answers[0][0] == 404, answers


def test_the_web_ui_prefix_follows_the_same_table(hospital):
    """/ajax-api serves the same endpoints for the web UI, behind the same checks."""
    radiology = hospital.depts["radiology"]
    viewer = hospital.http["cardiology.viewer"]
    session, base = viewer.session, hospital.url + "/ajax-api/2.0/mlflow"
    denied = session.post(f"{base}/runs/log-metric", json={"run_id": hospital.depts["cardiology"].run_id,
                                                           "key": "ui", "value": 1, "timestamp": 1}, timeout=30)
    assert (denied.status_code, denied.json()["error_code"]) == (403, "PERMISSION_DENIED")
    hidden = session.get(f"{base}/runs/get", params={"run_id": radiology.run_id}, timeout=30)
    missing = session.get(f"{base}/runs/get", params={"run_id": MISSING.run_id}, timeout=30)
    assert answer(hidden, radiology) == answer(missing, MISSING) and hidden.status_code == 404
    history = session.get(f"{base}/metrics/get-history-bulk", params={"run_id": radiology.run_id, "metric_key": "auc"},
                          timeout=30)
    assert history.json() == {"metrics": []}  # skipped, as an unknown run is

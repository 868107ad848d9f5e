"""The PHI guard on every write path, against a real server, through the official client.

One server per backend, started with a site guard file: block (the default) everywhere, redact
in workspace `phi-redact` and warn in workspace `phi-warn` (per-workspace modes). The seed's
"What to NEVER log" list is each rejected with INVALID_PARAMETER_VALUE, a message that says PHI
and never the value, nothing stored, and an audit event that records the finding by field and
kind without the value. The seed's safe logging example passes. Raw HTTP covers what the client
cannot send on its own (a mixed log-batch, dataset fields, aliases). Synthetic values only.
"""
from __future__ import annotations

import json
import time
import uuid

import mlflow
import pandas as pd
import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

R = "/api/2.0/mlflow"
AUDIT = "/api/medflow/v1/audit/events"
REDACT_WS, WARN_WS = "phi-redact", "phi-warn"
GUARD_FILE = f"""\
phi_guard:
  mode: block
  workspaces:
    {REDACT_WS}: {{mode: redact}}
    {WARN_WS}: {{mode: warn}}
"""

# The seed's list, one synthetic value per kind, under the key a careless script would use.
NEVER_LOG = {
    "name": ("patient_name", "Kimberly Foster"),
    "mrn": ("mrn", "26789777"),
    "date": ("dob", "1962-03-14"),
    "ssn": ("ssn", "475-95-6419"),
    "address": ("address", "717 Robert Expressway Suite 519, San Diego, CA 91951"),
    "phone": ("phone", "(548) 984-6256"),
    "email": ("email", "bmoore@gmail.com"),
}
WHERE = ("param", "tag", "description", "run_name")


# --- fixtures and helpers -------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(backend, server_factory, tmp_path_factory):
    """This module's one server per backend: block by default, redact and warn workspaces."""
    guard_file = tmp_path_factory.mktemp("phi-guard") / "guard.yaml"
    guard_file.write_text(GUARD_FILE)
    with server_factory(backend, "phi-guard", env={"MEDFLOW_PHI_GUARD_CONFIG": str(guard_file)}) as server:
        for workspace in (REDACT_WS, WARN_WS):
            response = requests.post(server.url + "/api/medflow/v1/workspaces/create",
                                     json={"name": workspace}, timeout=30)
            assert response.status_code == 200, response.text
        yield server


@pytest.fixture(scope="module")
def client(server) -> MlflowClient:
    return MlflowClient(tracking_uri=server.url)


@pytest.fixture(scope="module")
def experiment_id(client) -> str:
    return client.create_experiment(f"phi-guard-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def run_id(client, experiment_id) -> str:
    return client.create_run(experiment_id).info.run_id


def assert_blocked(excinfo, *values: str) -> None:
    error = excinfo.value
    assert error.error_code == "INVALID_PARAMETER_VALUE", error
    assert "PHI" in error.message, error.message
    assert not any(value in error.message for value in values), error.message


def now_ms() -> int:
    return int(time.time() * 1000)


def audit_findings(server, value: str | None, since: int, at_least: int = 1, **filters) -> list[dict]:
    """The PHI findings of the newest matching audit event since `since` (error events are
    written in the background: wait until `at_least` have been, one per refused request). In
    block and redact mode the value appears nowhere in that event."""
    deadline = time.monotonic() + 10
    while True:
        response = requests.get(server.url + AUDIT, params={"max_results": 5000, "since": since, **filters},
                                timeout=30)
        assert response.status_code == 200, response.text
        events = [e for e in response.json()["events"] if "phi_findings" in e["details"]]
        if len(events) >= at_least or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert events, f"no audit event with PHI findings for {filters}"
    event = events[-1]
    assert value is None or value not in json.dumps(event), event
    return event["details"]["phi_findings"]


def recorded(findings: list[dict], kind: str, action: str = "block") -> dict:
    matching = [f for f in findings if kind in f["kinds"] and f["action"] == action]
    assert matching, findings
    return matching[0]


def rest_blocked(server, path: str, body: dict, value: str) -> None:
    response = requests.post(server.url + R + path, json=body, timeout=30)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["error_code"] == "INVALID_PARAMETER_VALUE", payload
    assert "PHI" in payload["message"] and value not in payload["message"], payload


# --- block: the seed's never-log list -------------------------------------------------------

@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("kind", sorted(NEVER_LOG))
def test_never_log_list_is_blocked(server, client, experiment_id, kind, where):
    key, value = NEVER_LOG[kind]
    run_id = client.create_run(experiment_id).info.run_id
    writes = {
        "param": lambda: client.log_param(run_id, key, value),
        "tag": lambda: client.set_tag(run_id, key, value),
        "description": lambda: client.set_tag(run_id, "mlflow.note.content",
                                              f"Excluded patient: {key} {value}."),
        "run_name": lambda: client.create_run(experiment_id, run_name=f"debug {key} {value}"),
    }
    t0 = now_ms()
    with pytest.raises(MlflowException) as excinfo:
        writes[where]()
    assert_blocked(excinfo, value)

    data = client.get_run(run_id).data
    assert key not in data.params and key not in data.tags and "mlflow.note.content" not in data.tags
    if where == "run_name":
        runs = client.search_runs([experiment_id], filter_string="attributes.run_name LIKE 'debug %'")
        assert runs == []
        findings = audit_findings(server, value, t0, action="POST runs/create", outcome="error",
                                  resource_type="experiment", resource_id=experiment_id)
        assert recorded(findings, kind)["field"] == "run name"
    else:
        findings = audit_findings(server, value, t0, resource_type="run", resource_id=run_id, outcome="error")
        expected_field = "tag 'mlflow.note.content'" if where == "description" else f"{where} '{key}'"
        assert recorded(findings, kind)["field"] == expected_field


def test_a_batch_with_one_finding_writes_nothing(server, client, run_id):
    now = int(time.time() * 1000)
    metrics = [Metric(f"loss_{i % 50}", 0.5, now, i // 50) for i in range(900)]
    t0 = now_ms()
    with pytest.raises(MlflowException) as excinfo:
        client.log_batch(run_id, metrics=metrics, params=[Param("lr", "0.1"), Param("mrn", "26789777")],
                         tags=[RunTag("team", "sepsis")])
    assert_blocked(excinfo, "26789777")
    data = client.get_run(run_id).data
    assert data.metrics == {} and data.params == {} and "team" not in data.tags
    assert client.get_metric_history(run_id, "loss_0") == []
    assert recorded(audit_findings(server, "26789777", t0, resource_id=run_id, outcome="error"), "mrn")["field"] \
        == "param 'mrn'"


def test_fluent_log_params_with_one_finding_logs_none(server, experiment_id):
    mlflow.set_tracking_uri(server.url)
    with mlflow.start_run(experiment_id=experiment_id) as run:
        with pytest.raises(MlflowException) as excinfo:
            mlflow.log_params({"n_estimators": 200, "patient_name": "Kimberly Foster"})
        assert_blocked(excinfo, "Kimberly Foster")
    assert MlflowClient(server.url).get_run(run.info.run_id).data.params == {}


def test_metric_key_is_blocked(server, client, run_id):
    t0 = now_ms()
    with pytest.raises(MlflowException) as excinfo:
        client.log_metric(run_id, "auc_mrn_26789777", 0.91)
    assert_blocked(excinfo, "26789777")
    assert client.get_run(run_id).data.metrics == {}
    finding = recorded(audit_findings(server, "26789777", t0, resource_id=run_id, outcome="error"), "mrn")
    assert finding["field"] == "metric name"  # the key is the identifier: not quoted back


def test_run_rename_is_blocked(server, client, run_id):
    original = client.get_run(run_id).info.run_name
    with pytest.raises(MlflowException) as excinfo:
        client.update_run(run_id, name="review Kimberly Foster")
    assert_blocked(excinfo, "Kimberly Foster")
    assert client.get_run(run_id).info.run_name == original


def test_csv_artifact_with_a_name_column_is_blocked(server, client, run_id):
    csv_text = "name,age,prediction\nKimberly Foster,67,0.91\nDavid Alvarez,54,0.12\n"
    t0 = now_ms()
    with pytest.raises(Exception) as excinfo:  # the artifact repository raises requests' HTTPError
        client.log_text(run_id, csv_text, "debug/misclassified.csv")
    assert "PHI" in str(excinfo.value) and "Kimberly" not in str(excinfo.value)
    assert client.list_artifacts(run_id, "debug") == []
    findings = audit_findings(server, "Kimberly Foster", t0, resource_type="artifact", outcome="error")
    assert recorded(findings, "name")["field"] == "artifact 'misclassified.csv'"


def test_a_binary_artifact_named_after_a_patient_is_blocked(server, client, run_id, tmp_path):
    """Image content is not scanned, but its file name is."""
    photo = tmp_path / "kimberly_foster_face.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    with pytest.raises(Exception) as excinfo:
        client.log_artifact(run_id, str(photo), "photos")
    assert "PHI" in str(excinfo.value)
    assert client.list_artifacts(run_id, "photos") == []


def test_registry_names_descriptions_and_tags_are_blocked(server, client, run_id):
    base = f"sepsis-{uuid.uuid4().hex[:6]}"
    phi_name = f"{base} Kimberly Foster"
    t0 = now_ms()
    with pytest.raises(MlflowException) as excinfo:
        client.create_registered_model(phi_name)
    assert_blocked(excinfo, "Kimberly Foster")
    with pytest.raises(MlflowException) as excinfo:
        client.create_registered_model(base, description="Built for patient Kimberly Foster, DOB 03/14/1962")
    assert_blocked(excinfo, "Kimberly Foster")
    assert client.search_registered_models(filter_string=f"name LIKE '{base}%'") == []
    findings = audit_findings(server, "Kimberly Foster", t0, at_least=2, action="POST registered-models/create",
                              outcome="error", resource_type="registered_model")
    assert recorded(findings, "name")["field"] == "registered model description"

    client.create_registered_model(base, description="GBM for sepsis early warning")
    client.log_text(run_id, "flavors: {}\n", "model/MLmodel")
    source = f"runs:/{run_id}/model"
    writes = [
        lambda: client.update_registered_model(base, description="Patient Kimberly Foster asked for it"),
        lambda: client.set_registered_model_tag(base, "reviewed_case", "mrn 26789777"),
        lambda: client.rename_registered_model(base, f"{base} Kimberly Foster"),
        lambda: client.create_model_version(base, source, run_id,
                                            description="validated on patient Kimberly Foster"),
        lambda: client.create_model_version(base, source, run_id, tags={"example_patient": "Kimberly Foster"}),
    ]
    for write in writes:
        with pytest.raises(MlflowException) as excinfo:
            write()
        assert_blocked(excinfo, "Kimberly Foster", "26789777")
    model = client.get_registered_model(base)
    assert model.description == "GBM for sepsis early warning" and model.tags == {}
    assert client.search_model_versions(f"name = '{base}'") == []

    version = client.create_model_version(base, source, run_id, description="AUC 0.89 on the v2.3 holdout")
    for write in (lambda: client.update_model_version(base, version.version, description="pt MRN 26789777"),
                  lambda: client.set_model_version_tag(base, version.version, "patient_dob", "1962-03-14")):
        with pytest.raises(MlflowException) as excinfo:
            write()
        assert_blocked(excinfo, "26789777", "1962-03-14")
    stored = client.get_model_version(base, version.version)
    assert stored.description == "AUC 0.89 on the v2.3 holdout" and stored.tags == {}


def test_logged_model_name_params_and_tags_are_blocked(server, client, experiment_id):
    attempts = [dict(name="Kimberly Foster model"), dict(params={"patient_name": "Kimberly Foster"}),
                dict(tags={"patient_name": "Kimberly Foster"})]
    for attempt in attempts:
        with pytest.raises(MlflowException) as excinfo:
            client.create_logged_model(experiment_id, **attempt)
        assert_blocked(excinfo, "Kimberly Foster")
    assert list(client.search_logged_models([experiment_id])) == []

    model = client.create_logged_model(experiment_id, name="sepsis-gbm", params={"max_depth": "6"})
    for write in (lambda: client.log_model_params(model.model_id, {"mrn": "26789777"}),
                  lambda: client.set_logged_model_tags(model.model_id, {"dob": "1962-03-14"})):
        with pytest.raises(MlflowException) as excinfo:
            write()
        assert_blocked(excinfo, "26789777", "1962-03-14")
    stored = client.get_logged_model(model.model_id)
    assert stored.params == {"max_depth": "6"} and "dob" not in stored.tags


def test_dataset_input_with_a_patient_name_is_blocked(server, client, experiment_id, run_id):
    mlflow.set_tracking_uri(server.url)
    mlflow.set_experiment(experiment_id=experiment_id)  # the fluent run must be in the active experiment
    frame = pd.DataFrame({"heart_rate": [88, 102], "lactate": [1.1, 3.4]})
    dataset = mlflow.data.from_pandas(frame, name="cohort of Kimberly Foster")
    t0 = now_ms()
    with mlflow.start_run(run_id=run_id):
        with pytest.raises(MlflowException) as excinfo:
            mlflow.log_input(dataset, context="training")
        assert_blocked(excinfo, "Kimberly Foster")
    assert client.get_run(run_id).inputs.dataset_inputs == []
    findings = audit_findings(server, "Kimberly Foster", t0, resource_id=run_id, outcome="error")
    assert recorded(findings, "name")["field"] == "datasets[0].dataset.name"


# --- raw HTTP: what the client would not send on its own ------------------------------------

def test_raw_requests_are_blocked_and_write_nothing(server, client, experiment_id, run_id):
    now = int(time.time() * 1000)
    rest_blocked(server, "/runs/log-batch", {
        "run_id": run_id, "metrics": [{"key": "auc", "value": 0.9, "timestamp": now, "step": i}
                                      for i in range(998)],
        "params": [{"key": "lr", "value": "0.1"}],
        "tags": [{"key": "note", "value": "excluded pt 26789777 (DOB 03/14/1962)"}]}, "26789777")
    dataset = {"name": "sepsis-cohort", "digest": "5b1f0c2e", "source_type": "local",
               "source": json.dumps({"uri": "/data/patient_Kimberly_Foster/labs.csv"})}
    rest_blocked(server, "/runs/log-inputs", {"run_id": run_id, "datasets": [{"dataset": dataset}]},
                 "Kimberly")
    dataset = {"name": "sepsis-cohort", "digest": "5b1f0c2e", "source_type": "local", "source": "{}",
               "schema": json.dumps({"mlflow_colspec": [{"type": "string", "name": "ssn"}]}),
               "profile": json.dumps({"example_row": {"ssn": "475-95-6419"}})}
    rest_blocked(server, "/runs/log-inputs", {"run_id": run_id, "datasets": [{"dataset": dataset}]},
                 "475-95-6419")
    rest_blocked(server, "/runs/log-inputs", {"run_id": run_id, "datasets": [{
        "dataset": {**dataset, "profile": "{}"},
        "tags": [{"key": "patient_email", "value": "bmoore@gmail.com"}]}]}, "bmoore@gmail.com")
    data = client.get_run(run_id)
    assert data.data.metrics == {} and data.data.params == {} and data.inputs.dataset_inputs == []

    name = f"sepsis-{uuid.uuid4().hex[:6]}"
    client.create_registered_model(name)
    client.log_text(run_id, "flavors: {}\n", "model/MLmodel")
    version = client.create_model_version(name, f"runs:/{run_id}/model", run_id).version
    rest_blocked(server, "/registered-models/alias", {"name": name, "alias": "kimberly_foster",
                                                       "version": version}, "kimberly_foster")
    assert client.get_registered_model(name).aliases == {}
    rest_blocked(server, "/runs/create", {"experiment_id": experiment_id,
                                          "tags": [{"key": "mlflow.runName", "value": "mrn 26789777"}]},
                 "26789777")


# --- the seed's safe example ----------------------------------------------------------------

def test_the_seeds_safe_example_passes(server, client):
    mlflow.set_tracking_uri(server.url)
    mlflow.set_experiment(f"sepsis-early-warning-system-{uuid.uuid4().hex[:6]}")
    params = {"model_type": "GradientBoostingClassifier", "n_estimators": 200, "max_depth": 6,
              "learning_rate": 0.1, "data_version": "v2.3", "feature_set": "vitals+labs+demo",
              "train_size": 9643, "test_size": 2411, "positive_rate": 0.0713,
              "training_date": "2025-11-26T14:03:11.532118", "data_hash": "5b1f0c2e9a7d"}
    with mlflow.start_run(run_name="gbm-v2.3-20251126") as run:
        mlflow.log_params(params)
        mlflow.log_metrics({"auc_roc": 0.89, "sensitivity": 0.82, "specificity": 0.9, "ppv": 0.41})
        mlflow.set_tags({"team": "sepsis", "data_steward": "Dr. Jimmy Adkins", "compliance": "hipaa"})
        mlflow.set_tag("mlflow.note.content", "GBM trained on v2.3 dataset, AUC 0.89, approved by clinical review")
    data = client.get_run(run.info.run_id).data
    assert data.params == {k: str(v) for k, v in params.items()}
    assert data.metrics["auc_roc"] == 0.89 and data.tags["team"] == "sepsis"
    assert client.get_run(run.info.run_id).info.run_name == "gbm-v2.3-20251126"

    name = f"sepsis-early-warning-{uuid.uuid4().hex[:6]}"
    client.create_registered_model(name)
    client.log_text(run.info.run_id, "flavors: {}\n", "sepsis-model/MLmodel")
    version = client.create_model_version(name, f"runs:/{run.info.run_id}/sepsis-model", run.info.run_id,
                                          description="GBM trained on v2.3 dataset, AUC 0.89, approved by "
                                                      "clinical review")
    assert client.get_model_version(name, version.version).description.startswith("GBM trained on v2.3")


# --- redact and warn (per-workspace modes) --------------------------------------------------
# MedFlow's server-info tells 3.x clients workspaces are off, so the client refuses an active
# workspace; these tests send MLflow's X-MLFLOW-WORKSPACE header over raw HTTP instead.

def in_workspace(server, workspace: str):
    """call(path, body) POSTs, call(path, **params) GETs; both answer (status, JSON body)."""
    def call(path: str, body: dict | None = None, **params) -> tuple[int, dict]:
        headers = {"X-MLFLOW-WORKSPACE": workspace}
        if body is None:
            response = requests.get(server.url + R + path, params=params, headers=headers, timeout=30)
        else:
            response = requests.post(server.url + R + path, json=body, headers=headers, timeout=30)
        return response.status_code, response.json()
    return call


def test_redact_mode_stores_the_value_with_identifiers_replaced(server):
    call = in_workspace(server, REDACT_WS)
    status, body = call("/experiments/create", {"name": f"phi-redact-{uuid.uuid4().hex[:6]}"})
    assert status == 200, body
    experiment_id = body["experiment_id"]
    status, body = call("/runs/create", {"experiment_id": experiment_id, "run_name": "debug mrn 26789777"})
    assert status == 200, body
    run_id = body["run"]["info"]["run_id"]
    t0 = now_ms()
    writes = [("/runs/log-parameter", {"run_id": run_id, "key": "patient_name", "value": "Kimberly Foster"}),
              ("/runs/set-tag", {"run_id": run_id, "key": "mlflow.note.content",
                                 "value": "Excluded patient: ssn 475-95-6419."}),
              ("/runs/log-batch", {"run_id": run_id, "params": [{"key": "contact", "value": "(548) 984-6256"}],
                                   "tags": [{"key": "dob", "value": "1962-03-14"}]})]
    for path, body in writes:
        status, answer = call(path, body)
        assert status == 200, answer
    status, body = call("/runs/get", run_id=run_id)
    run = body["run"]
    assert run["info"]["run_name"] == "debug mrn [REDACTED:mrn]"
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert params == {"patient_name": "[REDACTED:name]", "contact": "[REDACTED:phone]"}
    assert tags["mlflow.note.content"] == "Excluded patient: ssn [REDACTED:ssn]."
    assert tags["dob"] == "[REDACTED:date]" and tags["mlflow.runName"] == "debug mrn [REDACTED:mrn]"
    findings = audit_findings(server, "Kimberly Foster", t0, action="POST runs/log-parameter",
                              resource_id=run_id)
    assert recorded(findings, "name", "redact")["field"] == "param 'patient_name'"

    # a key or a registered model name cannot be redacted and still name its entry: blocked
    for path, body in [("/runs/log-metric", {"run_id": run_id, "key": "auc_mrn_26789777", "value": 0.9,
                                             "timestamp": now_ms()}),
                       ("/registered-models/create", {"name": "sepsis for Kimberly Foster"})]:
        status, answer = call(path, body)
        assert status == 400 and answer["error_code"] == "INVALID_PARAMETER_VALUE", answer
        assert "PHI" in answer["message"] and "Kimberly" not in answer["message"], answer
    status, body = call("/runs/get", run_id=run_id)
    assert "metrics" not in body["run"]["data"]


def test_warn_mode_stores_as_written_and_audits(server):
    call = in_workspace(server, WARN_WS)
    status, body = call("/experiments/create", {"name": f"phi-warn-{uuid.uuid4().hex[:6]}"})
    assert status == 200, body
    status, body = call("/runs/create", {"experiment_id": body["experiment_id"]})
    run_id = body["run"]["info"]["run_id"]
    t0 = now_ms()
    status, body = call("/runs/set-tag", {"run_id": run_id, "key": "patient_name", "value": "Kimberly Foster"})
    assert status == 200, body
    status, body = call("/runs/get", run_id=run_id)
    assert {"key": "patient_name", "value": "Kimberly Foster"} in body["run"]["data"]["tags"]
    # stored as written, yet the audit trail never holds the value: its change record is redacted
    finding = recorded(audit_findings(server, "Kimberly Foster", t0, resource_id=run_id,
                                      action="POST runs/set-tag", outcome="success"), "name", "warn")
    assert finding["field"] == "tag 'patient_name'" and "Kimberly" not in json.dumps(finding)

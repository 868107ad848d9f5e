"""runs/* through the official clients (3.x in-process, 2.12.1 in a subprocess) and raw HTTP.

One server per backend for the module. Bad input goes over raw HTTP with `requests`, and
every rejection is checked by reading back that nothing was stored.
"""
from __future__ import annotations

import json
import re
import subprocess
import textwrap
import time

import mlflow
import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import LoggedModelOutput
from mlflow.exceptions import MlflowException

from tests.servers import REPO_ROOT

API = "/api/2.0/mlflow"
MLFLOW2_PYTHON = REPO_ROOT / ".venv-mlflow2" / "bin" / "python"


@pytest.fixture(scope="module")
def server(medflow_server):
    return medflow_server


@pytest.fixture(scope="module")
def client(server) -> MlflowClient:
    return MlflowClient(tracking_uri=server.url)


@pytest.fixture(scope="module")
def experiment_id(client) -> str:
    return client.create_experiment("runs-compat")


def post(server, path: str, body) -> requests.Response:
    return requests.post(server.url + API + path, json=body, timeout=30)


def get(server, path: str, **params) -> requests.Response:
    return requests.get(server.url + API + path, params=params, timeout=30)


def assert_error(response: requests.Response, status: int, code: str, fragment: str = "") -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code, body
    assert fragment in body["message"], body
    return body


def new_run(client, experiment_id, **kwargs):
    return client.create_run(experiment_id, **kwargs)


# --- lifecycle --------------------------------------------------------------------------

def test_create_get_update_delete_restore(client, experiment_id, server):
    run = client.create_run(experiment_id, run_name="lifecycle", tags={"team": "icu"}, start_time=1000)
    info = run.info
    assert re.fullmatch(r"[0-9a-f]{32}", info.run_id)
    assert info.run_name == "lifecycle" and info.status == "RUNNING" and info.lifecycle_stage == "active"
    assert info.start_time == 1000 and info.end_time is None
    experiment = client.get_experiment(experiment_id)
    assert info.artifact_uri == f"{experiment.artifact_location}/{info.run_id}/artifacts"
    assert run.data.tags == {"team": "icu", "mlflow.runName": "lifecycle"}

    client.set_terminated(info.run_id, "FINISHED", end_time=5000)
    got = client.get_run(info.run_id)
    assert (got.info.status, got.info.end_time) == ("FINISHED", 5000)

    client.update_run(info.run_id, name="renamed")
    got = client.get_run(info.run_id)
    assert got.info.run_name == "renamed" and got.data.tags["mlflow.runName"] == "renamed"
    client.set_tag(info.run_id, "mlflow.runName", "by-tag")
    assert client.get_run(info.run_id).info.run_name == "by-tag"

    client.delete_run(info.run_id)
    assert client.get_run(info.run_id).info.lifecycle_stage == "deleted"
    active = {r.info.run_id for r in client.search_runs([experiment_id])}
    assert info.run_id not in active
    client.restore_run(info.run_id)
    assert client.get_run(info.run_id).info.lifecycle_stage == "active"


def test_wire_shape_of_run_documents(server, experiment_id):
    created = post(server, "/runs/create", {"experiment_id": experiment_id, "run_name": "shape",
                                            "start_time": 123, "user_id": "alice"}).json()["run"]
    assert set(created) == {"info", "data", "inputs"}  # create answers without outputs, as MLflow
    run_id = created["info"]["run_id"]
    got = get(server, "/runs/get", run_id=run_id).json()["run"]
    assert set(got) == {"info", "data", "inputs", "outputs"}
    assert got["info"] == {"run_uuid": run_id, "experiment_id": experiment_id, "run_name": "shape",
                           "user_id": "alice", "status": "RUNNING", "start_time": 123,
                           "artifact_uri": got["info"]["artifact_uri"], "lifecycle_stage": "active",
                           "run_id": run_id}
    assert got["data"] == {"tags": [{"key": "mlflow.runName", "value": "shape"}]}
    assert got["inputs"] == {} and got["outputs"] == {}
    # run_uuid alone is accepted, as the 1.x name of run_id
    assert get(server, "/runs/get", run_uuid=run_id).json()["run"]["info"]["run_id"] == run_id
    updated = post(server, "/runs/update", {"run_id": run_id, "status": "KILLED", "end_time": 456}).json()
    assert updated["run_info"]["status"] == "KILLED" and updated["run_info"]["end_time"] == 456


def test_create_run_defaults(server, client):
    body = post(server, "/runs/create", {}).json()["run"]  # no experiment: the Default one, "0"
    assert body["info"]["experiment_id"] == "0"
    name = body["info"]["run_name"]
    assert name and {"key": "mlflow.runName", "value": name} in body["data"]["tags"]
    assert body["info"]["start_time"] > 0


def test_create_run_rejections(server, client):
    assert_error(post(server, "/runs/create", {"experiment_id": "987654"}), 404,
                 "RESOURCE_DOES_NOT_EXIST", "No Experiment with id=987654")
    gone = client.create_experiment("runs-compat-deleted")
    client.delete_experiment(gone)
    assert_error(post(server, "/runs/create", {"experiment_id": gone}), 400, "INVALID_PARAMETER_VALUE",
                 "must be in the 'active' state")
    assert_error(post(server, "/runs/create", {"experiment_id": "0", "run_name": "a",
                                               "tags": [{"key": "mlflow.runName", "value": "b"}]}),
                 400, "INVALID_PARAMETER_VALUE", "different values")
    assert_error(post(server, "/runs/create", {"experiment_id": "0", "run_name": "n" * 251}),
                 400, "INVALID_PARAMETER_VALUE", "run_name")
    assert_error(post(server, "/runs/create", {"experiment_id": "0", "start_time": "yesterday"}),
                 400, "INVALID_PARAMETER_VALUE", "start_time")


def test_update_rejects_unknown_status(server, client, experiment_id):
    run_id = new_run(client, experiment_id).info.run_id
    assert_error(post(server, "/runs/update", {"run_id": run_id, "status": "DONE"}), 400,
                 "INVALID_PARAMETER_VALUE", "status")
    assert client.get_run(run_id).info.status == "RUNNING"


# --- params and tags ---------------------------------------------------------------------

def test_params_are_immutable(client, experiment_id, server):
    run_id = new_run(client, experiment_id).info.run_id
    client.log_param(run_id, "threshold", "0.5")
    client.log_param(run_id, "threshold", "0.5")  # the same value again is fine
    with pytest.raises(MlflowException) as err:
        client.log_param(run_id, "threshold", "0.7")
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    assert ("Changing param values is not allowed. Param with key='threshold' was already logged with "
            f"value='0.5' for run ID='{run_id}'. Attempted logging new value '0.7'.") in err.value.message
    assert client.get_run(run_id).data.params == {"threshold": "0.5"}
    assert post(server, "/runs/log-parameter", {"run_id": run_id, "key": "empty"}).status_code == 200
    assert client.get_run(run_id).data.params["empty"] == ""


def test_tags_set_and_delete(client, experiment_id, server):
    run_id = new_run(client, experiment_id).info.run_id
    client.set_tag(run_id, "reviewed", "yes")
    client.set_tag(run_id, "reviewed", "twice")
    assert client.get_run(run_id).data.tags["reviewed"] == "twice"
    client.delete_tag(run_id, "reviewed")
    assert "reviewed" not in client.get_run(run_id).data.tags
    assert_error(post(server, "/runs/delete-tag", {"run_id": run_id, "key": "reviewed"}), 404,
                 "RESOURCE_DOES_NOT_EXIST", "No tag with name: reviewed")


@pytest.mark.parametrize("path, field, limit", [("/runs/log-parameter", "key", 250),
                                                ("/runs/set-tag", "key", 250),
                                                ("/runs/log-parameter", "value", 6000),
                                                ("/runs/set-tag", "value", 8000)])
def test_length_limits_reject_without_truncating(client, experiment_id, server, path, field, limit):
    run_id = new_run(client, experiment_id).info.run_id
    ok = {"run_id": run_id, "key": "k", "value": "v", field: "x" * limit}
    assert post(server, path, ok).status_code == 200
    too_long = {"run_id": run_id, "key": "k2", "value": "v", field: "y" * (limit + 1)}
    assert_error(post(server, path, too_long), 400, "INVALID_PARAMETER_VALUE", f"{limit} characters")
    data = client.get_run(run_id).data
    stored = data.params if "parameter" in path else data.tags
    assert not any(k.startswith("yy") or v.startswith("yy") for k, v in stored.items())
    assert "k2" not in stored


@pytest.mark.parametrize("key, fragment", [("auc#1", "Names may only contain"),
                                           ("../escape", "resolve to other names"),
                                           ("/abs", "resolve to other names")])
def test_bad_keys_are_rejected(client, experiment_id, server, key, fragment):
    run_id = new_run(client, experiment_id).info.run_id
    for path in ("/runs/log-parameter", "/runs/set-tag"):
        assert_error(post(server, path, {"run_id": run_id, "key": key, "value": "v"}), 400,
                     "INVALID_PARAMETER_VALUE", fragment)
    data = client.get_run(run_id).data
    assert key not in data.params and key not in data.tags


def test_writes_to_a_deleted_run_are_rejected(client, experiment_id, server):
    run_id = new_run(client, experiment_id).info.run_id
    client.delete_run(run_id)
    message = f"The run {run_id} must be in the 'active' state. Current state is deleted."
    for path, body in [("/runs/log-parameter", {"key": "p", "value": "1"}),
                       ("/runs/set-tag", {"key": "t", "value": "1"}),
                       ("/runs/log-metric", {"key": "m", "value": 1, "timestamp": 1}),
                       ("/runs/log-batch", {"params": [{"key": "q", "value": "1"}]}),
                       ("/runs/update", {"status": "FINISHED"})]:
        assert_error(post(server, path, {"run_id": run_id, **body}), 400, "INVALID_PARAMETER_VALUE", message)
    data = client.get_run(run_id).data
    assert not data.params and not data.metrics and "t" not in data.tags


def test_unknown_and_missing_run_ids(server):
    unknown = "0123456789abcdef0123456789abcdef"
    assert_error(get(server, "/runs/get", run_id=unknown), 404, "RESOURCE_DOES_NOT_EXIST",
                 f"Run with id={unknown} not found")
    assert_error(get(server, "/runs/get"), 400, "INVALID_PARAMETER_VALUE",
                 "Missing value for required parameter 'run_id'")
    assert_error(post(server, "/runs/log-parameter", {"run_id": unknown, "key": "k", "value": "v"}),
                 404, "RESOURCE_DOES_NOT_EXIST")


def test_malformed_requests(client, experiment_id, server):
    run_id = new_run(client, experiment_id).info.run_id
    url = server.url + API + "/runs/log-parameter"
    json_type = {"Content-Type": "application/json"}
    bad_utf8 = b'{"run_id": "' + run_id.encode() + b'", "key": "k", "value": "\xff\xfe"}'
    assert_error(requests.post(url, data=bad_utf8, headers=json_type, timeout=30), 400, "BAD_REQUEST", "UTF-8")
    assert_error(requests.post(url, data=b"{not json", headers=json_type, timeout=30), 400, "BAD_REQUEST", "JSON")
    assert_error(requests.post(url, data=b"[1, 2]", headers=json_type, timeout=30), 400, "BAD_REQUEST")
    body = json.dumps({"run_id": run_id, "key": "k", "value": "v"}).encode()
    assert_error(requests.post(url, data=body, headers={"Content-Type": "text/plain"}, timeout=30),
                 400, "INVALID_PARAMETER_VALUE", "Content-Type")
    assert_error(requests.post(url, data=body, headers={"Content-Type": ""}, timeout=30),
                 400, "INVALID_PARAMETER_VALUE", "Content-Type")
    assert_error(post(server, "/runs/log-parameter", {"run_id": run_id, "key": "k", "value": 5}), 400,
                 "INVALID_PARAMETER_VALUE", "value")
    assert client.get_run(run_id).data.params == {}


def test_nul_characters_are_refused_clearly_and_audited(client, experiment_id, server):
    """PostgreSQL text cannot hold NUL, and no backend an unpaired surrogate: refused on every
    backend alike, before anything is written, and the refusals still reach the audit trail."""
    run_id = new_run(client, experiment_id).info.run_id
    for response in (post(server, "/runs/log-parameter", {"run_id": run_id, "key": "k", "value": "a\u0000b"}),
                     post(server, "/runs/set-tag", {"run_id": run_id, "key": "t\u0000", "value": "v"}),
                     post(server, "/runs/log-batch", {"run_id": run_id, "params": [{"key": "p", "value": "1"}],
                                                      "tags": [{"key": "t", "value": ["\u0000"]}]}),
                     post(server, "/runs/log-metric", {"run_id": "ab\u0000cd", "key": "m", "value": 1,
                                                       "timestamp": 1}),
                     get(server, "/runs/get", run_id="ab\x00cd")):
        assert_error(response, 400, "INVALID_PARAMETER_VALUE", "NUL character")
    data = client.get_run(run_id).data
    assert data.params == {} and "t" not in data.tags
    nested = {"run_id": run_id, "key": "k", "value": "v", "deep": [[[[{"x": "\u0000"}]]]]}
    assert_error(post(server, "/runs/log-parameter", nested), 400, "INVALID_PARAMETER_VALUE", "NUL character")
    literal = post(server, "/runs/log-parameter", {"run_id": run_id, "key": "k", "value": "\\u0000 as text"})
    assert literal.status_code == 200, literal.text  # a backslash-u written out is just text
    assert client.get_run(run_id).data.params == {"k": "\\u0000 as text"}
    # JSON's \\ud800-\\udfff escapes: a pair is one character (an emoji), a lone one is no character at all
    lone = post(server, "/runs/set-tag", {"run_id": run_id, "key": "triage", "value": "red \ud83d"})
    assert_error(lone, 400, "INVALID_PARAMETER_VALUE", "unpaired UTF-16 surrogate")
    assert_error(post(server, "/runs/log-metric", {"run_id": "\udfff", "key": "m", "value": 1, "timestamp": 1}),
                 400, "INVALID_PARAMETER_VALUE", "unpaired UTF-16 surrogate")
    assert post(server, "/runs/set-tag", {"run_id": run_id, "key": "triage", "value": "red \U0001F691"}).ok
    assert client.get_run(run_id).data.tags["triage"] == "red \U0001F691"

    # An artifact path names its resource before anything checks it: the audit event keeps the
    # path with U+FFFD where the NUL was (else PostgreSQL refuses the event and its whole batch).
    artifact = requests.get(server.url + "/api/2.0/mlflow-artifacts/artifacts/ward%00-7/x.txt", timeout=30)
    assert_error(artifact, 400, "INVALID_PARAMETER_VALUE", "NUL or control characters")
    audit = server.url + "/api/medflow/v1/audit"
    for _ in range(50):  # refusals are appended by the background writer within a flush interval
        events = requests.get(audit + "/events", params={"resource_type": "artifact", "outcome": "error"},
                              timeout=30).json()["events"]
        if events:
            break
        time.sleep(0.1)
    assert [e["resource_id"] for e in events][-1:] == ["ward\ufffd-7/x.txt"]
    refused = requests.get(audit + "/events", params={"action": "GET runs/get", "outcome": "error"}, timeout=30)
    assert refused.json()["events"], "the refused runs/get was not audited"
    assert requests.get(audit + "/verify", timeout=30).json()["ok"] is True


# --- inputs, outputs, models --------------------------------------------------------------

def test_dataset_inputs(client, experiment_id, server):
    import pandas as pd

    mlflow.set_tracking_uri(server.url)
    frame = pd.DataFrame({"heart_rate": [80.0, 95.0], "lactate": [1.1, 2.4]})
    dataset = mlflow.data.from_pandas(frame, name="vitals-v2")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_input(dataset, context="training")
        mlflow.log_input(dataset, context="training")  # the same dataset again: one input
    inputs = client.get_run(run.info.run_id).inputs.dataset_inputs
    assert len(inputs) == 1
    assert inputs[0].dataset.name == "vitals-v2" and inputs[0].dataset.digest == dataset.digest
    assert [(t.key, t.value) for t in inputs[0].tags] == [("mlflow.data.context", "training")]
    assert json.loads(inputs[0].dataset.schema)["mlflow_colspec"]
    bad = {"run_id": run.info.run_id, "datasets": [{"dataset": {"name": "d", "digest": "x" * 37,
                                                                "source_type": "code", "source": "{}"}}]}
    assert_error(post(server, "/runs/log-inputs", bad), 400, "INVALID_PARAMETER_VALUE", "digest")


def test_log_model_appends_to_history_tag(client, experiment_id, server):
    run_id = new_run(client, experiment_id).info.run_id
    model = {"run_id": run_id, "artifact_path": "model", "utc_time_created": "2026-01-01 00:00:00.0",
             "model_uuid": "abc", "flavors": {"sklearn": {"pickled_model": "model.pkl", "config": {"x": 1}}},
             "mlflow_version": "2.12.1"}
    for artifact_path in ("model", "model2"):
        model["artifact_path"] = artifact_path
        assert post(server, "/runs/log-model", {"run_id": run_id, "model_json": json.dumps(model)}).status_code == 200
    history = json.loads(client.get_run(run_id).data.tags["mlflow.log-model.history"])
    assert [h["artifact_path"] for h in history] == ["model", "model2"]
    assert history[0] == {"run_id": run_id, "artifact_path": "model", "utc_time_created": "2026-01-01 00:00:00.0",
                          "model_uuid": "abc", "flavors": {"sklearn": {"pickled_model": "model.pkl"}}}
    assert_error(post(server, "/runs/log-model", {"run_id": run_id, "model_json": "{nope"}), 400,
                 "INVALID_PARAMETER_VALUE", "valid JSON")
    assert_error(post(server, "/runs/log-model", {"run_id": run_id, "model_json": "{}"}), 400,
                 "INVALID_PARAMETER_VALUE", "missing mandatory fields")


def test_outputs_link_logged_models(client, experiment_id, server):
    run_id = new_run(client, experiment_id).info.run_id
    model = client.create_logged_model(experiment_id, name="clf", source_run_id=run_id)
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, 3)])
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, 3)])  # idempotent
    outputs = client.get_run(run_id).outputs.model_outputs
    assert [(o.model_id, o.step) for o in outputs] == [(model.model_id, 3)]
    assert_error(post(server, "/runs/outputs", {"run_id": run_id, "models": [{"model_id": "m-nope", "step": 0}]}),
                 404, "RESOURCE_DOES_NOT_EXIST", "m-nope")


# --- the 2.12.1 client --------------------------------------------------------------------

MLFLOW2_SCRIPT = textwrap.dedent("""
    import json, sys
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag
    mlflow.set_tracking_uri(sys.argv[1])
    client = MlflowClient()
    exp = mlflow.set_experiment("runs-compat-mlflow2").experiment_id
    with mlflow.start_run(run_name="v2-run") as run:
        mlflow.log_params({"lr": 0.1, "depth": 3})
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.set_tag("cohort", "adult")
        client.log_batch(run.info.run_id, metrics=[Metric("auc", 0.9, 1, 0)],
                         params=[Param("p", "v")], tags=[RunTag("t", "v")])
    got = client.get_run(run.info.run_id)
    found = client.search_runs([exp], "metrics.auc > 0.5 and params.lr = '0.1'", order_by=["metrics.auc DESC"])
    history = client.get_metric_history(run.info.run_id, "loss")
    print(json.dumps({"run_id": run.info.run_id, "status": got.info.status, "name": got.info.run_name,
                      "metrics": got.data.metrics, "params": got.data.params, "tags": got.data.tags,
                      "found": [r.info.run_id for r in found],
                      "history": [[m.step, m.value] for m in history]}))
""")


def test_mlflow2_client_round_trip(server):
    if not MLFLOW2_PYTHON.exists():
        pytest.skip(f"{MLFLOW2_PYTHON} is missing (scripts/ creates the mlflow 2.12.1 venv)")
    done = subprocess.run([str(MLFLOW2_PYTHON), "-c", MLFLOW2_SCRIPT, server.url], capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["status"] == "FINISHED" and out["name"] == "v2-run"
    assert out["metrics"] == {"loss": 1 / 3, "auc": 0.9}
    assert out["params"] == {"lr": "0.1", "depth": "3", "p": "v"}
    assert out["tags"]["cohort"] == "adult" and out["tags"]["t"] == "v"
    assert out["found"] == [out["run_id"]]
    assert out["history"] == [[0, 1.0], [1, 0.5], [2, 1 / 3]]

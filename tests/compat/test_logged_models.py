"""3.x logged models through the official client against a real server (SQLite and PostgreSQL).

End to end: mlflow.sklearn.log_model (create -> run outputs -> metric copy -> artifact uploads
-> finalize READY), loading the model back with `models:/<model_id>` (no registry involved),
search with filters and order_by, tags, params, external and pending models, deletion,
artifact listing; bad input through raw HTTP.
"""
from __future__ import annotations

import re

import mlflow
import numpy as np
import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus
from sklearn.linear_model import LogisticRegression

pytestmark = pytest.mark.timeout(600)
API = "/api/2.0/mlflow/logged-models"

X = np.array([[0.1, 1.0], [1.0, 0.1], [0.4, 0.6], [0.9, 0.2], [0.2, 0.8], [0.7, 0.3]])
Y = np.array([0, 1, 0, 1, 0, 1])


@pytest.fixture(scope="module")
def client(medflow_server) -> MlflowClient:
    mlflow.set_tracking_uri(medflow_server.url)
    return MlflowClient(tracking_uri=medflow_server.url)


@pytest.fixture(scope="module")
def experiment_id(client, medflow_server) -> str:
    experiment_id = client.create_experiment(f"logged-models-{medflow_server.backend}")
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


@pytest.fixture(scope="module")
def sklearn_model(client, experiment_id):
    """One LogisticRegression logged the 3.x way inside a run."""
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_params({"C": "1.0", "solver": "lbfgs"})
        mlflow.log_metrics({"auc": 0.91, "sensitivity": 0.8})
        info = mlflow.sklearn.log_model(LogisticRegression().fit(X, Y), name="clf", input_example=X[:2])
    return run.info.run_id, info


def test_sklearn_log_model_end_to_end(client, experiment_id, sklearn_model):
    run_id, info = sklearn_model
    assert re.fullmatch(r"m-[0-9a-f]{32}", info.model_id)
    model = client.get_logged_model(info.model_id)
    assert model.status == LoggedModelStatus.READY
    assert model.name == "clf" and model.experiment_id == experiment_id and model.source_run_id == run_id
    assert model.artifact_location == f"mlflow-artifacts:/{experiment_id}/models/{info.model_id}/artifacts"
    assert model.params == {"C": "1.0", "solver": "lbfgs"}
    metrics = {m.key: (m.value, m.run_id, m.model_id) for m in model.metrics}
    assert metrics == {"auc": (0.91, run_id, info.model_id), "sensitivity": (0.8, run_id, info.model_id)}
    assert model.tags["mlflow.user"]
    files = {f.path for f in client.list_logged_model_artifacts(info.model_id)}
    assert {"MLmodel", "conda.yaml", "python_env.yaml", "requirements.txt"} <= files
    outputs = client.get_run(run_id).outputs.model_outputs
    assert [o.model_id for o in outputs] == [info.model_id]


def test_load_model_back_without_the_registry(sklearn_model, tmp_path):
    _, info = sklearn_model
    loaded = mlflow.pyfunc.load_model(f"models:/{info.model_id}")
    assert list(loaded.predict(X)) == list(LogisticRegression().fit(X, Y).predict(X))
    local = mlflow.artifacts.download_artifacts(f"models:/{info.model_id}", dst_path=str(tmp_path))
    assert (tmp_path / "MLmodel").exists() or "MLmodel" in str(list(tmp_path.rglob("MLmodel")))
    assert local


def test_create_external_and_pending_models(client, experiment_id):
    external = mlflow.create_external_model(name="external-risk-score", tags={"vendor": "none"},
                                            model_type="scorecard")
    fetched = client.get_logged_model(external.model_id)
    assert fetched.status == LoggedModelStatus.READY
    assert fetched.tags["vendor"] == "none" and fetched.tags["mlflow.model.isExternal"] == "true"
    assert fetched.model_type == "scorecard" and fetched.source_run_id in (None, "")

    pending = mlflow.initialize_logged_model(name="pending-model", tags={"stage": "draft"})
    assert pending.status == LoggedModelStatus.PENDING
    failed = mlflow.finalize_logged_model(pending.model_id, LoggedModelStatus.FAILED)
    assert failed.status == LoggedModelStatus.FAILED
    ready = mlflow.finalize_logged_model(pending.model_id, "READY")
    assert ready.status == LoggedModelStatus.READY
    assert ready.last_updated_timestamp >= ready.creation_timestamp


def test_generated_name_when_none_given(client, experiment_id):
    model = client.create_logged_model(experiment_id)
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d+", model.name), model.name


def test_tags_and_params(client, experiment_id):
    model = client.create_logged_model(experiment_id, name="tagged", params={"depth": "3"})
    client.set_logged_model_tags(model.model_id, {"validated": "true", "team/icu": "yes", "note": "a"})
    client.set_logged_model_tags(model.model_id, {"note": "b"})
    client.delete_logged_model_tag(model.model_id, "validated")
    client.delete_logged_model_tag(model.model_id, "team/icu")  # a key with '/' in the URL path
    client.log_model_params(model.model_id, {"penalty": "l2", "depth": "3"})
    fetched = client.get_logged_model(model.model_id)
    assert {k: v for k, v in fetched.tags.items() if not k.startswith("mlflow.")} == {"note": "b"}
    assert fetched.params == {"depth": "3", "penalty": "l2"}
    with pytest.raises(mlflow.exceptions.MlflowException, match="RESOURCE_DOES_NOT_EXIST|No tag"):
        client.delete_logged_model_tag(model.model_id, "validated")
    with pytest.raises(mlflow.exceptions.MlflowException, match="Changing param values is not allowed"):
        client.log_model_params(model.model_id, {"depth": "4"})
    assert client.get_logged_model(model.model_id).params == {"depth": "3", "penalty": "l2"}


def test_many_params_are_all_kept(client, experiment_id):
    params = {f"p{i:03d}": str(i) for i in range(250)}  # the client sends 100 + later batches
    model = client.create_logged_model(experiment_id, name="wide", params=params)
    assert client.get_logged_model(model.model_id).params == params


def test_search_filter_order_and_pages(client, medflow_server):
    exp = client.create_experiment(f"lm-search-{medflow_server.backend}")
    with mlflow.start_run(experiment_id=exp) as run:
        pass
    ids = {}
    for i, (name, auc) in enumerate([("alpha", 0.70), ("beta", 0.90), ("gamma", 0.80), ("beta", 0.60)]):
        model = client.create_logged_model(exp, name=name, source_run_id=run.info.run_id,
                                           params={"rank": str(i)}, tags={"team": "icu" if i % 2 else "ed"})
        client.log_metric(run.info.run_id, "auc", auc, model_id=model.model_id)
        ids[model.model_id] = (name, auc)
    names = lambda models: [m.name for m in models]  # noqa: E731

    assert sorted(names(mlflow.search_logged_models(experiment_ids=[exp], output_format="list"))) == \
        ["alpha", "beta", "beta", "gamma"]
    assert names(mlflow.search_logged_models(experiment_ids=[exp], filter_string="name = 'beta'",
                                             output_format="list")) == ["beta", "beta"]
    by_auc = mlflow.search_logged_models(experiment_ids=[exp], filter_string="metrics.auc >= 0.7",
                                         order_by=[{"field_name": "metrics.auc", "ascending": False}],
                                         output_format="list")
    assert [(m.name, ids[m.model_id][1]) for m in by_auc] == [("beta", 0.9), ("gamma", 0.8), ("alpha", 0.7)]
    assert names(mlflow.search_logged_models(experiment_ids=[exp], filter_string="tags.team = 'icu' AND params.rank = '3'",
                                             output_format="list")) == ["beta"]
    assert names(mlflow.search_logged_models(experiment_ids=[exp], filter_string="name LIKE 'g%'",
                                             output_format="list")) == ["gamma"]
    oldest_first = mlflow.search_logged_models(experiment_ids=[exp], order_by=[{"field_name": "creation_time",
                                                                               "ascending": True}],
                                               output_format="list")
    assert [m.model_id for m in oldest_first] == list(ids)
    newest_first = mlflow.search_logged_models(experiment_ids=[exp], output_format="list")
    assert [m.model_id for m in newest_first] == list(reversed(ids))
    assert names(mlflow.search_logged_models(experiment_ids=[exp], filter_string="status = 'LOGGED_MODEL_PENDING'",
                                             output_format="list")) != []

    seen, token = [], None
    while True:
        page = client.search_logged_models(experiment_ids=[exp], max_results=3, page_token=token)
        seen += [m.model_id for m in page]
        token = page.token
        if not token:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    assert mlflow.search_logged_models(experiment_ids=[exp], max_results=2, output_format="list")[0].model_id \
        == newest_first[0].model_id
    frame = mlflow.search_logged_models(experiment_ids=[exp])
    assert len(frame) == 4 and set(frame["name"]) == {"alpha", "beta", "gamma"}


def test_delete_hides_the_model(client, experiment_id):
    model = client.create_logged_model(experiment_id, name="to-delete")
    client.delete_logged_model(model.model_id)
    with pytest.raises(mlflow.exceptions.MlflowException, match="not found"):
        client.get_logged_model(model.model_id)
    r = requests.get(f"{mlflow.get_tracking_uri()}{API}/{model.model_id}", params={"allow_deleted": "true"})
    assert r.json()["model"]["info"]["model_id"] == model.model_id
    found = mlflow.search_logged_models(experiment_ids=[experiment_id], filter_string="name = 'to-delete'",
                                        output_format="list")
    assert found == []
    with pytest.raises(mlflow.exceptions.MlflowException, match="Failed to get logged model"):
        client.set_logged_model_tags(model.model_id, {"a": "b"})  # the client checks first
    r = requests.patch(f"{mlflow.get_tracking_uri()}{API}/{model.model_id}/tags",
                       json={"tags": [{"key": "a", "value": "b"}]})
    assert r.status_code == 404 and r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_model_artifacts_listing_and_subdirectories(client, experiment_id, tmp_path):
    model = client.create_logged_model(experiment_id, name="with-files")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "weights.bin").write_bytes(b"\x00" * 10)
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    client.log_model_artifacts(model.model_id, str(tmp_path))
    assert [(f.path, f.is_dir) for f in client.list_logged_model_artifacts(model.model_id)] == [
        ("MLmodel", False), ("sub", True)]
    assert [(f.path, f.file_size) for f in client.list_logged_model_artifacts(model.model_id, "sub")] == [
        ("sub/weights.bin", 10)]
    r = requests.get(f"{mlflow.get_tracking_uri()}{API}/{model.model_id}/artifacts/directories",
                     params={"artifact_directory_path": "sub"})
    assert r.json() == {"root_uri": model.artifact_location,
                        "files": [{"path": "sub/weights.bin", "is_dir": False, "file_size": 10}]}
    files_url = f"{mlflow.get_tracking_uri()}{API}/{model.model_id}/artifacts/files"
    r = requests.get(files_url, params={"artifact_file_path": "MLmodel"})
    assert r.status_code == 200 and r.text == "flavors: {}\n"
    assert r.headers["content-disposition"] == 'attachment; filename="MLmodel"'
    for bad in ("../../../../etc/passwd", "%2E%2E/%2E%2E/x", "/etc/passwd", ""):
        r = requests.get(files_url, params={"artifact_file_path": bad})
        assert r.status_code == 400, (bad, r.text)


def test_response_shape_on_the_wire(medflow_server, experiment_id):
    r = requests.post(medflow_server.url + API, json={"experiment_id": experiment_id, "name": "wire"})
    assert r.status_code == 200, r.text
    info = r.json()["model"]["info"]
    assert set(info) >= {"model_id", "experiment_id", "name", "artifact_uri", "status",
                         "creation_timestamp_ms", "last_updated_timestamp_ms"}
    assert info["status"] == "LOGGED_MODEL_PENDING" and isinstance(info["creation_timestamp_ms"], int)
    assert "tags" not in info and r.json()["model"]["data"] == {}
    patched = requests.patch(f"{medflow_server.url}{API}/{info['model_id']}",
                             json={"model_id": info["model_id"], "status": "LOGGED_MODEL_READY"})
    assert patched.json()["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    assert requests.post(f"{medflow_server.url}{API}/search", json={"experiment_ids": ["424242"]}).json() == {}


@pytest.mark.parametrize("body, code", [
    ({}, "INVALID_PARAMETER_VALUE"),
    ({"experiment_id": "999999"}, "RESOURCE_DOES_NOT_EXIST"),
    ({"experiment_id": "EXP", "name": "a/b"}, "INVALID_PARAMETER_VALUE"),
    ({"experiment_id": "EXP", "name": "a.b"}, "INVALID_PARAMETER_VALUE"),
    ({"experiment_id": "EXP", "name": "x" * 501}, "INVALID_PARAMETER_VALUE"),
    ({"experiment_id": "EXP", "source_run_id": "0123456789abcdef0123456789abcdef"}, "RESOURCE_DOES_NOT_EXIST"),
    ({"experiment_id": "EXP", "params": [{"key": "a/../escape", "value": "1"}]}, "INVALID_PARAMETER_VALUE"),
    ({"experiment_id": "EXP", "params": [{"key": "k", "value": "v" * 6001}]}, "INVALID_PARAMETER_VALUE"),
    ({"experiment_id": "EXP", "params": [{"key": "k", "value": "1"}, {"key": "k", "value": "2"}]},
     "INVALID_PARAMETER_VALUE"),
    ({"experiment_id": "EXP", "tags": [{"key": "bad#key", "value": "1"}]}, "INVALID_PARAMETER_VALUE"),
])
def test_create_rejects_bad_input_and_writes_nothing(medflow_server, experiment_id, body, code):
    body = {k: (experiment_id if v == "EXP" else v) for k, v in body.items()}
    before = requests.post(f"{medflow_server.url}{API}/search",
                           json={"experiment_ids": [experiment_id], "max_results": 1000}).json()
    r = requests.post(medflow_server.url + API, json=body)
    assert r.status_code in (400, 404), r.text
    assert r.json()["error_code"] == code, r.text
    after = requests.post(f"{medflow_server.url}{API}/search",
                          json={"experiment_ids": [experiment_id], "max_results": 1000}).json()
    assert len(after.get("models", [])) == len(before.get("models", []))


@pytest.mark.parametrize("method, path, body, status", [
    ("GET", "/m-00000000000000000000000000000000", None, 404),
    ("PATCH", "/MODEL", {"status": "LOGGED_MODEL_DONE"}, 400),
    ("PATCH", "/MODEL", {}, 400),
    ("PATCH", "/MODEL/tags", {"tags": [{"key": "k", "value": "v" * 100001}]}, 400),
    ("POST", "/search", {}, 400),
    ("POST", "/search", {"experiment_ids": ["EXP"], "filter": "name >>> 'x'"}, 400),
    ("POST", "/search", {"experiment_ids": ["EXP"], "filter": "metrics.auc = 'high'"}, 400),
    ("POST", "/search", {"experiment_ids": ["EXP"], "filter": "nosuch = 'x'"}, 400),
    ("POST", "/search", {"experiment_ids": ["EXP"], "order_by": [{"field_name": "params.x"}]}, 400),
    ("POST", "/search", {"experiment_ids": ["EXP"], "page_token": "not-a-token"}, 400),
    ("POST", "/search", {"experiment_ids": ["EXP"], "datasets": [{"dataset_digest": "abc"}]}, 400),
    ("POST", "/search", {"experiment_ids": ["not-a-number"]}, 400),
])
def test_bad_requests(medflow_server, experiment_id, method, path, body, status):
    model = requests.post(medflow_server.url + API, json={"experiment_id": experiment_id, "name": "probe"})
    model_id = model.json()["model"]["info"]["model_id"]
    path = path.replace("MODEL", model_id)
    if body is not None:
        body = {k: ([experiment_id if x == "EXP" else x for x in v] if k == "experiment_ids" else v)
                for k, v in body.items()}
    r = requests.request(method, medflow_server.url + API + path, json=body)
    assert r.status_code == status, r.text
    assert r.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")
    assert "SELECT" not in r.text and "Traceback" not in r.text
    assert requests.get(f"{medflow_server.url}{API}/{model_id}").json()["model"]["info"]["status"] == \
        "LOGGED_MODEL_PENDING"

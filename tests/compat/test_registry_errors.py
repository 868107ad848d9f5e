"""Bad input to the model registry, over raw HTTP: MLflow's error contract, nothing written.

Includes the model-version `source` attacks of research/mlflow-vulnerabilities.md (class
LFI-MV-SOURCE) and the URL-encoded model name confusion of CVE-2024-3099. Runs are created
with the official client; everything else is plain `requests`.
"""
from __future__ import annotations

import uuid

import pytest
import requests
from mlflow import MlflowClient

R = "/api/2.0/mlflow"


class Api:
    def __init__(self, url: str):
        self.url = url
        self.session = requests.Session()

    def call(self, method: str, path: str, body: dict | None = None, **params):
        if method == "GET":
            return self.session.get(self.url + R + path, params=params, timeout=30)
        return self.session.request(method, self.url + R + path, json=body or {}, timeout=30)

    def ok(self, method: str, path: str, body: dict | None = None, **params) -> dict:
        response = self.call(method, path, body, **params)
        assert response.status_code == 200, response.text
        return response.json()

    def fails(self, status: int, code: str, method: str, path: str, body: dict | None = None,
              **params) -> str:
        response = self.call(method, path, body, **params)
        assert response.status_code == status, (body or params, response.status_code, response.text)
        payload = response.json()
        assert payload["error_code"] == code, payload
        return payload["message"]


@pytest.fixture(scope="module")
def api(medflow_server):
    return Api(medflow_server.url)


@pytest.fixture(scope="module")
def run(medflow_server):
    """(experiment_id, run_id, artifact_uri) of a run holding a small model directory."""
    client = MlflowClient(tracking_uri=medflow_server.url)
    exp_id = client.create_experiment(f"registry-errors-{uuid.uuid4().hex[:8]}")
    run_id = client.create_run(exp_id).info.run_id
    client.log_text(run_id, "flavors: {}\n", "model/MLmodel")
    return exp_id, run_id, client.get_run(run_id).info.artifact_uri


@pytest.fixture
def model(api):
    name = f"errors-{uuid.uuid4().hex[:8]}"
    api.ok("POST", "/registered-models/create", {"name": name})
    return name


def versions_of(api, name: str) -> list[str]:
    return [v["version"] for v in
            api.ok("GET", "/model-versions/search", filter=f"name = '{name}'").get("model_versions", [])]


# --- not found, already exists ----------------------------------------------------------------

def test_missing_model_and_version(api, model):
    missing = f"no-such-{uuid.uuid4().hex[:8]}"
    assert api.fails(404, "RESOURCE_DOES_NOT_EXIST", "GET", "/registered-models/get", name=missing) == \
           f"Registered Model with name={missing} not found"
    assert api.fails(404, "RESOURCE_DOES_NOT_EXIST", "GET", "/model-versions/get",
                     name=model, version="99") == f"Model Version (name={model}, version=99) not found"
    for method, path, body in [
            ("POST", "/registered-models/get-latest-versions", {"name": missing, "stages": ["Production"]}),
            ("POST", "/registered-models/set-tag", {"name": missing, "key": "k", "value": "v"}),
            ("DELETE", "/registered-models/delete-tag", {"name": missing, "key": "k"}),
            ("PATCH", "/registered-models/update", {"name": missing, "description": "d"}),
            ("POST", "/registered-models/rename", {"name": missing, "new_name": missing + "-x"}),
            ("DELETE", "/registered-models/delete", {"name": missing}),
            ("DELETE", "/registered-models/alias", {"name": missing, "alias": "champion"})]:
        assert "not found" in api.fails(404, "RESOURCE_DOES_NOT_EXIST", method, path, body)
    for method, path, body in [
            ("POST", "/model-versions/transition-stage", {"name": model, "version": "7", "stage": "Staging"}),
            ("POST", "/model-versions/set-tag", {"name": model, "version": "7", "key": "k", "value": "v"}),
            ("DELETE", "/model-versions/delete-tag", {"name": model, "version": "7", "key": "k"}),
            ("PATCH", "/model-versions/update", {"name": model, "version": "7", "description": "d"}),
            ("DELETE", "/model-versions/delete", {"name": model, "version": "7"}),
            ("POST", "/registered-models/alias", {"name": model, "alias": "champion", "version": "7"})]:
        assert api.fails(404, "RESOURCE_DOES_NOT_EXIST", method, path, body) == \
               f"Model Version (name={model}, version=7) not found"
    for version in ("0", "-1", "99999999999"):
        api.fails(404, "RESOURCE_DOES_NOT_EXIST", "GET", "/model-versions/get", name=model, version=version)
    assert "version" in api.fails(400, "INVALID_PARAMETER_VALUE", "GET", "/model-versions/get",
                                  name=model, version="abc")
    api.fails(400, "INVALID_PARAMETER_VALUE", "GET", "/model-versions/get", name=model)
    # a missing alias is INVALID_PARAMETER_VALUE in MLflow, and clients rely on the code only
    assert api.fails(400, "INVALID_PARAMETER_VALUE", "GET", "/registered-models/alias",
                     name=model, alias="champion") == "Registered model alias champion not found."


def test_duplicate_model(api, model):
    assert api.fails(400, "RESOURCE_ALREADY_EXISTS", "POST", "/registered-models/create",
                     {"name": model}).startswith(f"Registered Model (name={model}) already exists.")


# --- names ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["bad/name", "bad:name", "", "   ", ".", "..", "...", "x" * 257,
                                  "tab\tname", "nul\x00name"],
                         ids=["slash", "colon", "empty", "blank", "dot", "dotdot", "dots", "257-chars",
                              "tab", "nul"])
def test_invalid_model_names_are_rejected(api, name):
    api.fails(400, "INVALID_PARAMETER_VALUE", "POST", "/registered-models/create", {"name": name})


def test_names_that_differ_only_by_url_encoding(api):
    """CVE-2024-3099: 'a b' and 'a%20b' must not become two models."""
    stem = "url-encoding-check"  # fixed: random digits here once read as an encounter number (PHI)
    api.ok("POST", "/registered-models/create", {"name": f"{stem} model"})
    for encoded in (f"{stem}%20model", f"{stem}%2520model", f"{stem}%2Fmodel", f"{stem}%2e%2e"):
        assert "percent-encoded" in api.fails(400, "INVALID_PARAMETER_VALUE", "POST",
                                              "/registered-models/create", {"name": encoded})
        api.fails(400, "INVALID_PARAMETER_VALUE", "GET", "/registered-models/get", name=encoded)
    api.fails(400, "INVALID_PARAMETER_VALUE", "POST", "/registered-models/rename",
              {"name": f"{stem} model", "new_name": f"{stem}%20other"})
    found = api.ok("GET", "/registered-models/search", filter=f"name LIKE '{stem}%'")["registered_models"]
    assert [m["name"] for m in found] == [f"{stem} model"]
    # a '%' that is not an escape sequence is an ordinary character
    assert api.ok("POST", "/registered-models/create",
                  {"name": f"{stem} 100% sure"})["registered_model"]["name"] == f"{stem} 100% sure"


# --- aliases, stages, tags, descriptions -------------------------------------------------------

def test_alias_rules(api, model, run):
    _, run_id, _ = run
    api.ok("POST", "/model-versions/create", {"name": model, "source": f"runs:/{run_id}/model",
                                              "run_id": run_id})
    for alias, fragment in [("v1", "reserved"), ("V12", "reserved"), ("latest", "reserved"),
                            ("LaTeSt", "reserved"), ("bad alias", "alphanumerics"),
                            ("bad/alias", "alphanumerics"), ("a" * 256, "maximum length")]:
        assert fragment in api.fails(400, "INVALID_PARAMETER_VALUE", "POST", "/registered-models/alias",
                                     {"name": model, "alias": alias, "version": "1"})
    api.fails(400, "INVALID_PARAMETER_VALUE", "POST", "/registered-models/alias",
              {"name": model, "alias": "", "version": "1"})
    api.ok("POST", "/registered-models/alias", {"name": model, "alias": "a" * 255, "version": "1"})
    api.ok("POST", "/registered-models/alias", {"name": model, "alias": "champion_v-2", "version": "1"})
    assert api.ok("GET", "/registered-models/alias", name=model, alias="latest")["model_version"]["version"] == "1"
    api.ok("DELETE", "/registered-models/alias", {"name": model, "alias": "never-set"})
    aliases = api.ok("GET", "/registered-models/get", name=model)["registered_model"]["aliases"]
    assert sorted(a["alias"] for a in aliases) == ["a" * 255, "champion_v-2"]


def test_stage_rules(api, model, run):
    _, run_id, _ = run
    api.ok("POST", "/model-versions/create", {"name": model, "source": f"runs:/{run_id}/model",
                                              "run_id": run_id})
    assert api.fails(400, "INVALID_PARAMETER_VALUE", "POST", "/model-versions/transition-stage",
                     {"name": model, "version": "1", "stage": "Prod", "archive_existing_versions": False}) == \
           "Invalid Model Version stage: Prod. Value must be one of None, Staging, Production, Archived."
    assert "not an Active stage" in api.fails(
        400, "INVALID_PARAMETER_VALUE", "POST", "/model-versions/transition-stage",
        {"name": model, "version": "1", "stage": "Archived", "archive_existing_versions": True})
    assert api.ok("POST", "/model-versions/transition-stage",
                  {"name": model, "version": "1", "stage": "sTaGiNg"})["model_version"]["current_stage"] == "Staging"
    api.fails(400, "INVALID_PARAMETER_VALUE", "POST", "/registered-models/get-latest-versions",
              {"name": model, "stages": ["Prod"]})
    got = api.ok("GET", "/registered-models/get-latest-versions", name=model, stages=["staging"])
    assert [v["version"] for v in got["model_versions"]] == ["1"]
    assert api.ok("POST", "/registered-models/get-latest-versions",
                  {"name": model, "stages": ["Production"]}) == {}


def test_limits_are_rejected_not_truncated(api, model, run):
    _, run_id, _ = run
    long_value, long_key = "x" * 100_001, "k" * 251
    source = {"name": model, "source": f"runs:/{run_id}/model", "run_id": run_id}
    cases = [
        ("POST", "/registered-models/set-tag", {"name": model, "key": "k", "value": long_value}),
        ("POST", "/registered-models/set-tag", {"name": model, "key": long_key, "value": "v"}),
        ("POST", "/registered-models/set-tag", {"name": model, "key": "a#b", "value": "v"}),
        ("POST", "/registered-models/set-tag", {"name": model, "key": "../escape", "value": "v"}),
        ("PATCH", "/registered-models/update", {"name": model, "description": long_value}),
        ("POST", "/registered-models/create", {"name": model + "-2", "tags": [{"key": "k", "value": long_value}]}),
        ("POST", "/registered-models/create", {"name": model + "-3", "description": long_value}),
        ("POST", "/model-versions/create", {**source, "description": long_value}),
        ("POST", "/model-versions/create", {**source, "tags": [{"key": "ok", "value": "v"},
                                                              {"key": "k", "value": long_value}]}),
        ("POST", "/model-versions/create", {**source, "run_link": "x" * 1001}),
    ]
    for method, path, body in cases:
        message = api.fails(400, "INVALID_PARAMETER_VALUE", method, path, body)
        assert "maximum length" in message or "Invalid value" in message, message
    # nothing was written: no tags, no description, no model, and version 1 is still free
    stored = api.ok("GET", "/registered-models/get", name=model)["registered_model"]
    assert "tags" not in stored and "description" not in stored
    api.fails(404, "RESOURCE_DOES_NOT_EXIST", "GET", "/registered-models/get", name=model + "-2")
    assert versions_of(api, model) == []
    created = api.ok("POST", "/model-versions/create", {**source, "tags": [{"key": "k", "value": "x" * 100_000}]})
    assert created["model_version"]["version"] == "1"
    version = {"name": model, "version": "1"}
    api.fails(400, "INVALID_PARAMETER_VALUE", "POST", "/model-versions/set-tag",
              {**version, "key": "k", "value": long_value})
    api.fails(400, "INVALID_PARAMETER_VALUE", "PATCH", "/model-versions/update",
              {**version, "description": long_value})
    stored = api.ok("GET", "/model-versions/get", **version)["model_version"]
    assert len(stored["tags"][0]["value"]) == 100_000 and stored["description"] == ""


# --- search -----------------------------------------------------------------------------------

def test_search_rejects_bad_requests(api):
    bad = [("/registered-models/search", {"max_results": "1001"}),
           ("/registered-models/search", {"max_results": "0"}),
           ("/registered-models/search", {"page_token": "not-a-token"}),
           ("/registered-models/search", {"filter": "description = 'x'"}),
           ("/registered-models/search", {"filter": "tags.unit > 'a'"}),
           ("/registered-models/search", {"filter": "name = 'a' OR name = 'b'"}),
           ("/registered-models/search", {"order_by": "creation_time DESC"}),
           ("/registered-models/search", {"order_by": ["name", "name DESC"]}),
           ("/model-versions/search", {"max_results": "200001"}),
           ("/model-versions/search", {"filter": "source_path IN ('a')"}),
           ("/model-versions/search", {"filter": "version_number = 'abc'"}),
           ("/model-versions/search", {"filter": "version_number > 1.5"}),
           ("/model-versions/search", {"filter": "stage = 'Production'"}),
           ("/model-versions/search", {"order_by": "run_id"})]
    for path, params in bad:
        api.fails(400, "INVALID_PARAMETER_VALUE", "GET", path, **params)
    assert api.ok("GET", "/registered-models/search", max_results="1000",
                  filter=f"name = 'none-{uuid.uuid4().hex}'") == {}
    assert api.ok("GET", "/model-versions/search", max_results="200000",
                  filter=f"name = 'none-{uuid.uuid4().hex}'") == {}


def test_wire_shapes(api, model, run):
    _, run_id, _ = run
    created = api.ok("POST", "/registered-models/create", {"name": model + "-shape"})["registered_model"]
    assert set(created) == {"name", "creation_timestamp", "last_updated_timestamp"}
    assert isinstance(created["creation_timestamp"], int)
    mv = api.ok("POST", "/model-versions/create", {"name": model, "source": f"runs:/{run_id}/model"})
    mv = mv["model_version"]
    # no run_id given: the runs:/ source names the run, and the server fills it in
    assert mv["run_id"] == run_id and mv["version"] == "1" and mv["status"] == "READY"
    assert set(mv) == {"name", "version", "creation_timestamp", "last_updated_timestamp", "current_stage",
                       "description", "source", "run_id", "status", "run_link"}
    got = api.ok("GET", "/registered-models/get", name=model)["registered_model"]
    assert [v["version"] for v in got["latest_versions"]] == ["1"]


# --- model version sources (LFI-MV-SOURCE) -------------------------------------------------------

def _attacks(exp_id: str, run_id: str) -> list[str]:
    return [
        "file:///etc/passwd", "file://./etc", "file:/etc/passwd", "FILE:///etc/passwd", "/etc/passwd",
        "etc/passwd", "../../../etc", "//proc/self/root/etc/passwd", "C:\\Windows\\win.ini",
        "http://169.254.169.254/latest/meta-data", "https://attacker.example/api/2.0/mlflow-artifacts/artifacts/x",
        "s3://bucket/model", "gs://bucket/model", "hdfs://namenode/model", "dbfs:/model", "ftp://host/x",
        f"runs:/{run_id}/../../etc", f"runs:/{run_id}/model/../../../etc/passwd", f"runs:/{run_id}/./model",
        f"runs:/{run_id}//etc/passwd", f"runs:/{run_id}/model//x", f"runs://{run_id}/model",
        f"runs:/{run_id}/%2E%2E/%2E%2E/etc", f"runs:/{run_id}/%252E%252E%252Fetc%252Fpasswd",
        f"runs:/{run_id}/model%2F..%2F..%2Fetc", f"runs:/{run_id}/model#/../../etc",
        f"runs:/{run_id}/model?x=/../../etc", f"runs:/{run_id}/model\\..\\..\\etc",
        f"runs:/{run_id}/model%00", f"runs:/{run_id}/model\x00", f"runs:/../{run_id}/model",
        "mlflow-artifacts:/../../etc", f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts/../../../etc",
        "mlflow-artifacts://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/x",
        f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts/%2e%2e/%2e%2e/x",
        f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts/model#../../x",
        "mlflow-artifacts:///etc/passwd", "models:/../../etc", "models:/sepsis/1", "models:/sepsis@champion",
        "models://host/m-0123", "models:/m-0123/../../etc", "prompt:/x", "dummy-source",
    ]


def test_model_version_source_attacks_are_refused(api, model, run):
    exp_id, run_id, _ = run
    for source in _attacks(exp_id, run_id):
        message = api.fails(400, "INVALID_PARAMETER_VALUE", "POST", "/model-versions/create",
                            {"name": model, "source": source, "run_id": run_id})
        expected = "The request contains a NUL character" if "\x00" in source else "Invalid model version source"
        assert message.startswith(expected), (source, message)
    # prompt-tagged versions get no exemption (CVE-2026-2614 / CVE-2026-116690)
    for source in ("file:///etc/", "../../../etc"):
        api.fails(400, "INVALID_PARAMETER_VALUE", "POST", "/model-versions/create",
                  {"name": model, "source": source,
                   "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]})
    api.fails(400, "INVALID_PARAMETER_VALUE", "POST", "/model-versions/create", {"name": model, "source": ""})
    assert versions_of(api, model) == []


def test_source_must_belong_to_the_run(api, model, run, medflow_server):
    exp_id, run_id, artifact_uri = run
    other = MlflowClient(tracking_uri=medflow_server.url).create_run(exp_id).info.run_id
    missing_run = uuid.uuid4().hex
    assert "run_id request parameter" in api.fails(
        400, "INVALID_PARAMETER_VALUE", "POST", "/model-versions/create",
        {"name": model, "source": f"runs:/{run_id}/model", "run_id": other})
    assert "not found" in api.fails(404, "RESOURCE_DOES_NOT_EXIST", "POST", "/model-versions/create",
                                    {"name": model, "source": f"runs:/{missing_run}/model"})
    assert "run_id" in api.fails(400, "INVALID_PARAMETER_VALUE", "POST", "/model-versions/create",
                                 {"name": model, "source": f"{artifact_uri}/model"})
    api.fails(400, "INVALID_PARAMETER_VALUE", "POST", "/model-versions/create",
              {"name": model, "source": f"{artifact_uri}/model", "run_id": other})
    api.fails(400, "INVALID_PARAMETER_VALUE", "POST", "/model-versions/create",
              {"name": model, "source": f"mlflow-artifacts:/{exp_id}/{other}/artifacts", "run_id": run_id})
    api.fails(404, "RESOURCE_DOES_NOT_EXIST", "POST", "/model-versions/create",
              {"name": model, "source": f"models:/m-{uuid.uuid4().hex}"})
    api.fails(404, "RESOURCE_DOES_NOT_EXIST", "POST", "/model-versions/create",
              {"name": model + "-missing", "source": f"runs:/{run_id}/model", "run_id": run_id})
    assert versions_of(api, model) == []
    ok = api.ok("POST", "/model-versions/create",
                {"name": model, "source": f"{artifact_uri}/model", "run_id": run_id})["model_version"]
    assert ok["version"] == "1"
    assert api.ok("GET", "/model-versions/get-download-uri", name=model, version="1") == \
           {"artifact_uri": f"{artifact_uri}/model"}

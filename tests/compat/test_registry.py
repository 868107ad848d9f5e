"""The model registry through the official mlflow client, on SQLite and PostgreSQL.

Every registry endpoint is driven by MlflowClient (and the fluent API where the seed uses it)
against a real server process; assertions are on what is read back. One server per backend
for the whole module; each test works on its own model names.
"""
from __future__ import annotations

import os
import subprocess
import textwrap
import threading
import time
import uuid

import mlflow
import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tests.servers import REPO_ROOT

# stage APIs are deprecated (still served); the test model needs no type hints
pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning")]
MLFLOW2_PYTHON = REPO_ROOT / ".venv-mlflow2" / "bin" / "python"


@pytest.fixture(scope="module")
def client(medflow_server):
    mlflow.set_tracking_uri(medflow_server.url)
    yield MlflowClient(tracking_uri=medflow_server.url)
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="module")
def experiment_id(client):
    return client.create_experiment(f"registry-{uuid.uuid4().hex[:8]}")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def run_with_model_dir(client, experiment_id, path="sepsis-model") -> str:
    """A finished run with a (tiny, synthetic) model directory among its artifacts."""
    run_id = client.create_run(experiment_id).info.run_id
    client.log_text(run_id, "artifact_path: sepsis-model\nflavors: {}\n", f"{path}/MLmodel")
    client.set_terminated(run_id)
    return run_id


# --- registered models -----------------------------------------------------------------------

def test_registered_model_create_get_update_rename_delete(client):
    name = unique("icu-sepsis")
    created = client.create_registered_model(name, tags={"owner": "icu", "risk": "II"},
                                             description="early warning")
    assert created.name == name and created.description == "early warning"
    assert created.tags == {"owner": "icu", "risk": "II"}
    assert created.creation_timestamp == created.last_updated_timestamp > 0

    got = client.get_registered_model(name)
    assert (got.name, got.description, got.tags, got.latest_versions, got.aliases) == \
           (name, "early warning", {"owner": "icu", "risk": "II"}, [], {})

    updated = client.update_registered_model(name, description="v2 of the score")
    assert updated.description == "v2 of the score"
    assert updated.last_updated_timestamp >= created.last_updated_timestamp

    client.set_registered_model_tag(name, "reviewed", "yes")
    client.set_registered_model_tag(name, "reviewed", "twice")  # overwrite in place
    client.delete_registered_model_tag(name, "risk")
    client.delete_registered_model_tag(name, "never-set")  # deleting a missing tag is a no-op
    assert client.get_registered_model(name).tags == {"owner": "icu", "reviewed": "twice"}

    new_name = name + "-renamed"
    client.rename_registered_model(name, new_name)
    renamed = client.get_registered_model(new_name)
    assert renamed.description == "v2 of the score" and renamed.tags["owner"] == "icu"
    with pytest.raises(MlflowException) as exc:
        client.get_registered_model(name)
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    client.delete_registered_model(new_name)
    with pytest.raises(MlflowException) as exc:
        client.get_registered_model(new_name)
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert f"Registered Model with name={new_name} not found" in str(exc.value)


def test_duplicate_registered_model_is_already_exists(client):
    name = unique("dup")
    client.create_registered_model(name)
    with pytest.raises(MlflowException) as exc:
        client.create_registered_model(name)
    assert exc.value.error_code == "RESOURCE_ALREADY_EXISTS"
    other = unique("dup-other")
    client.create_registered_model(other)
    with pytest.raises(MlflowException) as exc:
        client.rename_registered_model(other, name)
    assert exc.value.error_code == "RESOURCE_ALREADY_EXISTS"
    assert client.get_registered_model(other).name == other  # the failed rename changed nothing


def test_search_registered_models_filters_order_and_pages(client):
    stem = unique("srch")
    names = [f"{stem}-{i}" for i in range(5)]
    for i, name in enumerate(names):
        client.create_registered_model(name, tags={"unit": "icu" if i % 2 == 0 else "ed",
                                                   "team.name": f"t{i}"})
    time.sleep(0.01)  # a later millisecond than every create
    client.update_registered_model(names[1], description="touched last")

    def found(**kwargs):
        return [m.name for m in client.search_registered_models(**kwargs)]

    # the 3.x client appends "AND tag.`mlflow.prompt.is_prompt` != 'true'": models without
    # that tag must still match
    assert found(filter_string=f"name = '{names[2]}'") == [names[2]]
    assert found(filter_string=f"name LIKE '{stem}-%'") == names
    assert found(filter_string=f"name ILIKE '{stem.upper()}-%'") == names
    assert found(filter_string=f"name LIKE '{stem.upper()}-%'") == []  # LIKE is case sensitive
    assert found(filter_string=f"name LIKE '{stem}-%' AND name != '{names[0]}'") == names[1:]
    assert found(filter_string=f"name IN ('{names[3]}', '{names[1]}', 'absent')") == [names[1], names[3]]
    assert found(filter_string=f"name LIKE '{stem}-%' AND tags.unit = 'icu'") == names[0::2]
    assert found(filter_string=f"name LIKE '{stem}-%' AND tags.`team.name` = 't3'") == [names[3]]
    assert found(filter_string=f"name LIKE '{stem}-%' AND tag.unit LIKE 'e%'") == names[1::2]
    assert found(filter_string=f"name LIKE '{stem}-%'", order_by=["name DESC"]) == names[::-1]
    by_time = found(filter_string=f"name LIKE '{stem}-%'", order_by=["last_updated_timestamp DESC"])
    assert by_time[0] == names[1]
    assert found(filter_string=f"name LIKE '{stem}-%'", order_by=["timestamp DESC"])[0] == names[1]

    pages, token = [], None
    while True:
        page = client.search_registered_models(filter_string=f"name LIKE '{stem}-%'", max_results=2,
                                               page_token=token)
        pages.append([m.name for m in page])
        token = page.token
        if not token:
            break
    assert pages == [names[0:2], names[2:4], names[4:5]]


def test_prompts_are_left_out_of_model_search(client, medflow_server):
    stem = unique("prompt")
    client.create_registered_model(f"{stem}-model")
    # the 3.x client refuses to create a prompt-tagged model itself, so this one goes over HTTP
    response = requests.post(f"{medflow_server.url}/api/2.0/mlflow/registered-models/create", timeout=30,
                             json={"name": f"{stem}-prompt",
                                   "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]})
    assert response.status_code == 200, response.text
    assert [m.name for m in client.search_registered_models(filter_string=f"name LIKE '{stem}-%'")] == \
           [f"{stem}-model"]


# --- model versions: the seed's clinical approval flow ------------------------------------------

def test_seed_registry_flow(client, experiment_id):
    name = unique("sepsis-early-warning")
    run_id = run_with_model_dir(client, experiment_id)
    client.create_registered_model(name)
    previous = client.create_model_version(name, f"runs:/{run_id}/sepsis-model", run_id)
    client.transition_model_version_stage(name, previous.version, "Production")

    mv = client.create_model_version(
        name=name, source=f"runs:/{run_id}/sepsis-model", run_id=run_id,
        description="GBM trained on v2.3 dataset, AUC 0.89, approved by clinical review")
    assert (mv.version, mv.current_stage, mv.status, mv.run_id) == ("2", "None", "READY", run_id)
    assert mv.source == f"runs:/{run_id}/sepsis-model"

    staged = client.transition_model_version_stage(name, mv.version, "Staging",
                                                   archive_existing_versions=False)
    assert staged.current_stage == "Staging"
    for key, value in [("clinical_review_status", "approved"), ("clinical_reviewer", "CMIO-Dr-Johnson"),
                       ("review_date", "2026-02-15"), ("fda_documentation_id", "DOC-2026-SEP-V23")]:
        client.set_model_version_tag(name, mv.version, key, value)
    prod = client.transition_model_version_stage(name, mv.version, "Production",
                                                 archive_existing_versions=True)
    assert prod.current_stage == "Production"
    assert prod.last_updated_timestamp >= prod.creation_timestamp

    report = client.get_model_version(name, mv.version)
    assert report.tags["clinical_review_status"] == "approved"
    assert report.description.startswith("GBM trained")
    assert client.get_run(report.run_id).info.run_id == run_id
    assert client.get_model_version(name, previous.version).current_stage == "Archived"

    latest = client.get_latest_versions(name, stages=["Production"])
    assert [v.version for v in latest] == [mv.version]
    assert [v.version for v in client.get_latest_versions(name, stages=["production", "ARCHIVED"])] == \
           [previous.version, mv.version]
    assert {v.current_stage: v.version for v in client.get_latest_versions(name)} == \
           {"Archived": previous.version, "Production": mv.version}

    client.set_registered_model_alias(name, "champion", mv.version)
    client.set_registered_model_alias(name, "challenger", previous.version)
    by_alias = client.get_model_version_by_alias(name, "champion")
    assert by_alias.version == mv.version and by_alias.aliases == ["champion"]
    model = client.get_registered_model(name)
    assert model.aliases == {"champion": mv.version, "challenger": previous.version}
    assert sorted(v.version for v in model.latest_versions) == [previous.version, mv.version]
    client.delete_registered_model_alias(name, "challenger")
    assert client.get_registered_model(name).aliases == {"champion": mv.version}

    same_run = client.search_model_versions(f"name = '{name}' and run_id = '{run_id}'")
    assert sorted(v.version for v in same_run) == ["1", "2"]

    client.rename_registered_model(name, name + "-v2")
    moved = client.get_model_version(name + "-v2", mv.version)
    assert moved.name == name + "-v2" and moved.tags["clinical_reviewer"] == "CMIO-Dr-Johnson"
    assert client.get_model_version_by_alias(name + "-v2", "champion").version == mv.version
    client.delete_registered_model(name + "-v2")
    assert client.search_model_versions(f"name = '{name}-v2'") == []


def test_update_delete_and_version_numbers_are_never_reused(client, experiment_id):
    name = unique("numbers")
    run_id = run_with_model_dir(client, experiment_id)
    client.create_registered_model(name)
    versions = [client.create_model_version(name, f"runs:/{run_id}/sepsis-model", run_id).version
                for _ in range(3)]
    assert versions == ["1", "2", "3"]

    updated = client.update_model_version(name, "2", description="second candidate")
    assert updated.description == "second candidate"
    client.set_model_version_tag(name, "2", "validated", "true")
    client.set_model_version_tag(name, "2", "site", "north")
    client.delete_model_version_tag(name, "2", "site")
    assert client.get_model_version(name, "2").tags == {"validated": "true"}

    client.set_registered_model_alias(name, "newest", "3")
    client.delete_model_version(name, "3")
    with pytest.raises(MlflowException) as exc:
        client.get_model_version(name, "3")
    assert exc.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert f"Model Version (name={name}, version=3) not found" in str(exc.value)
    assert client.get_registered_model(name).aliases == {}  # the alias went with its version
    assert client.create_model_version(name, f"runs:/{run_id}/sepsis-model", run_id).version == "4"
    assert sorted(v.version for v in client.search_model_versions(f"name = '{name}'")) == ["1", "2", "4"]

    client.delete_registered_model(name)  # a new model of the same name starts again at 1
    client.create_registered_model(name)
    assert client.create_model_version(name, f"runs:/{run_id}/sepsis-model", run_id).version == "1"


def test_concurrent_version_creates_get_distinct_numbers(client, medflow_server, experiment_id):
    name = unique("concurrent")
    run_id = run_with_model_dir(client, experiment_id)
    client.create_registered_model(name)
    got, errors = [], []

    def worker():
        own = MlflowClient(tracking_uri=medflow_server.url)
        try:
            for _ in range(5):
                got.append(int(own.create_model_version(name, f"runs:/{run_id}/sepsis-model",
                                                        run_id).version))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(got) == list(range(1, 31))


def test_search_model_versions(client, experiment_id):
    stem = unique("mvsearch")
    run_a = run_with_model_dir(client, experiment_id)
    run_b = run_with_model_dir(client, experiment_id, path="other")
    for model in (f"{stem}-a", f"{stem}-b"):
        client.create_registered_model(model)
        client.create_model_version(model, f"runs:/{run_a}/sepsis-model", run_a, tags={"cohort": "adult"})
        client.create_model_version(model, f"runs:/{run_b}/other", run_b, tags={"cohort": "peds"})
        client.create_model_version(model, f"runs:/{run_a}/sepsis-model", run_a)

    def found(filter_string, **kwargs):
        return [(v.name[-1], v.version) for v in client.search_model_versions(filter_string, **kwargs)]

    assert sorted(found(f"name = '{stem}-a'")) == [("a", "1"), ("a", "2"), ("a", "3")]
    assert sorted(found(f"name IN ('{stem}-a', '{stem}-b') AND run_id = '{run_b}'")) == \
           [("a", "2"), ("b", "2")]
    assert sorted(found(f"run_id IN ('{run_b}') AND name LIKE '{stem}-%'")) == [("a", "2"), ("b", "2")]
    assert sorted(found(f"name = '{stem}-b' AND version_number >= 2")) == [("b", "2"), ("b", "3")]
    assert found(f"name = '{stem}-b' AND version_number = 1") == [("b", "1")]
    assert sorted(found(f"name LIKE '{stem}-%' AND tags.cohort = 'peds'")) == [("a", "2"), ("b", "2")]
    assert sorted(found(f"name LIKE '{stem}-%' AND source_path LIKE '%/other'")) == [("a", "2"), ("b", "2")]
    assert found(f"name LIKE '{stem}-%'", order_by=["name DESC", "version_number ASC"]) == \
           [("b", "1"), ("b", "2"), ("b", "3"), ("a", "1"), ("a", "2"), ("a", "3")]

    pages, token = [], None
    while True:
        page = client.search_model_versions(f"name LIKE '{stem}-%'", max_results=4,
                                            order_by=["name ASC", "version_number ASC"], page_token=token)
        pages.append([(v.name[-1], v.version) for v in page])
        token = page.token
        if not token:
            break
    assert pages == [[("a", "1"), ("a", "2"), ("a", "3"), ("b", "1")], [("b", "2"), ("b", "3")]]


def test_download_uri_resolves_where_the_files_are(client, experiment_id):
    name = unique("download")
    run_id = run_with_model_dir(client, experiment_id)
    run = client.get_run(run_id)
    client.create_registered_model(name)

    from_run = client.create_model_version(name, f"runs:/{run_id}/sepsis-model", run_id)
    assert client.get_model_version_download_uri(name, from_run.version) == \
           f"{run.info.artifact_uri}/sepsis-model"
    proxied = f"{run.info.artifact_uri}/sepsis-model"  # what the 2.x client registers
    from_proxy = client.create_model_version(name, proxied, run_id)
    assert client.get_model_version_download_uri(name, from_proxy.version) == proxied


def test_versions_from_logged_models(client, experiment_id, tmp_path):
    """MLflow 3: models:/<model_id> sources, and runs:/ sources whose files live under a logged model."""
    name = unique("logged")
    run_id = client.create_run(experiment_id).info.run_id
    logged = client.create_logged_model(experiment_id, name="sepsis-model", source_run_id=run_id)
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    client.log_model_artifacts(logged.model_id, str(tmp_path))
    client.create_registered_model(name)

    by_id = client.create_model_version(name, f"models:/{logged.model_id}", model_id=logged.model_id)
    assert by_id.run_id == run_id  # filled from the logged model, as MLflow 3 does
    assert client.get_model_version_download_uri(name, by_id.version) == logged.artifact_location

    # the seed registers runs:/<run>/sepsis-model; a 3.x client put the files under the logged model
    by_run = client.create_model_version(name, f"runs:/{run_id}/sepsis-model", run_id)
    assert by_run.source == f"runs:/{run_id}/sepsis-model"
    assert client.get_model_version_download_uri(name, by_run.version) == logged.artifact_location


class _Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return [2 * x for x in model_input["x"]]


def test_load_registered_model_end_to_end(client, experiment_id):
    """The seed's serving path with the 3.x client: runs:/ registration, Production, alias, load."""
    import pandas as pd

    name = unique("e2e")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.pyfunc.log_model(name="sepsis-model", python_model=_Doubler(), pip_requirements=[])
    client.create_registered_model(name)
    mv = client.create_model_version(name, f"runs:/{run.info.run_id}/sepsis-model", run.info.run_id)
    client.transition_model_version_stage(name, mv.version, "Production")
    client.set_registered_model_alias(name, "champion", mv.version)
    frame = pd.DataFrame({"x": [1.0, 2.5]})
    for uri in (f"models:/{name}/Production", f"models:/{name}@champion", f"models:/{name}/{mv.version}"):
        assert list(mlflow.pyfunc.load_model(uri).predict(frame)) == [2.0, 5.0], uri

    registered = mlflow.register_model(f"runs:/{run.info.run_id}/sepsis-model", name)  # fluent API
    assert registered.version == str(int(mv.version) + 1)
    assert list(mlflow.pyfunc.load_model(f"models:/{name}/{registered.version}").predict(frame)) == [2.0, 5.0]


def mlflow2_python() -> str:
    """The 2.12.1 client's interpreter, or skip when it is not installed (yet)."""
    if MLFLOW2_PYTHON.exists():
        probe = subprocess.run([str(MLFLOW2_PYTHON), "-c", "import mlflow; print(mlflow.__version__)"],
                               capture_output=True, text=True, timeout=120)
        if probe.returncode == 0 and probe.stdout.strip().startswith("2."):
            return str(MLFLOW2_PYTHON)
    pytest.skip(f"the mlflow 2.x client is not installed in {MLFLOW2_PYTHON}")


def test_registry_with_the_mlflow2_client(medflow_server, client, experiment_id):
    """The same calls from the 2.12.1 client (no prompt filter, no registered-models/get first)."""
    python = mlflow2_python()
    run_id = run_with_model_dir(client, experiment_id)
    name = unique("mlflow2")
    script = textwrap.dedent(f"""
        import mlflow
        from mlflow import MlflowClient
        c = MlflowClient("{medflow_server.url}")
        c.create_registered_model("{name}", tags={{"owner": "icu"}}, description="d")
        art = c.get_run("{run_id}").info.artifact_uri + "/sepsis-model"
        v1 = c.create_model_version("{name}", art, "{run_id}")
        v2 = c.create_model_version("{name}", "runs:/{run_id}/sepsis-model", "{run_id}")
        c.transition_model_version_stage("{name}", v2.version, "Staging")
        c.set_model_version_tag("{name}", v2.version, "k", "v")
        c.transition_model_version_stage("{name}", v2.version, "Production", archive_existing_versions=True)
        assert [v.version for v in c.get_latest_versions("{name}", stages=["Production"])] == ["2"]
        c.set_registered_model_alias("{name}", "champion", "2")
        assert c.get_model_version_by_alias("{name}", "champion").tags == {{"k": "v"}}
        assert c.get_model_version_download_uri("{name}", "1") == art
        assert [m.name for m in c.search_registered_models(filter_string="name = '{name}'")] == ["{name}"]
        assert len(c.search_model_versions("name = '{name}'")) == 2
        c.update_model_version("{name}", "1", description="first")
        c.delete_model_version("{name}", "1")
        c.rename_registered_model("{name}", "{name}-r")
        assert c.get_registered_model("{name}-r").aliases == {{"champion": "2"}}
        c.delete_registered_model("{name}-r")
        print("MLFLOW2_REGISTRY_OK")
    """)
    env = {**os.environ, "MLFLOW_TRACKING_URI": medflow_server.url}
    done = subprocess.run([python, "-c", script], capture_output=True, text=True,
                          timeout=300, env=env)
    assert "MLFLOW2_REGISTRY_OK" in done.stdout, done.stdout[-2000:] + done.stderr[-4000:]

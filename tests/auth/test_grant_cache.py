"""Servers keep grants and resource owners in memory; a change made through one server process
is still obeyed by another on the very next request (two real processes sharing one database,
SQLite and PostgreSQL).

Also: a registered model deleted for good takes its grants with it, so a new model that gets
the same internal id (SQLite hands out the highest rowid again) does not inherit them; and a
model name that a rename moves to another model is checked against that model at once.
"""
from __future__ import annotations

import pytest
import requests

from tests.conftest import replica_servers

WORKSPACE = "ward-7"
USER, PASSWORD = "ward7.scientist", "ward seven data scientist pw"
API = "/2.0/mlflow"


@pytest.fixture(scope="module")
def replicas(backend, tmp_path_factory):
    """Two server processes (a, b) on one database."""
    with replica_servers(backend, tmp_path_factory.mktemp(f"grant-cache-{backend}")) as servers:
        yield servers


def as_admin(server, method, path, **kwargs):
    """The test admin (credentials from the netrc file tests/conftest.py sets up)."""
    response = requests.request(method, server.url + "/api" + path, headers={"X-MLFLOW-WORKSPACE": WORKSPACE},
                                timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def as_user(server, method, path, **kwargs):
    return requests.request(method, server.url + "/api" + path, auth=(USER, PASSWORD),
                            headers={"X-MLFLOW-WORKSPACE": WORKSPACE}, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def ward(replicas):
    """A workspace whose membership gives the user nothing: only grants count."""
    a = replicas[0]
    as_admin(a, "POST", "/medflow/v1/workspaces/create", json={"name": WORKSPACE})
    as_admin(a, "POST", "/medflow/v1/users/create", json={"username": USER, "password": PASSWORD,
                                                           "roles": ["data_scientist"],
                                                           "default_workspace": WORKSPACE})
    as_admin(a, "POST", "/medflow/v1/workspaces/set-member",
             json={"workspace": WORKSPACE, "kind": "user", "member": USER, "permission": "NONE"})
    experiment_id = as_admin(a, "POST", API + "/experiments/create", json={"name": "ward-7-sepsis"})["experiment_id"]
    run_id = as_admin(a, "POST", API + "/runs/create", json={"experiment_id": experiment_id})["run"]["info"]["run_id"]
    return experiment_id, run_id


def grant(server, action, resource_type, resource, permission="EDIT"):
    as_admin(server, "POST", f"/medflow/v1/grants/{action}",
             json={"resource_type": resource_type, "resource": resource, "workspace": WORKSPACE, "kind": "user",
                   "member": USER, "permission": permission})


def test_a_grant_or_revocation_through_one_server_holds_on_the_other_at_once(replicas, ward):
    a, b = replicas
    experiment_id, run_id = ward

    def log_metric(step):
        return as_user(b, "POST", API + "/runs/log-metric",
                       json={"run_id": run_id, "key": "auc", "value": 0.8, "timestamp": 1, "step": step})

    refused = log_metric(0)  # b now holds the run's owner and the user's (empty) grants in memory
    assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"

    grant(a, "grant", "experiment", experiment_id)
    for step in (1, 2):  # the second call is answered from b's caches
        assert log_metric(step).status_code == 200

    grant(a, "revoke", "experiment", experiment_id)
    refused = log_metric(3)
    assert refused.status_code == 403, refused.text

    history = as_admin(a, "GET", API + "/metrics/get-history", params={"run_id": run_id, "metric_key": "auc"})
    assert sorted(m["step"] for m in history["metrics"]) == [1, 2]


def test_a_deleted_models_grants_do_not_pass_to_the_next_model(replicas, ward):
    a, b = replicas
    as_admin(a, "POST", API + "/registered-models/create", json={"name": "ward7-triage"})
    grant(a, "grant", "registered_model", "ward7-triage", "MANAGE")
    assert as_user(b, "GET", API + "/registered-models/get", params={"name": "ward7-triage"}).status_code == 200

    as_admin(a, "DELETE", API + "/registered-models/delete", json={"name": "ward7-triage"})
    as_admin(a, "POST", API + "/registered-models/create", json={"name": "ward7-discharge"})
    # On SQLite the new model has the deleted one's internal id; its grants must not follow.
    for server in (a, b):
        response = as_user(server, "GET", API + "/registered-models/get", params={"name": "ward7-discharge"})
        assert response.status_code == 403, response.text
        response = as_user(server, "DELETE", API + "/registered-models/delete", json={"name": "ward7-discharge"})
        assert response.status_code == 403, response.text
    assert as_admin(a, "GET", API + "/registered-models/get", params={"name": "ward7-discharge"})


def test_a_model_name_moved_by_a_rename_is_checked_against_its_new_model(replicas, ward):
    """Servers remember which model a name means; a rename through another server moves the name."""
    a, b = replicas
    for name in ("ward7-readmission", "ward7-restricted"):
        as_admin(a, "POST", API + "/registered-models/create", json={"name": name})
    grant(a, "grant", "registered_model", "ward7-readmission", "EDIT")

    def describe(name):
        return as_user(b, "PATCH", API + "/registered-models/update", json={"name": name, "description": "v2"})

    assert describe("ward7-readmission").status_code == 200  # b now knows which model the name means
    as_admin(a, "POST", API + "/registered-models/rename",
             json={"name": "ward7-readmission", "new_name": "ward7-readmission-old"})
    as_admin(a, "POST", API + "/registered-models/rename",
             json={"name": "ward7-restricted", "new_name": "ward7-readmission"})

    refused = describe("ward7-readmission")  # the name now means the model the user has no grant on
    assert refused.status_code == 403, refused.text
    assert describe("ward7-readmission-old").status_code == 200
    described = as_admin(a, "GET", API + "/registered-models/get", params={"name": "ward7-readmission"})
    assert described["registered_model"].get("description", "") == ""

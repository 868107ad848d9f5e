"""A credential change made through one server holds on another on the very next request, also for
the write requests that server answers from credentials it verified moments ago (they are
confirmed inside the write's own transaction, medflow/auth/confirmation.py). Two real server
processes share one database, SQLite and PostgreSQL; the changes go through server a, the
requests through server b, each request's outcome is read back through a, and every request
leaves exactly one audit event.
"""
from __future__ import annotations

import time

import pytest
import requests

from tests.conftest import replica_servers

API, V1 = "/api/2.0/mlflow", "/api/medflow/v1"
USER, PASSWORD = "icu.modeller", "icu modeller passphrase 1"


@pytest.fixture(scope="module")
def replicas(backend, tmp_path_factory):
    with replica_servers(backend, tmp_path_factory.mktemp(f"confirmed-{backend}")) as servers:
        yield servers


def as_admin(server, method, path, **kwargs):
    """The test admin (credentials from the netrc file tests/conftest.py sets up)."""
    response = requests.request(method, server.url + path, timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def user(replicas):
    a = replicas[0]
    as_admin(a, "POST", V1 + "/users/create", json={"username": USER, "password": PASSWORD,
                                                    "roles": ["data_scientist"]})
    return USER


def new_run(server, auth) -> str:
    experiment = requests.post(server.url + API + "/experiments/create", auth=auth, timeout=30,
                               json={"name": f"icu-{time.monotonic_ns()}"})
    assert experiment.status_code == 200, experiment.text
    run = requests.post(server.url + API + "/runs/create", auth=auth, timeout=30,
                        json={"experiment_id": experiment.json()["experiment_id"]})
    assert run.status_code == 200, run.text
    return run.json()["run"]["info"]["run_id"]


def set_tag(server, auth, run_id, key) -> requests.Response:
    return requests.post(server.url + API + "/runs/set-tag", auth=auth, timeout=30,
                         json={"run_id": run_id, "key": key, "value": "v"})


def tags_of(server, run_id) -> set[str]:
    run = as_admin(server, "GET", API + "/runs/get", params={"run_id": run_id})["run"]
    return {t["key"] for t in run["data"].get("tags", [])}


def events_of(server, request_id, expected=1) -> list[dict]:
    """The audit events of one request (a denial is appended within 0.2 s: wait for it)."""
    deadline = time.monotonic() + 10
    while True:
        events = [e for e in as_admin(server, "GET", V1 + "/audit/events",
                                      params={"max_results": 1000, "actor": USER})["events"]
                  if e["request_id"] == request_id]
        if len(events) >= expected or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


class BearerAuth(requests.auth.AuthBase):
    def __init__(self, token):
        self.token = token

    def __call__(self, r):
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


def test_a_token_revoked_through_another_server_fails_the_next_write(replicas, user):
    a, b = replicas
    created = requests.post(a.url + V1 + "/tokens/create", auth=(USER, PASSWORD), timeout=30,
                            json={"name": "icu-pipeline"})
    assert created.status_code == 200, created.text
    token = BearerAuth(created.json()["token"])
    run_id = new_run(b, token)
    for key in ("before-1", "before-2"):  # b has now verified the token moments ago
        assert set_tag(b, token, run_id, key).status_code == 200

    as_admin(a, "POST", V1 + "/tokens/revoke", json={"id": created.json()["token_info"]["id"]})
    refused = set_tag(b, token, run_id, "after-revocation")
    assert refused.status_code == 401, refused.text
    assert "after-revocation" not in tags_of(a, run_id)
    assert requests.post(b.url + API + "/runs/search", auth=token, timeout=30, json={}).status_code == 401


def test_a_lock_through_another_server_fails_the_next_write_and_search(replicas, user):
    a, b = replicas
    run_id = new_run(b, (USER, PASSWORD))
    assert set_tag(b, (USER, PASSWORD), run_id, "before").status_code == 200
    assert requests.post(b.url + API + "/runs/search", auth=(USER, PASSWORD), timeout=30, json={}).status_code == 200

    as_admin(a, "POST", V1 + "/users/lock", json={"username": USER, "reason": "test"})
    try:
        refused = set_tag(b, (USER, PASSWORD), run_id, "while-locked")
        assert refused.status_code == 401, refused.text
        search = requests.post(b.url + API + "/runs/search", auth=(USER, PASSWORD), timeout=30, json={})
        assert search.status_code == 401, search.text
    finally:
        as_admin(a, "POST", V1 + "/users/unlock", json={"username": USER})
    assert "while-locked" not in tags_of(a, run_id)


def test_a_role_change_through_another_server_holds_on_the_next_write(replicas, user):
    a, b = replicas
    run_id = new_run(b, (USER, PASSWORD))
    assert set_tag(b, (USER, PASSWORD), run_id, "as-scientist").status_code == 200

    as_admin(a, "POST", V1 + "/users/set-roles", json={"username": USER, "roles": ["viewer"]})
    denied = set_tag(b, (USER, PASSWORD), run_id, "as-viewer")
    assert denied.status_code == 403, denied.text

    as_admin(a, "POST", V1 + "/users/set-roles", json={"username": USER, "roles": ["data_scientist"]})
    allowed = set_tag(b, (USER, PASSWORD), run_id, "as-scientist-again")
    assert allowed.status_code == 200, allowed.text

    assert tags_of(a, run_id) >= {"as-scientist", "as-scientist-again"}
    assert "as-viewer" not in tags_of(a, run_id)
    # one event per request, with its final outcome: none left behind by a first attempt
    assert [e["outcome"] for e in events_of(a, denied.headers["X-Request-Id"])] == ["denied"]
    assert [e["outcome"] for e in events_of(a, allowed.headers["X-Request-Id"])] == ["success"]


def test_a_create_that_grants_its_creator_commits_on_its_first_attempt(replicas, user):
    # Creating an experiment or a model grants the creator MANAGE, which moves the auth generation
    # in the create's own transaction; that is not a change under the request. PostgreSQL hands out
    # an id to every attempt, rolled back or not: consecutive ids mean nothing was tried twice.
    _, b = replicas
    auth = (USER, PASSWORD)
    ids = []
    for _ in range(3):  # the first verifies the password; the next two are confirmed at commit
        created = requests.post(b.url + API + "/experiments/create", auth=auth, timeout=30,
                                json={"name": f"icu-once-{time.monotonic_ns()}"})
        assert created.status_code == 200, created.text
        ids.append(int(created.json()["experiment_id"]))
        assert [e["outcome"] for e in events_of(b, created.headers["X-Request-Id"])] == ["success"]
    assert ids == list(range(ids[0], ids[0] + 3))

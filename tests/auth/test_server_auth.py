"""Authentication end to end: a real `medflow server` process on SQLite and PostgreSQL, driven by the official mlflow client with
credentials from environment variables only, and by raw HTTP for the admin API and bad input.

The tests are one scenario in order (bootstrap, then departments, then clients), on one server per backend."""
from __future__ import annotations

import re
import sys
import time

import mlflow
import pytest
import requests
from mlflow.exceptions import MlflowException

from tests.conftest import postgres_admin
from tests.servers import FAST_ARGON2, REPO_ROOT, Process, free_port, log_tail, sqlite_url

ADMIN, ADMIN_PW = "root", "platform admin passphrase"
DS, DS_PW = "cardio.ds", "cardio data scientist pw"
VIEWER, VIEWER_PW = "radio.viewer", "radiology viewer password"
CREDS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN", "NETRC")
# Raw HTTP here sends exactly the credentials a test names (no netrc from tests/conftest.py).
HTTP = requests.Session()
HTTP.trust_env = False


class AuthServer:
    def __init__(self, url, process):
        self.url, self.process = url, process

    def api(self, method, path, auth=None, **kwargs):
        return HTTP.request(method, f"{self.url}/api/medflow/v1/{path}", auth=auth, timeout=30, **kwargs)

    def admin(self, method, path, **kwargs):
        response = self.api(method, path, auth=(ADMIN, ADMIN_PW), **kwargs)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def server(backend, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp(f"auth-server-{backend}")
    db_name = None
    if backend == "postgresql":
        admin = postgres_admin()
        db_name, db_url = admin.create_database()
    else:
        db_url = sqlite_url(data_dir)
    port = free_port()
    # No admin is created beforehand: the test takes the bootstrap path a newcomer takes.
    process = Process(f"auth server ({backend})",
                      [sys.executable, "-m", "medflow", "server", "--port", str(port), "--backend-store-uri",
                       db_url, "--artifacts-destination", str(data_dir / "artifacts")],
                      data_dir / "server.log",
                      {**FAST_ARGON2, "MEDFLOW_AUTH_TRUSTED_PROXIES": "10.255.255.1/32"}).start()
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_http(url + "/health", 90)
        yield AuthServer(url, process)
    finally:
        process.stop()
        if db_name:
            admin.drop_database(db_name)


@pytest.fixture
def as_user(monkeypatch):
    """Set the mlflow client's credentials the way a user does: environment variables only."""
    def set_creds(**env):
        for name in CREDS:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
    set_creds()
    return set_creds


def test_first_start_prints_a_one_time_secret_and_nothing_is_open(server):
    assert HTTP.get(server.url + "/health", timeout=10).status_code == 200
    response = HTTP.post(server.url + "/api/2.0/mlflow/experiments/search", json={}, timeout=10)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Basic")
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    assert "MLFLOW_TRACKING_USERNAME" in response.json()["message"]
    for _ in range(50):
        found = re.search(r"one-time secret: (mfb_\S+)", log_tail(server.process.log_path, 200))
        if found:
            break
        time.sleep(0.1)
    secret = found.group(1)
    assert server.api("POST", "bootstrap", json={"secret": "mfb_wrong", "username": ADMIN,
                                                 "password": ADMIN_PW}).status_code == 401
    created = server.api("POST", "bootstrap", json={"secret": secret, "username": ADMIN, "password": ADMIN_PW,
                                                    "display_name": "Platform Admin"})
    assert created.status_code == 200 and created.json()["user"]["roles"] == ["admin"]
    again = server.api("POST", "bootstrap", json={"secret": secret, "username": "root2", "password": ADMIN_PW})
    assert again.status_code == 401


def test_admin_api_builds_departments(server):
    for workspace in ("cardiology", "radiology"):
        server.admin("POST", "workspaces/create", json={"name": workspace})
    server.admin("POST", "groups/create", json={"name": "cardio-ds"})
    server.admin("POST", "users/create", json={"username": DS, "password": DS_PW, "roles": ["data_scientist"],
                                               "default_workspace": "cardiology"})
    server.admin("POST", "users/create", json={"username": VIEWER, "password": VIEWER_PW, "roles": ["viewer"],
                                               "default_workspace": "radiology"})
    server.admin("POST", "groups/add-member", json={"group": "cardio-ds", "username": DS})
    server.admin("POST", "workspaces/set-member", json={"workspace": "default", "kind": "group",
                                                        "member": "cardio-ds", "permission": "EDIT"})
    users = {u["username"]: u for u in server.admin("GET", "users/list")["users"]}
    assert users[DS]["groups"] == ["cardio-ds"] and "password_hash" not in users[DS]
    bad = server.api("POST", "users/create", auth=(ADMIN, ADMIN_PW), json={"username": "x y", "password": "p"})
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    weak = server.api("POST", "users/create", auth=(ADMIN, ADMIN_PW), json={"username": "weak", "password": "short"})
    assert "too short" in weak.json()["message"] and "short" not in weak.json()["message"].split(":")[0][:3]
    denied = server.api("GET", "users/list", auth=(VIEWER, VIEWER_PW))
    assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"
    me = server.api("GET", "users/whoami", auth=(DS, DS_PW)).json()
    assert me["roles"] == ["data_scientist"] and me["workspaces"] == ["cardiology", "default"]
    # members list only their own workspaces, on MLflow 3's endpoint too
    listed = HTTP.get(server.url + "/api/3.0/mlflow/workspaces", auth=(VIEWER, VIEWER_PW), timeout=10).json()
    assert [w["name"] for w in listed["workspaces"]] == ["radiology"]
    other = HTTP.get(server.url + "/api/3.0/mlflow/workspaces/cardiology", auth=(VIEWER, VIEWER_PW), timeout=10)
    assert other.status_code == 404 and other.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_official_client_with_basic_credentials_from_the_environment(server, as_user):
    client = mlflow.MlflowClient(tracking_uri=server.url)
    as_user()
    with pytest.raises(MlflowException, match="MLFLOW_TRACKING_USERNAME"):
        client.search_experiments()
    as_user(MLFLOW_TRACKING_USERNAME=DS, MLFLOW_TRACKING_PASSWORD=DS_PW)
    experiment_id = client.create_experiment("cardio-auth")
    run = client.create_run(experiment_id)
    client.log_metric(run.info.run_id, "auc", 0.91)
    assert client.get_run(run.info.run_id).data.metrics == {"auc": 0.91}
    as_user(MLFLOW_TRACKING_USERNAME=DS, MLFLOW_TRACKING_PASSWORD="not the password")
    with pytest.raises(MlflowException, match="Invalid user name or password"):
        client.get_run(run.info.run_id)


def test_a_revoked_token_stops_on_the_next_request(server, as_user):
    created = server.api("POST", "tokens/create", auth=(DS, DS_PW), json={"name": "notebook", "days": 7}).json()
    client = mlflow.MlflowClient(tracking_uri=server.url)
    as_user(MLFLOW_TRACKING_TOKEN=created["token"])
    assert client.get_experiment_by_name("cardio-auth") is not None
    listed = server.api("GET", "tokens/list", auth=(DS, DS_PW)).json()["tokens"]
    assert [t["name"] for t in listed] == ["notebook"] and created["token"] not in str(listed)
    stranger = server.api("POST", "tokens/revoke", auth=(VIEWER, VIEWER_PW), json={"id": created["token_info"]["id"]})
    assert stranger.status_code == 403
    assert server.api("POST", "tokens/revoke", auth=(DS, DS_PW),
                      json={"id": created["token_info"]["id"]}).status_code == 200
    with pytest.raises(MlflowException, match="invalid, expired or revoked"):
        client.get_experiment_by_name("cardio-auth")


def test_a_locked_account_stays_locked(server, as_user):
    client = mlflow.MlflowClient(tracking_uri=server.url)
    as_user(MLFLOW_TRACKING_USERNAME=VIEWER, MLFLOW_TRACKING_PASSWORD="wrong password!")
    for _ in range(5):
        with pytest.raises(MlflowException):
            client.search_experiments()
    as_user(MLFLOW_TRACKING_USERNAME=VIEWER, MLFLOW_TRACKING_PASSWORD=VIEWER_PW)
    for _ in range(2):
        with pytest.raises(MlflowException, match="locked"):
            client.search_experiments()
    failures = server.admin("GET", "users/login-failures", params={"username": VIEWER})["failures"]
    assert len(failures) == 7 and {f["reason"] for f in failures} == {"bad password", "locked"}
    server.admin("POST", "users/unlock", json={"username": VIEWER})
    client.search_experiments()


def test_proxy_headers_from_a_non_proxy_address_are_ignored(server):
    spoofed = {"X-Forwarded-User": ADMIN, "X-Forwarded-Groups": "admins"}
    response = HTTP.get(server.url + "/api/medflow/v1/users/whoami", headers=spoofed, timeout=10)
    assert response.status_code == 401
    response = HTTP.get(server.url + "/api/medflow/v1/users/whoami", headers=spoofed, auth=(VIEWER, VIEWER_PW),
                            timeout=10)
    assert response.json()["username"] == VIEWER
    # The trusted proxy's address cannot be claimed in X-Forwarded-For: only the TCP peer counts
    # (uvicorn's own proxy-header rewriting, which trusts 127.0.0.1, is switched off).
    claimed = {**spoofed, "X-Forwarded-For": "10.255.255.1", "X-Real-IP": "10.255.255.1"}
    response = HTTP.get(server.url + "/api/medflow/v1/users/whoami", headers=claimed, timeout=10)
    assert response.status_code == 401, response.text


MLFLOW2_PYTHON = REPO_ROOT / ".venv-mlflow2" / "bin" / "python"
MLFLOW2_SCRIPT = """
import mlflow
mlflow.set_experiment("cardio-auth-2x")
with mlflow.start_run() as run:
    mlflow.log_param("model", "logreg")
    mlflow.log_metric("auc", 0.88)
print("run", run.info.run_id)
"""


def test_mlflow_2_client_with_credentials_from_the_environment(server):
    """The 2.12.1 client sends HTTP Basic (or Bearer) from its environment, and no workspace header."""
    import os
    import subprocess
    if not MLFLOW2_PYTHON.exists():
        pytest.skip("the mlflow 2.12.1 client venv is not installed (scripts/test creates .venv-mlflow2)")
    base = {k: v for k, v in os.environ.items() if k not in CREDS}
    base.update(MLFLOW_TRACKING_URI=server.url, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")
    ok = subprocess.run([str(MLFLOW2_PYTHON), "-c", MLFLOW2_SCRIPT], capture_output=True, text=True, timeout=120,
                        env={**base, "MLFLOW_TRACKING_USERNAME": DS, "MLFLOW_TRACKING_PASSWORD": DS_PW})
    assert ok.returncode == 0 and ok.stdout.startswith("run "), ok.stderr[-2000:]
    token = server.api("POST", "tokens/create", auth=(DS, DS_PW), json={"name": "2x"}).json()["token"]
    with_token = subprocess.run([str(MLFLOW2_PYTHON), "-c", MLFLOW2_SCRIPT], capture_output=True, text=True,
                                timeout=120, env={**base, "MLFLOW_TRACKING_TOKEN": token})
    assert with_token.returncode == 0, with_token.stderr[-2000:]
    refused = subprocess.run([str(MLFLOW2_PYTHON), "-c", MLFLOW2_SCRIPT], capture_output=True, text=True,
                             timeout=120, env=base)
    assert refused.returncode != 0 and "MLFLOW_TRACKING_USERNAME" in refused.stderr

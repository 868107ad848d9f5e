"""Clinical approval gates and Part 11 signatures, against a real server run with the seed's
healthcare policy (tests/governance/healthcare_policy.yaml): two clinical-reviewer approvals
for Production and for the `champion` alias, gates auc_roc >= 0.85 and sensitivity >= 0.80 on
the source run, fda_documentation_id required.

The registry is driven through the official client acting as each person (credentials in
MLFLOW_TRACKING_USERNAME/PASSWORD, as a user sets them); review requests and signatures go
through MedFlow's approvals API with `requests`. One server per backend; each test works on
its own model. Synthetic values only.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import mlflow
import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from tests.servers import ADMIN_PASSWORD, ADMIN_USER, REPO_ROOT

pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning"),  # stage APIs are deprecated, still served
              pytest.mark.filterwarnings("ignore::UserWarning")]

POLICY = REPO_ROOT / "tests" / "governance" / "healthcare_policy.yaml"
V1 = "/api/medflow/v1"
APPROVALS = f"{V1}/approvals"
GROUP = "clinical-reviewer"
PASSWORD = "Sepsis-Review-Board-2026!"
AUTHOR, REVIEWER_1, REVIEWER_2, OUTSIDER = "dr-author", "rev-one", "rev-two", "rev-outsider"
GOOD_METRICS = {"auc_roc": 0.91, "sensitivity": 0.86, "specificity": 0.88}


@pytest.fixture(scope="module")
def medflow_server(backend, server_factory):
    """This module's one server per backend, started with the seed's healthcare policy."""
    with server_factory(backend, "approvals", env={"MEDFLOW_GOVERNANCE_POLICY": str(POLICY)}) as server:
        yield server


def admin_call(server, method: str, path: str, **fields) -> dict:
    """As the test admin."""
    response = requests.request(method, server.url + path, **({"params": fields} if method == "GET" else
                                                              {"json": fields}),
                                auth=(ADMIN_USER, ADMIN_PASSWORD), timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


def session(username: str) -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # never the netrc admin
    s.auth = (username, PASSWORD)
    return s


@pytest.fixture(scope="module")
def world(medflow_server):
    """The people: an author (data scientist who is also a reviewer), two clinical reviewers, and a
    reviewer outside the clinical-reviewer group."""
    server = medflow_server
    admin_call(server, "POST", f"{V1}/groups/create", name=GROUP, description="Clinical review board")
    people = {AUTHOR: (["data_scientist", "reviewer"], "Dr. Author Example"),
              REVIEWER_1: (["reviewer"], "Reviewer One, MD"), REVIEWER_2: (["reviewer"], "Reviewer Two, PharmD"),
              OUTSIDER: (["reviewer"], "Outside Reviewer")}
    for username, (roles, display_name) in people.items():
        admin_call(server, "POST", f"{V1}/users/create", username=username, password=PASSWORD, roles=roles,
                   display_name=display_name)
        if username != OUTSIDER:
            admin_call(server, "POST", f"{V1}/groups/add-member", group=GROUP, username=username)
    mlflow.set_tracking_uri(server.url)
    with acting_as(AUTHOR):
        experiment_id = MlflowClient(server.url).create_experiment(f"sepsis-{uuid.uuid4().hex[:8]}")
    yield {"server": server, "experiment_id": experiment_id}
    mlflow.set_tracking_uri(None)


@contextlib.contextmanager
def acting_as(username: str):
    """The official client acts as `username` for the duration (it reads credentials per request;
    the session's netrc file, which would override them, is set aside)."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "NETRC")}
    os.environ.update(MLFLOW_TRACKING_USERNAME=username, MLFLOW_TRACKING_PASSWORD=PASSWORD)
    os.environ.pop("NETRC", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def register(world, metrics=GOOD_METRICS, *, name=None, fda_tag=True) -> tuple[str, str]:
    """As the author: a finished run with the seed's metrics and a model directory, registered as a
    new version of `name` (a new model by default), APPROVE granted to the clinical reviewers."""
    server = world["server"]
    name = name or f"sepsis-early-warning-{uuid.uuid4().hex[:8]}"
    with acting_as(AUTHOR):
        client = MlflowClient(server.url)
        run_id = client.create_run(world["experiment_id"]).info.run_id
        for key, value in metrics.items():
            client.log_metric(run_id, key, value)
        client.log_param(run_id, "n_estimators", "200")
        client.log_text(run_id, "artifact_path: sepsis-model\nflavors: {}\n", "sepsis-model/MLmodel")
        client.log_text(run_id, "gbm weights 0.125 0.250 0.500\n", "sepsis-model/model.txt")
        client.set_terminated(run_id)
        try:
            client.get_registered_model(name)
        except MlflowException:
            client.create_registered_model(name)
            admin_call(server, "POST", f"{V1}/grants/grant", resource_type="registered_model", resource=name,
                       kind="group", member=GROUP, permission="APPROVE")
        version = client.create_model_version(name, f"runs:/{run_id}/sepsis-model", run_id).version
        if fda_tag:
            client.set_model_version_tag(name, version, "fda_documentation_id", "DOC-2026-SEP-V23")
    return name, str(version)


def request_review(world, name, version, target=("stage", "Production")) -> dict:
    r = session(AUTHOR).post(world["server"].url + f"{APPROVALS}/request",
                             json={"name": name, "version": version, target[0]: target[1],
                                   "comment": "Validation report attached as run artifacts."})
    assert r.status_code == 200, r.text
    return r.json()["review_request"]


def sign(world, who, name, version, *, verb="approve", target=("stage", "Production"), password=PASSWORD,
         **extra) -> requests.Response:
    body = {"name": name, "version": version, target[0]: target[1], "password": password,
            "comment": "Reviewed discrimination and calibration.", **extra}
    return session(who).post(world["server"].url + f"{APPROVALS}/{verb}", json=body)


def approve_by_board(world, name, version, target=("stage", "Production")) -> None:
    request_review(world, name, version, target)
    for reviewer in (REVIEWER_1, REVIEWER_2):
        r = sign(world, reviewer, name, version, target=target)
        assert r.status_code == 200, r.text


def promote(world, name, version, stage="Production", archive=True):
    with acting_as(AUTHOR):
        return MlflowClient(world["server"].url).transition_model_version_stage(name, version, stage, archive)


def refused(call) -> str:
    with pytest.raises(MlflowException) as info:
        call()
    assert info.value.error_code == "PERMISSION_DENIED", info.value
    return info.value.message


def audit_events(world, name, version, *, including=()) -> list[dict]:
    """The version's audit events. Denials are appended by the background writer (within its 0.2 s
    flush interval), not with a change: wait up to 10 s for the (action, outcome, actor) in `including`."""
    deadline = time.monotonic() + 10
    while True:
        events = admin_call(world["server"], "GET", f"{V1}/audit/events", resource_type="model_version",
                            resource_id=f"{name}/{version}", max_results=1000).get("events", [])
        seen = {(e["action"], e["outcome"], e["actor"]) for e in events}
        if seen.issuperset(including) or time.monotonic() > deadline:
            return events
        time.sleep(0.1)


# --- the seed's workflow, gated ------------------------------------------------------------------

def test_promotion_needs_two_clinical_approvals_and_the_author_cannot_approve(world):
    name, v1 = register(world, fda_tag=False)

    message = refused(lambda: promote(world, name, v1))
    assert "needs 2 approvals from clinical-reviewer, has 0" in message
    assert "tag fda_documentation_id missing" in message

    request_review(world, name, v1)
    own = sign(world, AUTHOR, name, v1)
    assert own.status_code == 403 and own.json()["error_code"] == "PERMISSION_DENIED"
    assert "Separation of duties" in own.json()["message"] and AUTHOR in own.json()["message"]

    wrong = sign(world, REVIEWER_1, name, v1, password="Not-The-Right-Password-1")
    assert wrong.status_code == 401 and wrong.json()["error_code"] == "UNAUTHENTICATED"
    first = sign(world, REVIEWER_1, name, v1)
    assert first.status_code == 200, first.text
    signature = first.json()["signature"]
    assert signature["signer_name"] == "Reviewer One, MD" and signature["meaning"] == "approval"
    assert signature["signed_at_utc"].endswith("Z") and len(signature["content_hash"]) == 64
    assert signature["manifestation"].startswith("Approved by Reviewer One, MD (rev-one) on ")

    with acting_as(AUTHOR):
        MlflowClient(world["server"].url).set_model_version_tag(name, v1, "fda_documentation_id", "DOC-2026-SEP-V23")
    message = refused(lambda: promote(world, name, v1))
    assert "needs 2 approvals from clinical-reviewer, has 1" in message and "fda_documentation_id" not in message

    assert sign(world, REVIEWER_2, name, v1).status_code == 200
    assert promote(world, name, v1).current_stage == "Production"

    # A second version, through the same gates, archives the first (archive_existing_versions=True).
    _, v2 = register(world, {**GOOD_METRICS, "auc_roc": 0.93}, name=name)
    refused(lambda: promote(world, name, v2))
    approve_by_board(world, name, v2)
    assert promote(world, name, v2).current_stage == "Production"
    with acting_as(AUTHOR):
        client = MlflowClient(world["server"].url)
        assert client.get_model_version(name, v1).current_stage == "Archived"
        assert client.get_model_version(name, v1).user_id == AUTHOR

    # Stage history, with times and actors.
    history = admin_call(world["server"], "GET", f"{APPROVALS}/history", name=name, version=v1)["history"]
    assert [(h["stage"], h["changed_by"]) for h in history] == [("Production", AUTHOR), ("Archived", AUTHOR)]
    assert len(history[0]["signature_ids"]) == 2 and history[0]["policy_sha256"]
    assert history[1]["reason"] == f"archived when version {v2} entered Production"

    # Every step is in the audit trail.
    denials = [("POST model-versions/transition-stage", "denied", AUTHOR),
               ("POST medflow/v1/approvals/approve", "denied", AUTHOR),
               ("POST medflow/v1/approvals/approve", "denied", REVIEWER_1)]  # the wrong password
    events = audit_events(world, name, v1, including=denials)
    seen = [(e["action"], e["outcome"], e["actor"]) for e in events]
    assert ("POST model-versions/transition-stage", "denied", AUTHOR) in seen
    assert ("POST medflow/v1/approvals/request", "success", AUTHOR) in seen
    assert ("POST medflow/v1/approvals/approve", "denied", AUTHOR) in seen
    assert ("POST medflow/v1/approvals/approve", "denied", REVIEWER_1) in seen  # the wrong password
    assert ("POST medflow/v1/approvals/approve", "success", REVIEWER_1) in seen
    assert ("POST medflow/v1/approvals/approve", "success", REVIEWER_2) in seen
    assert ("POST model-versions/transition-stage", "success", AUTHOR) in seen
    denial = next(e for e in events if e["action"] == "POST model-versions/transition-stage"
                  and e["outcome"] == "denied")
    assert "needs 2 approvals from clinical-reviewer, has 0" in str(denial["details"]["governance"]["missing"])
    assert "password" not in str(events).lower().replace("password did not match", "")


def test_a_failed_release_gate_refuses_promotion_whatever_the_approvals(world):
    name, version = register(world, {**GOOD_METRICS, "auc_roc": 0.83})
    approve_by_board(world, name, version)
    message = refused(lambda: promote(world, name, version))
    assert "gate auc_roc >= 0.85 failed: 0.83" in message
    assert "needs" not in message and "sensitivity" not in message
    with acting_as(AUTHOR):
        assert MlflowClient(world["server"].url).get_model_version(name, version).current_stage == "None"


def test_staging_is_not_governed_by_this_policy(world):
    name, version = register(world, {"auc_roc": 0.5}, fda_tag=False)
    assert promote(world, name, version, "Staging", archive=False).current_stage == "Staging"


def test_the_champion_alias_is_gated_like_production(world):
    name, version = register(world)
    with acting_as(AUTHOR):
        client = MlflowClient(world["server"].url)
        message = refused(lambda: client.set_registered_model_alias(name, "champion", version))
        assert "needs 2 approvals from clinical-reviewer, has 0" in message
        client.set_registered_model_alias(name, "shadow", version)  # not protected
    approve_by_board(world, name, version, target=("alias", "champion"))
    with acting_as(AUTHOR):
        client.set_registered_model_alias(name, "champion", version)
        assert client.get_model_version_by_alias(name, "champion").version == version
    history = admin_call(world["server"], "GET", f"{APPROVALS}/history", name=name)["history"]
    assert [(h["alias"], h["action"]) for h in history] == [("shadow", "set"), ("champion", "set")]


def test_a_changed_artifact_byte_voids_the_signatures_and_the_promotion(world):
    server = world["server"]
    name, version = register(world)
    approve_by_board(world, name, version)
    assert promote(world, name, version).current_stage == "Production"
    promote(world, name, version, "Staging", archive=False)  # ungoverned: allowed

    with acting_as(AUTHOR):
        location = MlflowClient(server.url).get_model_version_download_uri(name, version)
    model_file = Path(server.artifacts_destination) / location.split(":/", 1)[1] / "model.txt"
    data = bytearray(model_file.read_bytes())
    data[0] ^= 0x01  # one byte, directly in the artifact store
    model_file.write_bytes(bytes(data))

    verified = admin_call(server, "GET", f"{APPROVALS}/verify", name=name, version=version)
    assert verified["all_valid"] is False and len(verified["signatures"]) == 2
    for s in verified["signatures"]:
        assert s["valid"] is False
        assert s["problem"] == "content changed since signing (artifact model.txt changed)"
    message = refused(lambda: promote(world, name, version))
    assert "needs 2 approvals from clinical-reviewer, has 0" in message
    assert "rev-one's approval no longer verifies: content changed since signing (artifact model.txt changed)" in message


def test_a_rejection_closes_the_review(world):
    name, version = register(world)
    request_review(world, name, version)
    assert sign(world, REVIEWER_1, name, version).status_code == 200
    no_comment = sign(world, REVIEWER_2, name, version, verb="reject", comment="")
    assert no_comment.status_code == 400 and "comment" in no_comment.json()["message"]
    rejected = sign(world, REVIEWER_2, name, version, verb="reject", comment="Calibration drifts in the ICU cohort.")
    assert rejected.status_code == 200 and rejected.json()["signature"]["decision"] == "rejected"
    message = refused(lambda: promote(world, name, version))
    assert "was rejected by Reviewer Two, PharmD (rev-two)" in message and "Calibration drifts" in message
    late = sign(world, REVIEWER_1, name, version)
    assert late.status_code == 400 and "no open review request" in late.json()["message"]
    approve_by_board(world, name, version)  # a new review cycle
    assert promote(world, name, version).current_stage == "Production"


def test_list_shows_what_each_target_still_needs(world):
    name, version = register(world, {**GOOD_METRICS, "sensitivity": 0.7})
    request_review(world, name, version)
    assert sign(world, REVIEWER_1, name, version).status_code == 200
    listing = session(REVIEWER_2).get(world["server"].url + f"{APPROVALS}/list",
                                      params={"name": name, "version": version}).json()
    targets = {t["target"]: t for t in listing["targets"]}
    assert targets["Production"]["missing"] == ["needs 2 approvals from clinical-reviewer, has 1",
                                                "gate sensitivity >= 0.80 failed: 0.7"]
    assert listing["review_requests"][0]["status"] == "open"
    assert listing["signatures"][0]["valid"] is True


# --- what signing refuses ----------------------------------------------------------------------------

def test_signing_refuses_tokens_outsiders_and_bad_input(world):
    server = world["server"]
    name, version = register(world)
    request_review(world, name, version)

    token = session(REVIEWER_1).post(server.url + f"{V1}/tokens/create", json={"name": "ci"}).json()["token"]
    bearer = requests.Session()
    bearer.trust_env = False
    bearer.headers["Authorization"] = f"Bearer {token}"
    r = bearer.post(server.url + f"{APPROVALS}/approve",
                    json={"name": name, "version": version, "stage": "Production", "password": PASSWORD})
    assert r.status_code == 403 and "API token cannot sign" in r.json()["message"]

    outsider = sign(world, OUTSIDER, name, version)
    assert outsider.status_code == 403  # no APPROVE grant on the model: the group has it
    admin_call(server, "POST", f"{V1}/grants/grant", resource_type="registered_model", resource=name,
               kind="user", member=OUTSIDER, permission="APPROVE")
    outsider = sign(world, OUTSIDER, name, version)
    assert outsider.status_code == 403 and "not in clinical-reviewer" in outsider.json()["message"]

    cases = [({"password": None}, "password"), ({"alias": "champion"}, "exactly one target"),
             ({"meaning": "authorised"}, "meaning"), ({"version": "x"}, "version"),
             ({"stage": "Prod"}, "stage")]
    for change, expected in cases:
        body = {"name": name, "version": version, "stage": "Production", "password": PASSWORD, **change}
        r = session(REVIEWER_1).post(server.url + f"{APPROVALS}/approve",
                                     json={k: v for k, v in body.items() if v is not None})
        assert r.status_code == 400 and r.json()["error_code"] == "INVALID_PARAMETER_VALUE", (change, r.text)
        assert expected.lower() in r.json()["message"].lower(), (change, r.text)
    missing = session(REVIEWER_1).post(server.url + f"{APPROVALS}/approve",
                                       json={"name": "no-such-model", "version": "1", "stage": "Production",
                                             "password": PASSWORD})
    assert missing.status_code == 404
    listing = admin_call(server, "GET", f"{APPROVALS}/list", name=name, version=version)
    assert "signatures" not in listing  # nothing refused was written


def test_policy_is_served_and_validated(world):
    server = world["server"]
    info = admin_call(server, "GET", f"{APPROVALS}/policy")
    assert info["configured"] is True and info["policy"]["rules"][0]["stages"]["Production"]["approvals"] == [
        {"from": GROUP, "count": 2}]
    assert info["versions"][0]["sha256"] == info["policy"]["sha256"]
    good = admin_call(server, "POST", f"{APPROVALS}/policy/validate", policy=POLICY.read_text())
    assert good["valid"] is True
    bad = requests.post(server.url + f"{APPROVALS}/policy/validate", timeout=30, json={
        "policy": "version: 1\nrules:\n  - models: '*'\n    stages:\n      Production:\n        approvals:\n"
                  "          - {from: clinical-reviewer, count: 0}\n"})
    assert bad.status_code == 400
    assert "rules[0].stages.Production.approvals[0].count must be a whole number" in bad.json()["message"]


def test_the_cli_requests_and_signs(world, tmp_path):
    server = world["server"]
    name, version = register(world)
    env = {**os.environ, "MLFLOW_TRACKING_URI": server.url, "MLFLOW_TRACKING_USERNAME": AUTHOR,
           "MLFLOW_TRACKING_PASSWORD": PASSWORD}
    env.pop("NETRC", None)

    def medflow(*args, user=AUTHOR, stdin=None):
        return subprocess.run([sys.executable, "-m", "medflow", "approvals", *args], capture_output=True,
                              text=True, input=stdin, timeout=120,
                              env={**env, "MLFLOW_TRACKING_USERNAME": user}, cwd=REPO_ROOT)

    made = medflow("request", name, version, "--stage", "Production")
    assert made.returncode == 0, made.stderr
    signed = medflow("approve", name, version, "--stage", "Production", "--password-stdin", user=REVIEWER_1,
                     stdin=PASSWORD + "\n")
    assert signed.returncode == 0, signed.stderr
    assert "Approved by Reviewer One, MD (rev-one)" in signed.stdout and "You are signing" in signed.stderr
    listing = medflow("list", name, version)
    assert "needs 2 approvals from clinical-reviewer, has 1" in listing.stdout, listing.stderr
    assert medflow("verify", name, version).returncode == 0
    bad_policy = tmp_path / "bad.yaml"
    bad_policy.write_text("version: 2\nrules: []\n")
    checked = medflow("policy", "validate", str(bad_policy))
    assert checked.returncode == 1 and "'version' must be 1" in checked.stderr
    assert medflow("policy", "validate", str(POLICY)).returncode == 0


PHI_POLICY = "version: 1\nrules:\n  - models: '*'\n    stages:\n      Production:\n        gates:\n          phi_scan: clean\n"


def test_the_phi_scan_gate_refuses_a_version_whose_files_hold_patient_names(backend, server_factory, tmp_path):
    """`phi_scan: clean` on its own server (this module's policy has no such gate). The CSV of names is
    written straight into the artifact store: the upload path itself would block it."""
    policy = tmp_path / "phi_policy.yaml"
    policy.write_text(PHI_POLICY)
    with server_factory(backend, "approvals-phi", env={"MEDFLOW_GOVERNANCE_POLICY": str(policy)}) as server:
        client = MlflowClient(server.url)  # the session's admin
        experiment_id = client.create_experiment(f"phi-gate-{uuid.uuid4().hex[:8]}")
        name = f"sepsis-phi-{uuid.uuid4().hex[:8]}"
        client.create_registered_model(name)
        versions = []
        for _ in range(2):
            run_id = client.create_run(experiment_id).info.run_id
            client.log_text(run_id, "artifact_path: sepsis-model\nflavors: {}\n", "sepsis-model/MLmodel")
            client.log_text(run_id, "gbm weights 0.125 0.250 0.500\n", "sepsis-model/model.txt")
            client.set_terminated(run_id)
            versions.append(client.create_model_version(name, f"runs:/{run_id}/sepsis-model", run_id).version)
        dirty, clean = versions
        location = client.get_model_version_download_uri(name, dirty)
        sample = Path(server.artifacts_destination) / location.split(":/", 1)[1] / "data" / "sample.csv"
        sample.parent.mkdir(parents=True)
        sample.write_text("patient_name,age,lactate\nJohn Smith,67,2.1\nMaria Garcia,54,3.4\n")

        message = refused(lambda: client.transition_model_version_stage(name, dirty, "Production"))
        assert "gate phi_scan failed: artifact data/sample.csv contains a person's name (PHI)" in message
        assert "Smith" not in message and "Garcia" not in message
        assert client.transition_model_version_stage(name, clean, "Production").current_stage == "Production"

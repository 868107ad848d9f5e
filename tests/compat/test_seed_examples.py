"""The seed document's examples, run unchanged by the official clients against a real server.

For each client (the system Python's mlflow 3.x and .venv-mlflow2's mlflow 2.12.1) and each
backend (SQLite, PostgreSQL) one fresh server process runs, in this order: a_tracking ->
b_registry -> c_serving, a read-back of what they stored through the official client, b_registry
once more (the previous Production version must be archived), d_sweep and e_errors.

The scripts live in <repo>/../shared/acceptance/seed_examples and are never copied into the
repo. Only e_errors.py runs as an edited temp copy: see E_ERRORS_SUBSTITUTIONS.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import requests

from tests.compat.seed_readback import ALIAS, read_back
from tests.servers import ADMIN_PASSWORD, ADMIN_USER, REPO_ROOT

pytestmark = pytest.mark.timeout(600)  # per test; includes starting the class's server

SEED_DIR = REPO_ROOT.parent / "shared" / "acceptance" / "seed_examples"
READBACK_SCRIPT = REPO_ROOT / "tests" / "compat" / "seed_readback.py"
CLIENT_PYTHONS = {"mlflow3": sys.executable,
                  "mlflow2": str(REPO_ROOT / ".venv-mlflow2" / "bin" / "python")}
SCRIPT_TIMEOUT = 420  # seconds for one script; a 3.x a_tracking takes about 30 s

# MedFlow rejects over-long values (product requirement) where MLflow silently truncates them, so
# e_errors.py runs as a copy with exactly these edits. Everything else in it runs as written.
E_ERRORS_SUBSTITUTIONS = [
    ('client_case("log_param.value_6001_chars", "NO_ERROR",',
     'client_case("log_param.value_6001_chars", "INVALID_PARAMETER_VALUE",',
     "a param value over 6000 chars is rejected, not truncated"),
    ('client_case("set_tag.value_8001_chars", "NO_ERROR",',
     'client_case("set_tag.value_8001_chars", "INVALID_PARAMETER_VALUE",',
     "a run tag value over 8000 chars is rejected, not truncated"),
    ('record("log_param.value_6001_chars.stored_length", "client", 6000, '
     'len(data.params["long_value"]), "")',
     'record("log_param.value_6001_chars.stored_length", "client", "absent", '
     'len(data.params["long_value"]) if "long_value" in data.params else "absent", "")',
     "the rejected param was not stored"),
    ('record("set_tag.value_8001_chars.stored_length", "client", 8000, '
     'len(data.tags["long_tag"]), "")',
     'record("set_tag.value_8001_chars.stored_length", "client", "absent", '
     'len(data.tags["long_tag"]) if "long_tag" in data.tags else "absent", "")',
     "the rejected tag was not stored"),
    ('api.case("log-parameter.value_6001_chars", (200, None),',
     'api.case("log-parameter.value_6001_chars", (400, "INVALID_PARAMETER_VALUE"),',
     "REST: a param value over 6000 chars is a 400"),
    ('api.case("set-tag.value_8001_chars", (200, None),',
     'api.case("set-tag.value_8001_chars", (400, "INVALID_PARAMETER_VALUE"),',
     "REST: a run tag value over 8000 chars is a 400"),
    ('record("log-parameter.value_6001_chars.stored_length", "rest", 6000, len(params["v6001"]), "")',
     'record("log-parameter.value_6001_chars.stored_length", "rest", "absent", '
     'len(params["v6001"]) if "v6001" in params else "absent", "")',
     "REST: the rejected param was not stored"),
    ('record("set-tag.value_8001_chars.stored_length", "rest", 8000, len(tags["t8001"]), "")',
     'record("set-tag.value_8001_chars.stored_length", "rest", "absent", '
     'len(tags["t8001"]) if "t8001" in tags else "absent", "")',
     "REST: the rejected tag was not stored"),
]

EXPECTED_PARAMS = {  # a_tracking.py's log_params; the remaining three vary per run
    "model_type": "GradientBoostingClassifier", "n_estimators": "200", "max_depth": "6",
    "learning_rate": "0.1", "data_version": "v2.3", "feature_set": "vitals+labs+demo",
    "train_size": "450", "test_size": "150",
    "data_hash": hashlib.sha256(str((450, 7)).encode()).hexdigest()[:12],
}
EXPECTED_METRICS = {"auc_roc", "sensitivity", "specificity", "ppv", "npv", "f1"}
REVIEW_TAGS = {"clinical_review_status": "approved", "clinical_reviewer": "CMIO-Dr-Johnson",
               "review_date": "2026-02-15", "fda_documentation_id": "DOC-2026-SEP-V23"}


def tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


def client_env(server) -> dict[str, str]:
    """The scripts' environment: the server URI and credentials in MLFLOW_* variables only
    (no netrc), as a training script would have them."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MLFLOW_") and k not in ("PYTHONPATH", "PYTHONHOME", "NETRC")}
    env.update(MLFLOW_TRACKING_URI=server.url, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true",
               MLFLOW_TRACKING_USERNAME=ADMIN_USER, MLFLOW_TRACKING_PASSWORD=ADMIN_PASSWORD,
               # fail fast instead of the clients' 5-7 retries with backoff on a 5xx answer
               MLFLOW_HTTP_REQUEST_MAX_RETRIES="1", MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR="1",
               MPLBACKEND="Agg", GIT_PYTHON_REFRESH="quiet", PYTHONUNBUFFERED="1")
    return env


def run_client(python: str, argv: list[str], server, cwd, name: str, explain=None) -> str:
    """Run a client-side script; on failure, fail the test with its output and the server log.

    explain(output) may return text to put first in the failure message.
    """
    try:
        proc = subprocess.run([python, *argv], cwd=cwd, env=client_env(server), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=SCRIPT_TIMEOUT)
        out, problem = proc.stdout, proc.returncode and f"exited with code {proc.returncode}"
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        problem = f"timed out after {SCRIPT_TIMEOUT}s"
    (cwd / f"{name}.log").write_text(out)
    if problem:
        pytest.fail(f"{explain(out) if explain else ''}{name} {problem} "
                    f"(client {python}, server {server.url}, {server.backend})\n"
                    f"--- client output (tail; all of it in {cwd / (name + '.log')}) ---\n"
                    f"{tail(out, 60)}\n"
                    f"--- server log {server.log_path} (tail) ---\n{server.log_tail(30)}",
                    pytrace=False)
    return out


@pytest.fixture(scope="module")
def seed_dir():
    assert (SEED_DIR / "a_tracking.py").is_file(), f"seed examples not found at {SEED_DIR}"
    return SEED_DIR


class SeedScenario:
    """The whole scenario for one client; subclasses set `client`."""

    client = ""

    @pytest.fixture(scope="class")
    def server(self, backend, server_factory):
        with server_factory(backend, f"seed-{self.client}") as server:
            yield server

    @pytest.fixture(scope="class")
    def done(self, server):
        """Names of the steps that passed, for the steps that need them."""
        return {}

    def run_seed(self, script: str, server, tmp_path, seed_dir) -> str:
        return run_client(CLIENT_PYTHONS[self.client], [str(seed_dir / script)], server, tmp_path,
                          f"{self.client}-{script}")

    def needs(self, done, *steps):
        missing = [s for s in steps if s not in done]
        if missing:
            pytest.skip(f"needs {', '.join(missing)}, which did not pass")

    def test_a_tracking(self, server, tmp_path, seed_dir, done):
        out = self.run_seed("a_tracking.py", server, tmp_path, seed_dir)
        match = re.search(r"^RUN_ID=(\w+)$", out, re.M)
        assert match, tail(out, 20)
        done["a"] = match.group(1)

    def test_b_registry(self, server, tmp_path, seed_dir, done):
        self.needs(done, "a")
        out = self.run_seed("b_registry.py", server, tmp_path, seed_dir)
        match = re.search(r"^MODEL_VERSION=(\d+)$", out, re.M)
        assert match, tail(out, 20)
        done["b"] = match.group(1)

    def test_c_serving(self, server, tmp_path, seed_dir, done):
        self.needs(done, "a", "b")
        out = self.run_seed("c_serving.py", server, tmp_path, seed_dir)
        assert "SERVING_OK" in out
        checks = re.findall(r"^CHECK (\w+) .*: ok", out, re.M)
        assert checks == ["stage", "alias", "log_model_version"], tail(out, 20)
        done["c"] = True

    def read_state(self, server, tmp_path) -> dict:
        if self.client == "mlflow3":
            return read_back(server.url)
        out = run_client(CLIENT_PYTHONS[self.client], [str(READBACK_SCRIPT), server.url], server,
                         tmp_path, f"{self.client}-readback")
        return json.loads(out.strip().splitlines()[-1])

    def test_readback_after_abc(self, server, tmp_path, done):
        self.needs(done, "a", "b", "c")
        state = self.read_state(server, tmp_path)
        run_id, registered = done["a"], done["b"]
        assert state["run_count"] == 1
        run = state["run"]
        assert run["run_id"] == run_id and run["status"] == "FINISHED"
        assert run["run_name"].startswith("gbm-v2.3-") and run["tags"]["mlflow.runName"] == run["run_name"]

        params = run["params"]
        assert len(params) == 11, sorted(params)
        assert {k: params[k] for k in EXPECTED_PARAMS} == EXPECTED_PARAMS
        assert 0 < float(params["positive_rate"]) < 1 and len(params["positive_rate"]) == 6
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?", params["training_date"])

        metrics = run["metrics"]
        assert set(metrics) == EXPECTED_METRICS
        assert all(0.0 <= v <= 1.0 for v in metrics.values()), metrics
        assert run["metric_history_lengths"] == {k: 1 for k in EXPECTED_METRICS}

        # the CSV artifact, byte for byte what np.savetxt wrote, agrees with the logged metrics
        assert "confusion_matrix.csv" in run["artifacts"], run["artifacts"]
        header, *rows = run["confusion_matrix_csv"].splitlines()
        assert header == "Predicted_Neg,Predicted_Pos"
        (tn, fp), (fn, tp) = [[float(x) for x in row.split(",")] for row in rows]
        assert tn + fp + fn + tp == 150
        assert tp / (tp + fn) == pytest.approx(metrics["sensitivity"])
        assert tn / (tn + fp) == pytest.approx(metrics["specificity"])

        versions = state["versions"]
        assert registered == "2" and set(versions) == {"1", "2"}, versions
        logged, seeded = versions["1"], versions["2"]  # by log_model(registered_model_name=...), by b
        assert logged["run_id"] == run_id and logged["current_stage"] == "None"
        assert seeded["run_id"] == run_id
        assert seeded["source"] == f"runs:/{run_id}/sepsis-model"
        assert seeded["description"].startswith("GBM trained on v2.3 dataset")
        assert seeded["current_stage"] == "Production"
        assert seeded["tags"] == REVIEW_TAGS
        assert seeded["aliases"] == [ALIAS] and logged["aliases"] == []
        assert state["registered_model_aliases"] == {ALIAS: "2"}
        assert state["alias_version"] == "2"
        assert state["latest_production"] == ["2"]

    def test_b_registry_again_archives_previous_production(self, server, tmp_path, seed_dir, done):
        self.needs(done, "a", "b", "c")
        self.run_seed("b_registry.py", server, tmp_path, seed_dir)
        state = self.read_state(server, tmp_path)
        stages = {v: mv["current_stage"] for v, mv in state["versions"].items()}
        assert stages == {"1": "None", "2": "Archived", "3": "Production"}
        assert state["latest_production"] == ["3"]
        assert state["versions"]["3"]["tags"] == REVIEW_TAGS
        assert state["alias_version"] == "2"  # the alias stays on the version it was set on

    def test_audit_trail_answers_who_and_when(self, server, done):
        """Issue 4: the seed's examples leave a trail that answers who logged each param, who
        moved each stage, and when."""
        self.needs(done, "a", "b", "c")
        run_id = done["a"]

        def audit(path, **params):
            response = requests.get(f"{server.url}/api/medflow/v1/audit/{path}", params=params, timeout=30,
                                    auth=(ADMIN_USER, ADMIN_PASSWORD))
            assert response.status_code == 200, response.text
            return response.json()

        for param in EXPECTED_PARAMS:
            history = audit("history", resource_type="run", resource_id=run_id, field=f"params.{param}")
            assert history["value"] == EXPECTED_PARAMS[param]
            assert history["set_by"] == ADMIN_USER and history["set_at"] > 0
        stages = audit("history", resource_type="model_version", resource_id="sepsis-early-warning/2",
                       field="current_stage")
        assert [(h["previous"], h["value"], h["changed_by"]) for h in stages["history"]][:2] == [
            ("None", "Staging", ADMIN_USER), ("Staging", "Production", ADMIN_USER)]
        before_production = audit("history", resource_type="model_version",
                                  resource_id="sepsis-early-warning/2", field="current_stage",
                                  at=str(stages["history"][1]["changed_at"] - 1))
        assert before_production["value"] == "Staging"
        reads = audit("events", resource_type="run", resource_id=run_id, action="GET runs/get")
        assert reads["events"] and all(e["actor"] == ADMIN_USER for e in reads["events"])
        verified = audit("verify")
        assert verified["ok"], verified

    def test_d_sweep(self, server, tmp_path, seed_dir):
        assert "SWEEP_OK" in self.run_seed("d_sweep.py", server, tmp_path, seed_dir)

    def test_e_errors(self, server, tmp_path, seed_dir):
        source = (seed_dir / "e_errors.py").read_text()
        for old, new, reason in E_ERRORS_SUBSTITUTIONS:
            assert source.count(old) == 1, f"substitution ({reason}) must match once: {old!r}"
            source = source.replace(old, new)
        work = tmp_path / "e_errors"
        work.mkdir()
        (work / "e_errors.py").write_text(source)
        shutil.copy(seed_dir / "_common.py", work / "_common.py")
        out = run_client(CLIENT_PYTHONS[self.client], [str(work / "e_errors.py")], server, tmp_path,
                         f"{self.client}-e_errors", explain=mismatches)
        assert re.fullmatch(r"\d+ passed, 0 failed", out.strip().splitlines()[-1]), tail(out, 5)


def mismatches(output: str) -> str:
    cases = []
    for line in output.splitlines():
        if line.startswith("{") and '"ok": false' in line:
            case = json.loads(line)
            cases.append(f"  {case['case']}: expected {case['expected']}, observed "
                         f"{case['observed']} {case['detail']!s:.120}")
    return ("e_errors cases that did not match:\n" + "\n".join(cases) + "\n") if cases else ""


class TestSeedExamplesMlflow3(SeedScenario):
    client = "mlflow3"


class TestSeedExamplesMlflow2(SeedScenario):
    client = "mlflow2"

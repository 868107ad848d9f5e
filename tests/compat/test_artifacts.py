"""The artifact proxy through the official clients: mlflow 3.x in this Python, 2.12.1 in its venv.

Every call goes to a real `medflow server` (SQLite and PostgreSQL) with a local artifact
directory; what the client reads back is compared with what it wrote.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import textwrap
import threading
import time
from pathlib import Path

import mlflow
import pytest
import requests
from mlflow import MlflowClient

from tests.servers import REPO_ROOT

pytestmark = pytest.mark.timeout(600)

ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
MLFLOW2_PYTHONS = [REPO_ROOT / ".venv-mlflow2" / "bin" / "python", Path("/tmp/venv-mlflow2/bin/python")]


@pytest.fixture(scope="module")
def client(medflow_server) -> MlflowClient:
    mlflow.set_tracking_uri(medflow_server.url)
    return MlflowClient(tracking_uri=medflow_server.url)


@pytest.fixture(scope="module")
def experiment_id(client, medflow_server) -> str:
    return client.create_experiment(f"artifacts-{medflow_server.backend}")


@pytest.fixture
def run_id(client, experiment_id) -> str:
    run = client.create_run(experiment_id)
    yield run.info.run_id
    client.set_terminated(run.info.run_id)


def run_store_path(client, run_id: str) -> str:
    uri = client.get_run(run_id).info.artifact_uri
    assert uri.startswith("mlflow-artifacts:/"), uri
    return uri[len("mlflow-artifacts:/"):]


def test_log_and_read_back_every_kind(client, run_id, tmp_path):
    src = tmp_path / "src"
    (src / "nested").mkdir(parents=True)
    (src / "summary.txt").write_text("cohort: adults, de-identified\n")
    (src / "nested" / "calibration.csv").write_text("bin,observed\n0.1,0.09\n")
    single = tmp_path / "vitals.csv"
    single.write_text("hr,sbp\n80,120\n")

    client.log_artifact(run_id, str(single))
    client.log_artifacts(run_id, str(src), "reports")
    client.log_text(run_id, "notes about the cohort\n", "notes/cohort.txt")
    client.log_dict(run_id, {"threshold": 0.5, "features": ["hr", "sbp"]}, "config/model_config.json")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [0.9, 0.5, 0.3])
    client.log_figure(run_id, fig, "plots/loss.png")
    plt.close(fig)

    root = client.list_artifacts(run_id)
    assert [(f.path, f.is_dir) for f in root] == [
        ("config", True), ("notes", True), ("plots", True), ("reports", True), ("vitals.csv", False)]
    assert root[-1].file_size == single.stat().st_size
    sub = client.list_artifacts(run_id, "reports")
    assert [(f.path, f.is_dir) for f in sub] == [("reports/nested", True), ("reports/summary.txt", False)]
    assert [f.path for f in client.list_artifacts(run_id, "reports/nested")] == ["reports/nested/calibration.csv"]
    assert client.list_artifacts(run_id, "vitals.csv") == []  # a file lists as empty
    assert client.list_artifacts(run_id, "no-such-dir") == []

    out = tmp_path / "out"
    out.mkdir()
    one = Path(client.download_artifacts(run_id, "vitals.csv", str(out)))
    assert one.read_bytes() == single.read_bytes()
    folder = Path(client.download_artifacts(run_id, "reports", str(out)))
    assert (folder / "summary.txt").read_text() == "cohort: adults, de-identified\n"
    assert (folder / "nested" / "calibration.csv").read_text() == "bin,observed\n0.1,0.09\n"
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/config/model_config.json") == {
        "threshold": 0.5, "features": ["hr", "sbp"]}
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/notes/cohort.txt") == "notes about the cohort\n"
    png = Path(client.download_artifacts(run_id, "plots/loss.png", str(out))).read_bytes()
    assert png.startswith(b"\x89PNG")


def test_overwrite_replaces_the_file(client, run_id):
    client.log_text(run_id, "first version, longer text", "a.txt")
    client.log_text(run_id, "second", "a.txt")
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/a.txt") == "second"
    assert [f.file_size for f in client.list_artifacts(run_id)] == [6]


def test_download_headers_and_listing_shape(client, run_id, medflow_server):
    client.log_text(run_id, "a,b\n1,2\n", "data/table.csv")
    client.log_dict(run_id, {"x": 1}, "data/cfg.json")
    base = run_store_path(client, run_id)
    raw = {"report.html": b"<script>alert(1)</script>", "model.pkl": b"\x80\x04binary"}
    for name, body in raw.items():
        r = requests.put(f"{medflow_server.url}{ARTIFACTS_API}/{base}/data/{name}", data=body)
        assert r.status_code == 200, r.text

    listing = requests.get(f"{medflow_server.url}{ARTIFACTS_API}", params={"path": f"{base}/data"}).json()
    assert listing == {"files": [
        {"path": "cfg.json", "is_dir": False, "file_size": len(json.dumps({"x": 1}, indent=2))},
        {"path": "model.pkl", "is_dir": False, "file_size": len(raw["model.pkl"])},
        {"path": "report.html", "is_dir": False, "file_size": len(raw["report.html"])},
        {"path": "table.csv", "is_dir": False, "file_size": 8}]}
    root = requests.get(f"{medflow_server.url}{ARTIFACTS_API}", params={"path": base}).json()
    assert root == {"files": [{"path": "data", "is_dir": True}]}
    for path in (f"{base}/data/table.csv", f"{base}/nothing-here", "999999/none"):
        assert requests.get(f"{medflow_server.url}{ARTIFACTS_API}", params={"path": path}).json() == {}

    expected = {"table.csv": "text/plain", "cfg.json": "text/plain", "report.html": "application/octet-stream",
                "model.pkl": "application/octet-stream"}
    for name, media in expected.items():
        r = requests.get(f"{medflow_server.url}{ARTIFACTS_API}/{base}/data/{name}")
        assert r.status_code == 200
        assert r.headers["content-type"].split(";")[0] == media
        assert r.headers["content-disposition"] == f'attachment; filename="{name}"'
        assert r.headers["x-content-type-options"] == "nosniff"
        assert int(r.headers["content-length"]) == len(r.content)

    missing = requests.get(f"{medflow_server.url}{ARTIFACTS_API}/{base}/data/none.txt")
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    directory = requests.get(f"{medflow_server.url}{ARTIFACTS_API}/{base}/data")
    assert directory.status_code == 400 and directory.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_run_scoped_listing(client, run_id, medflow_server):
    client.log_text(run_id, "x", "model/MLmodel")
    client.log_text(run_id, "y", "model/sub/conda.yaml")
    r = requests.get(f"{medflow_server.url}/api/2.0/mlflow/artifacts/list",
                     params={"run_id": run_id, "path": "model"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["root_uri"] == client.get_run(run_id).info.artifact_uri
    assert body["files"] == [{"path": "model/MLmodel", "is_dir": False, "file_size": 1},
                             {"path": "model/sub", "is_dir": True}]
    root = requests.get(f"{medflow_server.url}/api/2.0/mlflow/artifacts/list", params={"run_id": run_id}).json()
    assert root["files"] == [{"path": "model", "is_dir": True}]
    unknown = requests.get(f"{medflow_server.url}/api/2.0/mlflow/artifacts/list",
                           params={"run_id": "0123456789abcdef0123456789abcdef"})
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    missing = requests.get(f"{medflow_server.url}/api/2.0/mlflow/artifacts/list")
    assert missing.status_code == 400 and missing.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_delete_file_and_directory(client, run_id, medflow_server):
    client.log_text(run_id, "keep", "keep.txt")
    client.log_text(run_id, "a", "tmp/a.txt")
    client.log_text(run_id, "b", "tmp/deeper/b.txt")
    base = f"{medflow_server.url}{ARTIFACTS_API}/{run_store_path(client, run_id)}"
    assert requests.delete(f"{base}/keep.txt").status_code == 200
    assert requests.delete(f"{base}/tmp").status_code == 200
    assert client.list_artifacts(run_id) == []
    assert requests.delete(f"{base}/tmp").status_code == 200  # idempotent, as MLflow
    root = requests.delete(f"{medflow_server.url}{ARTIFACTS_API}/")
    assert root.status_code == 400 and root.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_client_that_forces_multipart_falls_back_to_one_put(client, run_id, tmp_path, monkeypatch):
    # MedFlow answers mpu/* with NOT_IMPLEMENTED (501, MLflow's message): the client retries
    # nothing and uploads with a single proxied PUT instead.
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "1024")
    local = tmp_path / "weights.bin"
    local.write_bytes(os.urandom(300_000))
    started = time.monotonic()
    client.log_artifact(run_id, str(local))
    assert time.monotonic() - started < 20  # no retry back-off on the mpu answer
    out = Path(client.download_artifacts(run_id, "weights.bin", str(tmp_path / "out")))
    assert out.read_bytes() == local.read_bytes()


def test_server_info_reports_no_multipart(medflow_server):
    info = requests.get(f"{medflow_server.url}/api/3.0/mlflow/server-info").json()
    assert info["multipart_uploads_enabled"] is False


def _mlflow2_python() -> Path:
    for candidate in MLFLOW2_PYTHONS:
        if candidate.exists():
            return candidate
    pytest.skip("the mlflow 2.12.1 client venv is not installed (scripts/test creates .venv-mlflow2)")


def test_mlflow2_client_round_trip(medflow_server, tmp_path):
    script = textwrap.dedent("""
        import json, sys, pathlib, mlflow
        from mlflow import MlflowClient
        url, work = sys.argv[1], pathlib.Path(sys.argv[2])
        mlflow.set_tracking_uri(url)
        client = MlflowClient(url)
        assert mlflow.__version__ == "2.12.1", mlflow.__version__
        exp = client.create_experiment("artifacts-mlflow2")
        run = client.create_run(exp).info.run_id
        (work / "metrics.csv").write_text("auc\\n0.91\\n")
        client.log_artifact(run, str(work / "metrics.csv"), "eval")
        client.log_text(run, "two-one-two", "notes/n.txt")
        client.log_dict(run, {"k": [1, 2]}, "cfg.json")
        out = {"root": [(f.path, f.is_dir) for f in client.list_artifacts(run)],
               "eval": [(f.path, f.file_size) for f in client.list_artifacts(run, "eval")]}
        (work / "dl").mkdir()
        dst = pathlib.Path(client.download_artifacts(run, "", str(work / "dl")))
        out["csv"] = (dst / "eval" / "metrics.csv").read_text()
        out["dict"] = mlflow.artifacts.load_dict(f"runs:/{run}/cfg.json")
        out["text"] = (dst / "notes" / "n.txt").read_text()
        print(json.dumps(out))
    """)
    env = {**os.environ, "MLFLOW_TRACKING_URI": medflow_server.url}
    result = subprocess.run([str(_mlflow2_python()), "-c", script, medflow_server.url, str(tmp_path)],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out == {"root": [["cfg.json", False], ["eval", True], ["notes", True]],
                   "eval": [["eval/metrics.csv", 9]], "csv": "auc\n0.91\n", "dict": {"k": [1, 2]},
                   "text": "two-one-two"}


# --- size, speed and memory ---------------------------------------------------------------
BLOCK = 1024 * 1024


def _blocks(total: int, seed: bytes):
    """Deterministic, incompressible-enough bytes generated on the fly (never held whole)."""
    base = hashlib.sha256(seed).digest() * (BLOCK // 32)
    for i in range(total // BLOCK):
        yield i.to_bytes(8, "big") + base[8:]


def _digest_of(total: int, seed: bytes) -> str:
    h = hashlib.sha256()
    for block in _blocks(total, seed):
        h.update(block)
    return h.hexdigest()


class RssSampler:
    """Samples a process's resident memory every 20 ms while a transfer runs."""

    def __init__(self, pid: int):
        import psutil

        self.process = psutil.Process(pid)
        self.peak = self.start = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 1e6


def _transfer(url: str, total: int, seed: bytes, in_memory: bool = False) -> tuple[float, float]:
    """PUT then GET `total` bytes through the proxy; returns (MB/s up, MB/s down).

    in_memory sends one bytes body with Content-Length (what a file upload looks like);
    otherwise the body is generated while it is sent (chunked), which caps the requests
    client itself at ~250 MB/s on this box."""
    body = b"".join(_blocks(total, seed)) if in_memory else _blocks(total, seed)
    started = time.perf_counter()
    r = requests.put(url, data=body)
    up = time.perf_counter() - started
    assert r.status_code == 200, r.text
    h = hashlib.sha256()
    started = time.perf_counter()
    with requests.get(url, stream=True) as r:
        assert r.status_code == 200
        assert int(r.headers["content-length"]) == total
        for chunk in r.iter_content(BLOCK):
            h.update(chunk)
    down = time.perf_counter() - started
    assert h.hexdigest() == _digest_of(total, seed)
    return total / up / 1e6, total / down / 1e6


def test_50mb_throughput(medflow_server, client, run_id):
    url = f"{medflow_server.url}{ARTIFACTS_API}/{run_store_path(client, run_id)}/big/50mb.bin"
    _transfer(url, 50 * BLOCK, b"warm-up", in_memory=True)
    ups, downs = zip(*(_transfer(url, 50 * BLOCK, bytes([i]), in_memory=True) for i in range(3)))
    up, down = sorted(ups)[1], sorted(downs)[1]
    print(f"\n50 MB through the proxy ({medflow_server.backend}): {up:.0f} MB/s up, {down:.0f} MB/s down "
          f"(median of 3; target 300)")
    # A loose floor: the 2-core CI box is shared, so the 300 MB/s target is reported, not asserted.
    assert up > 60 and down > 60, (up, down)
    requests.delete(url)


def test_300mb_upload_and_download_keep_server_memory_flat(medflow_server, client, run_id):
    url = f"{medflow_server.url}{ARTIFACTS_API}/{run_store_path(client, run_id)}/big/300mb.bin"
    total = 300 * BLOCK
    with RssSampler(medflow_server.process.popen.pid) as rss:
        up, down = _transfer(url, total, b"flat-memory")
    print(f"\n300 MB through the proxy ({medflow_server.backend}): {up:.0f} MB/s up, {down:.0f} MB/s down, "
          f"server RSS growth {rss.growth_mb:.1f} MB")
    assert rss.growth_mb < 100, f"server memory grew by {rss.growth_mb:.0f} MB during a 300 MB transfer"
    assert requests.delete(url).status_code == 200
    assert requests.get(url).status_code == 404

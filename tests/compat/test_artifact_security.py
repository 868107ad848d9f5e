"""Attacks on the artifact proxy from MLflow's vulnerability history, against a real server.

Classes (research/mlflow-vulnerabilities.md): TRAV-ARTIFACT-READ (CVE-2023-1176, -3765 `C:/`
listing, -30172, -6753), TRAV-ARTIFACT-WRITE (CVE-2023-6976, CVE-2024-8859 `a?/a`,
CVE-2026-2033), TRAV-ARTIFACT-DELETE (CVE-2023-6831, double-encoded), symlink escape, and
SSRF-ARTIFACT-URI (CVE-2023-6974, CVE-2026-118628). Canary files sit outside the artifact
root; every attack must leave them unread, unchanged and undeleted, and create nothing
outside the root.

Requests go through http.client, not `requests`: urllib3 removes '../' from URLs before
sending, which would hide the attack from the server.
"""
from __future__ import annotations

import base64
import http.client
import os
import socket
import threading
import urllib.parse
from pathlib import Path

import pytest
import requests
from mlflow import MlflowClient

API = "/api/2.0/mlflow-artifacts/artifacts"
SECRET = "canary-secret-7f3a"


def _basic_auth() -> str:
    """The attacker is an authenticated admin: path checks must hold even for the most privileged."""
    user, password = os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def raw_request(url: str, method: str, target: str, body: bytes | None = None) -> tuple[int, str]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, target, body=body, headers={"Content-Type": "application/octet-stream",
                                                         "Authorization": _basic_auth()})
        response = conn.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        conn.close()


@pytest.fixture(scope="module")
def layout(medflow_server):
    """The artifact root and canaries: one beside the root, one in a directory outside it."""
    root = Path(medflow_server.artifacts_destination)
    root.mkdir(parents=True, exist_ok=True)
    beside = root.parent / "canary.txt"
    beside.write_text(SECRET)
    outside = root.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "canary.txt").write_text(SECRET)
    yield root
    assert beside.read_text() == SECRET
    assert (outside / "canary.txt").read_text() == SECRET


def outside_files(root: Path) -> set[str]:
    """Files an attack could create or remove outside the root: everything under the server's
    data directory except the root itself (and the database and log, which change), plus the
    files directly in the directory above."""
    data_dir = root.parent
    found = {str(p) for p in data_dir.parent.iterdir() if p.is_file()}
    for dirpath, dirnames, filenames in os.walk(data_dir):
        if Path(dirpath) == data_dir:
            dirnames[:] = [d for d in dirnames if data_dir / d != root]
        found.update(str(Path(dirpath) / f) for f in filenames
                     if not f.startswith(("medflow.db", "server.log")))
    return found


def assert_canaries_intact(root: Path) -> None:
    assert (root.parent / "canary.txt").read_text() == SECRET
    assert (root.parent / "outside" / "canary.txt").read_text() == SECRET


TRAVERSALS = [
    "../canary.txt",
    "..%2Fcanary.txt",
    "%2E%2E%2Fcanary.txt",
    "%252E%252E%252Fcanary.txt",
    "%25252E%25252E%25252Fcanary.txt",
    "1/x/artifacts/../../../../canary.txt",
    "1/x/artifacts/%2E%2E/%2E%2E/%2E%2E/%2E%2E/canary.txt",
    "..%5Ccanary.txt",
    "/" + "%2Fetc%2Fpasswd",
    "C:/Windows/win.ini",
    "C:%5CWindows%5Cwin.ini",
    "outside%00/../canary.txt",
    "a%3F/../../canary.txt",
    "a%23/../../canary.txt",
]


@pytest.mark.parametrize("attack", TRAVERSALS)
def test_traversal_download_is_refused(medflow_server, layout, attack):
    status, body = raw_request(medflow_server.url, "GET", f"{API}/{attack}")
    assert status in (400, 404), (attack, status, body)
    assert SECRET not in body and "root:" not in body


@pytest.mark.parametrize("listing", ["..", "../..", "../outside", "%2E%2E", "%252E%252E%252F", "/", "/etc",
                                     "C:/", "C:", "\\", "..\\..", "1/../..", "a?/../..", "a#/../.."])
def test_traversal_listing_is_refused(medflow_server, layout, listing):
    r = requests.get(medflow_server.url + API, params={"path": listing})
    assert r.status_code == 400, (listing, r.status_code, r.text)
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "canary" not in r.text and "outside" not in r.text.replace(listing, "")


@pytest.mark.parametrize("attack", TRAVERSALS + ["a%3F/a/../../../evil.txt", "..%2F..%2Fevil.txt"])
def test_traversal_upload_writes_nothing_outside(medflow_server, layout, attack):
    before = outside_files(layout)
    target = attack.replace("canary.txt", "evil.txt")
    status, body = raw_request(medflow_server.url, "PUT", f"{API}/{target}", b"attacker bytes")
    assert status == 400, (target, status, body)
    assert outside_files(layout) == before
    assert_canaries_intact(layout)


def test_query_string_variant_of_upload_stays_inside(medflow_server, layout):
    """CVE-2024-8859's `a?/a`: a literal '?' ends the path, so this can only write 'a' in the root."""
    before = outside_files(layout)
    status, _ = raw_request(medflow_server.url, "PUT", f"{API}/9/q/a?/../../../evil.txt", b"x")
    assert status == 200
    assert (layout / "9" / "q" / "a").read_bytes() == b"x"
    assert outside_files(layout) == before


@pytest.mark.parametrize("attack", TRAVERSALS + ["%252E%252E%252Foutside", "..%2Foutside", "../outside"])
def test_traversal_delete_removes_nothing_outside(medflow_server, layout, attack):
    before = outside_files(layout)
    status, body = raw_request(medflow_server.url, "DELETE", f"{API}/{attack}")
    assert status == 400, (attack, status, body)
    assert outside_files(layout) == before
    assert_canaries_intact(layout)


def test_deleting_the_root_is_refused(medflow_server, layout):
    (layout / "5").mkdir(exist_ok=True)
    (layout / "5" / "keep.txt").write_text("keep")
    for target in (f"{API}/", f"{API}/.", f"{API}/./", f"{API}/%2E"):
        status, _ = raw_request(medflow_server.url, "DELETE", target)
        assert status == 400, target
    assert (layout / "5" / "keep.txt").read_text() == "keep"


def test_staging_directory_is_not_addressable(medflow_server, layout):
    for method in ("GET", "PUT", "DELETE"):
        status, _ = raw_request(medflow_server.url, method, f"{API}/.medflow-staging/x", b"x")
        assert status == 400, method
    listing = requests.get(medflow_server.url + API).json()
    assert ".medflow-staging" not in str(listing)


def test_symlink_inside_root_cannot_escape(medflow_server, layout):
    """A link planted in the root (by someone with shell access) is not a way out."""
    link_dir = layout / "7" / "linked"
    link_dir.parent.mkdir(parents=True, exist_ok=True)
    if not link_dir.is_symlink():
        link_dir.symlink_to(layout.parent / "outside", target_is_directory=True)
    link_file = layout / "7" / "canary-link.txt"
    if not link_file.is_symlink():
        link_file.symlink_to(layout.parent / "canary.txt")
    before = outside_files(layout)

    for target in ("7/linked/canary.txt", "7/canary-link.txt"):
        status, body = raw_request(medflow_server.url, "GET", f"{API}/{target}")
        assert status == 400 and SECRET not in body, (target, status, body)
    r = requests.get(medflow_server.url + API, params={"path": "7/linked"})
    assert r.status_code == 400 and "canary" not in r.text
    status, _ = raw_request(medflow_server.url, "PUT", f"{API}/7/linked/evil.txt", b"attacker bytes")
    assert status == 400
    status, _ = raw_request(medflow_server.url, "PUT", f"{API}/7/linked/new/evil.txt", b"attacker bytes")
    assert status == 400
    assert outside_files(layout) == before
    # Deleting the link removes the link only, never what it points to.
    status, _ = raw_request(medflow_server.url, "DELETE", f"{API}/7/linked")
    assert status == 200 and not link_dir.exists()
    status, _ = raw_request(medflow_server.url, "DELETE", f"{API}/7/canary-link.txt")
    assert status == 200 and not link_file.is_symlink()
    assert_canaries_intact(layout)


def test_scoped_listings_refuse_traversal(medflow_server, layout):
    client = MlflowClient(medflow_server.url)
    exp = client.create_experiment(f"security-{medflow_server.backend}")
    run = client.create_run(exp).info.run_id
    model = client.create_logged_model(exp, name="sec-model")
    for attack in ("../../..", "..", "%2E%2E/%2E%2E", "/etc", "C:/"):
        r = requests.get(f"{medflow_server.url}/api/2.0/mlflow/artifacts/list",
                         params={"run_id": run, "path": attack})
        assert r.status_code == 400, (attack, r.text)
        r = requests.get(f"{medflow_server.url}/api/2.0/mlflow/logged-models/{model.model_id}/artifacts/directories",
                         params={"artifact_directory_path": attack})
        assert r.status_code == 400, (attack, r.text)
        assert "canary" not in r.text


class Listener:
    """A local TCP port that records whether anything connected (an SSRF would)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


def test_no_client_supplied_url_is_ever_fetched(medflow_server, layout):
    listener = Listener()
    url = f"http://127.0.0.1:{listener.port}"
    try:
        r = requests.post(f"{medflow_server.url}/api/2.0/mlflow/experiments/create",
                          json={"name": f"ssrf-{medflow_server.backend}", "artifact_location": f"{url}/x"})
        assert r.status_code == 400
        for location in (f"{url}/x", f"mlflow-artifacts://127.0.0.1:{listener.port}/x"):
            r = requests.post(f"{medflow_server.url}/api/2.0/mlflow/experiments/create",
                              json={"name": f"ssrf2-{medflow_server.backend}", "artifact_location": location})
            assert r.status_code == 400
        for target in (f"{API}/{url}/x", f"{API}/http:%2F%2F127.0.0.1:{listener.port}%2Fx",
                       f"{API}?path={urllib.parse.quote(url + '/x')}"):
            raw_request(medflow_server.url, "GET", target)
        raw_request(medflow_server.url, "PUT", f"{API}/{url}/x", b"x")
        r = requests.post(f"{medflow_server.url}/api/2.0/mlflow-artifacts/mpu/create/1/x",
                          json={"path": url, "num_parts": 1})
        assert r.status_code == 501
    finally:
        listener.close()
    assert listener.connections == 0

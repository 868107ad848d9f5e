"""W5 a large artifact through the mlflow-artifacts proxy: PUT then GET, SHA-256 verified, MB/s and
the server's peak RSS during the transfer."""
from __future__ import annotations

import hashlib
import os
import time

import requests

from bench.client import ARTIFACTS, NotSupported, run_clients
from bench.workloads.base import Metric, Workload

CHUNK = 1 << 20


def _client(args, phase, prepared):
    base, headers, rel_path, blob_path, size = args
    if phase == "prepare":
        s = requests.Session()
        s.headers.update(headers)
        return s
    s = prepared
    url = f"{base}{ARTIFACTS}/{rel_path}"
    out: dict = {}
    t0 = time.perf_counter()
    with open(blob_path, "rb") as f:  # streamed from the file, as the official client uploads
        r = s.put(url, data=f, headers={"Content-Type": "application/octet-stream"}, timeout=600)
    out["up_s"] = time.perf_counter() - t0
    if r.status_code != 200:
        out["error"] = f"PUT -> HTTP {r.status_code}: {r.text[:200]}"
        return out
    h = hashlib.sha256()
    got = 0
    t0 = time.perf_counter()
    with s.get(url, stream=True, timeout=600) as r:
        if r.status_code != 200:
            out["error"] = f"GET -> HTTP {r.status_code}: {r.text[:200]}"
            return out
        for chunk in r.iter_content(CHUNK):
            h.update(chunk)
            got += len(chunk)
    out["down_s"] = time.perf_counter() - t0
    out["sha256"], out["bytes"] = h.hexdigest(), got
    s.close()
    return out


class ArtifactProxy(Workload):
    name = "w5"
    sample_interval = 0.02
    metrics = [
        Metric("up_MB_s", "upload (PUT) MB/s", "MB/s", True),
        Metric("down_MB_s", "download (GET) MB/s", "MB/s", True),
        Metric("rss_growth_mb", "server RSS growth during the transfer (peak - start)", "MB", False),
    ]

    @property
    def title(self):
        return f"W5 {self.sizes.w5_mb} MB artifact through /api/2.0/mlflow-artifacts"

    def setup(self, server, api, state):
        exp = api.experiment("bench-w5")
        info = api.create_run(exp, "w5-artifacts")
        uri = info.get("artifact_uri", "")
        if not uri.startswith("mlflow-artifacts:"):
            probe = api.s.get(server.url + ARTIFACTS, params={"path": f"{exp}/{info['run_id']}/artifacts"}, timeout=30)
            raise NotSupported(f"runs get artifact_uri {uri!r} (no proxy); GET {ARTIFACTS} -> HTTP "
                               f"{probe.status_code} {probe.text[:80]}")
        rel = uri[len("mlflow-artifacts:"):].lstrip("/")
        r = api.s.put(f"{server.url}{ARTIFACTS}/{rel}/probe.txt", data=b"probe", timeout=30)
        if r.status_code != 200:
            raise NotSupported(f"PUT {ARTIFACTS}/... -> HTTP {r.status_code} {r.text[:80]}")
        blob = state["workdir"] / f"blob-{self.sizes.w5_mb}MB.bin"
        size = self.sizes.w5_mb * 1_000_000
        if not blob.exists():
            with open(blob, "wb") as f:
                for _ in range(0, size, CHUNK):
                    f.write(os.urandom(min(CHUNK, size - f.tell())))
        h = hashlib.sha256()
        with open(blob, "rb") as f:
            for chunk in iter(lambda: f.read(CHUNK), b""):
                h.update(chunk)
        state.update(rel=rel, blob=str(blob), size=size, sha=h.hexdigest())
        return {"bytes": size}

    def measure(self, server, api, state, rep):
        (res,), _, _ = run_clients(_client, [(server.url, server.headers, f"{state['rel']}/blob-r{rep}.bin",
                                              state["blob"], state["size"])], timeout=900)
        if "error" in res:
            return {"errors": res["error"]}
        mb = state["size"] / 1e6
        out = {"up_MB_s": mb / res["up_s"], "down_MB_s": mb / res["down_s"]}
        if res["sha256"] != state["sha"] or res["bytes"] != state["size"]:
            out["errors"] = f"downloaded {res['bytes']} bytes, SHA-256 mismatch"
        else:
            out["check"] = "SHA-256 ok"
        return out

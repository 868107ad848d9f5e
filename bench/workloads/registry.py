"""W6 model registry: create N versions of one model (1 client, as a CI pipeline would), then
get version, get by alias and search versions."""
from __future__ import annotations

import time

from bench.client import Api, HttpError, NotSupported, median, percentile, run_clients
from bench.workloads.base import Metric, Workload


def _client(args, phase, prepared):
    base, headers, name, source, run_id, n_versions, n_reads = args
    if phase == "prepare":
        api = Api(base, headers)
        api.post("/registered-models/create", {"name": name})
        return api
    api = prepared
    out: dict = {}
    create = []
    t_start = time.perf_counter()
    for _ in range(n_versions):
        t0 = time.perf_counter()
        api.post("/model-versions/create", {"name": name, "source": source, "run_id": run_id})
        create.append(time.perf_counter() - t0)
    out["create_total_s"] = time.perf_counter() - t_start
    out["create"] = create
    api.post("/registered-models/alias", {"name": name, "alias": "champion", "version": "1"})
    get, alias, search = [], [], []
    for i in range(n_reads):
        t0 = time.perf_counter()
        mv = api.get("/model-versions/get", {"name": name, "version": str(1 + i % n_versions)})
        get.append(time.perf_counter() - t0)
    assert mv["model_version"]["name"] == name
    for _ in range(n_reads):
        t0 = time.perf_counter()
        mv = api.get("/registered-models/alias", {"name": name, "alias": "champion"})
        alias.append(time.perf_counter() - t0)
    if str(mv["model_version"]["version"]) != "1":
        out["error"] = f"get by alias returned version {mv['model_version']['version']}, expected 1"
    count = 0
    for _ in range(max(5, n_reads // 5)):
        t0 = time.perf_counter()
        res = api.get("/model-versions/search", {"filter": f"name = '{name}'", "max_results": 10000})
        search.append(time.perf_counter() - t0)
        count = len(res.get("model_versions", []))
    if count != n_versions:
        out["error"] = f"search versions returned {count} of {n_versions}"
    out.update(get=get, alias=alias, search=search)
    api.close()
    return out


class Registry(Workload):
    name = "w6"
    metrics = [
        Metric("create_ops_s", "model-versions/create per s", "ops/s", True),
        Metric("create_p50_ms", "create version p50", "ms", False),
        Metric("create_p99_ms", "create version p99", "ms", False),
        Metric("get_p50_ms", "get version p50", "ms", False),
        Metric("alias_p50_ms", "get by alias p50", "ms", False),
        Metric("search_p50_ms", "search versions (all N) p50", "ms", False),
    ]

    @property
    def title(self):
        return f"W6 registry, {self.sizes.w6_versions} versions of one model"

    def setup(self, server, api, state):
        try:
            api.post("/registered-models/create", {"name": "bench-w6-probe"})
        except HttpError as exc:
            if exc.status in (404, 405, 501) or "ENDPOINT_NOT_FOUND" in exc.body:
                raise NotSupported(f"registered-models/create -> HTTP {exc.status} {exc.body[:80]}") from None
            raise
        exp = api.experiment("bench-w6")
        info = api.create_run(exp, "w6-source")
        state.update(run_id=info["run_id"], source=info["artifact_uri"].rstrip("/") + "/model")
        for _ in range(3):  # warm-up
            v = api.post("/model-versions/create", {"name": "bench-w6-probe", "source": state["source"],
                                                    "run_id": state["run_id"]})["model_version"]["version"]
            api.get("/model-versions/get", {"name": "bench-w6-probe", "version": v})
        api.get("/model-versions/search", {"filter": "name = 'bench-w6-probe'", "max_results": 10000})
        return {}

    def measure(self, server, api, state, rep):
        n = self.sizes.w6_versions
        (res,), _, _ = run_clients(_client, [(server.url, server.headers, f"bench-w6-r{rep}", state["source"],
                                              state["run_id"], n, self.sizes.w6_reads)], timeout=900)
        out = {
            "create_ops_s": n / res["create_total_s"],
            "create_p50_ms": median(res["create"]) * 1000,
            "create_p99_ms": percentile(res["create"], 99) * 1000,
            "get_p50_ms": median(res["get"]) * 1000,
            "alias_p50_ms": median(res["alias"]) * 1000,
            "search_p50_ms": median(res["search"]) * 1000,
        }
        if "error" in res:
            out["errors"] = res["error"]
        return out

"""W1 log-batch ingest (1,000 points per request, 1 and 16 client processes) and W2 training loop
(one log-metric per request)."""
from __future__ import annotations

import json
import math
import time

from bench import fill
from bench.client import Api, median, percentile, run_clients
from bench.workloads.base import Metric, Workload

KEYS = [f"m{i:02d}" for i in range(50)]   # 50 keys x 20 steps = 1,000 points per request
STEPS_PER_BATCH = 20
PREFILL_RUNS = 10


def _ingest_client(args, phase, prepared):
    base, headers, exp_id, name, n_batches = args
    if phase == "prepare":
        api = Api(base, headers)
        run_id = api.create_run(exp_id, name)["run_id"]
        bodies = [fill.batch_body(run_id, KEYS, b * STEPS_PER_BATCH, STEPS_PER_BATCH) for b in range(n_batches)]
        return api, bodies
    api, bodies = prepared
    lat, errors, ok_points = [], [], 0
    for body in bodies:
        t0 = time.perf_counter()
        try:
            r = api.s.post(api.base + "/api/2.0/mlflow/runs/log-batch", data=body,
                           headers={"Content-Type": "application/json"}, timeout=300)
            status, text = r.status_code, (r.text if r.status_code != 200 else "")
        except Exception as exc:  # noqa: BLE001 - counted as an error
            status, text = -1, f"{type(exc).__name__}: {exc}"
        lat.append(time.perf_counter() - t0)
        if status == 200:
            ok_points += len(KEYS) * STEPS_PER_BATCH
        else:
            errors.append(f"HTTP {status}: {text[:200]}")
    t_end = time.monotonic()
    api.close()
    return ok_points, lat, errors, t_end


class Ingest(Workload):
    name = "w1"
    heavy = True
    title = "W1 log-batch ingest, 1,000 metric points per request"

    @property
    def metrics(self):
        out = []
        for c in self.sizes.w1_clients:
            out += [Metric(f"c{c}_points_s", f"{c} client{'s' if c > 1 else ''}: points/s", "pts/s", True),
                    Metric(f"c{c}_p50_ms", f"{c} client{'s' if c > 1 else ''}: request p50", "ms", False),
                    Metric(f"c{c}_p99_ms", f"{c} client{'s' if c > 1 else ''}: request p99", "ms", False)]
        return out

    def setup(self, server, api, state):
        state["exp"] = api.experiment("bench-w1")
        notes = {}
        n = self.sizes.w1_prefill_points
        if server.backend == "sqlite" and n > 0:
            exp = api.experiment("bench-w1-prefill")
            runs = [api.create_run(exp, f"prefill-{i}")["run_id"] for i in range(PREFILL_RUNS)]
            steps = max(1, n // (PREFILL_RUNS * len(KEYS)))
            how, secs = fill.fill_points(server, api, runs, KEYS, steps, self.sizes.fill)
            total = steps * PREFILL_RUNS * len(KEYS)
            notes = {"prefill_points": total, "prefill_via": how, "prefill_s": round(secs, 1)}
            if how.startswith("api"):
                notes["prefill_points_s"] = round(total / secs)
        warm = api.create_run(state["exp"], "w1-warmup")["run_id"]  # first-call imports, caches
        for b in range(3):
            api.post("/runs/log-batch", fill.batch_body(warm, KEYS, b * STEPS_PER_BATCH, STEPS_PER_BATCH))
        return notes

    def measure(self, server, api, state, rep):
        out: dict = {}
        errors: list[str] = []
        n_batches = math.ceil(self.sizes.w1_points / 1000)
        for c in self.sizes.w1_clients:
            per_client = math.ceil(n_batches / c)
            args = [(server.url, server.headers, state["exp"], f"w1-r{rep}-c{c}-{i}", per_client)
                    for i in range(c)]
            results, t_go, _ = run_clients(_ingest_client, args, timeout=900)
            points = sum(r[0] for r in results)
            lat = [x for r in results for x in r[1]]
            errors += [e for r in results for e in r[2]]
            elapsed = max(r[3] for r in results) - t_go
            out[f"c{c}_points_s"] = points / elapsed
            out[f"c{c}_p50_ms"] = median(lat) * 1000
            out[f"c{c}_p99_ms"] = percentile(lat, 99) * 1000
        if errors:
            out["errors"] = f"{len(errors)} failed log-batch requests; first: {errors[0]}"
        return out


def _loop_client(args, phase, prepared):
    base, headers, exp_id, name, n = args
    if phase == "prepare":
        api = Api(base, headers)
        run_id = api.create_run(exp_id, name)["run_id"]
        bodies = [json.dumps({"run_id": run_id, "run_uuid": run_id, "key": "loss", "value": 1.0 / (s + 1),
                              "timestamp": fill.TS0 + s, "step": s}).encode() for s in range(n)]
        return api, bodies
    api, bodies = prepared
    lat, errors = [], []
    url = api.base + "/api/2.0/mlflow/runs/log-metric"
    t_start = time.perf_counter()
    for body in bodies:
        t0 = time.perf_counter()
        r = api.s.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=60)
        lat.append(time.perf_counter() - t0)
        if r.status_code != 200:
            errors.append(f"HTTP {r.status_code}: {r.text[:200]}")
    total = time.perf_counter() - t_start
    api.close()
    return lat, errors, total


class TrainingLoop(Workload):
    name = "w2"
    title = "W2 training loop, one log-metric per request (1 client)"
    metrics = [
        Metric("p50_ms", "log-metric p50", "ms", False),
        Metric("p99_ms", "log-metric p99", "ms", False),
        Metric("ops_s", "log-metric calls/s", "ops/s", True),
    ]

    def setup(self, server, api, state):
        state["exp"] = api.experiment("bench-w2")
        warm = api.create_run(state["exp"], "w2-warmup")["run_id"]
        for s in range(20):
            api.post("/runs/log-metric", {"run_id": warm, "run_uuid": warm, "key": "loss", "value": 1.0,
                                          "timestamp": fill.TS0 + s, "step": s})
        return {}

    def measure(self, server, api, state, rep):
        n = self.sizes.w2_requests
        (res,), _, _ = run_clients(_loop_client, [(server.url, server.headers, state["exp"],
                                                   f"w2-r{rep}", n)], timeout=900)
        lat, errors, total = res
        out = {"p50_ms": median(lat) * 1000, "p99_ms": percentile(lat, 99) * 1000, "ops_s": n / total}
        if errors:
            out["errors"] = f"{len(errors)} failed log-metric requests; first: {errors[0]}"
        return out

"""W4 one metric with 200,000 points: full get-history, paged get-history (25,000 per page with
page tokens), and the sampled get-history-bulk-interval."""
from __future__ import annotations

import time

from bench import fill
from bench.client import API, Api, median, run_clients
from bench.workloads.base import Metric, Workload

KEY = "hist"


def _client(args, phase, prepared):
    base, headers, run_id, total, page_size, k_interval, interval_ok = args
    if phase == "prepare":
        return Api(base, headers)
    api = prepared
    out: dict = {}
    url = base + API + "/metrics/get-history"
    # 1. everything in one request, as a client that does not page
    t0 = time.perf_counter()
    r = api.s.get(url, params={"run_id": run_id, "run_uuid": run_id, "metric_key": KEY}, timeout=600)
    body = r.json() if r.status_code == 200 else {}
    out["full_s"] = time.perf_counter() - t0
    out["full_status"] = r.status_code
    out["full_count"] = len(body.get("metrics", []))
    out["full_bytes"] = len(r.content)
    out["full_token"] = bool(body.get("next_page_token"))
    out["full_transfer"] = ("chunked" if r.headers.get("transfer-encoding", "").lower() == "chunked"
                            else "content-length")
    if r.status_code != 200:
        out["full_error"] = f"HTTP {r.status_code}: {r.text[:200]}"
    # 2. paged, as the official client does (max_results=25000 + page_token)
    t0 = time.perf_counter()
    token, count, pages, ordered = None, 0, 0, True
    last_step, steps = -1, set()
    while True:
        params = {"run_id": run_id, "run_uuid": run_id, "metric_key": KEY, "max_results": page_size}
        if token:
            params["page_token"] = token
        r = api.s.get(url, params=params, timeout=600)
        if r.status_code != 200:
            out["paged_error"] = f"HTTP {r.status_code} on page {pages + 1}: {r.text[:200]}"
            break
        body = r.json()
        pages += 1
        metrics = body.get("metrics", [])
        count += len(metrics)
        for m in metrics:
            step = int(m.get("step", 0))
            ordered = ordered and step > last_step
            last_step = step
            steps.add(step)
        token = body.get("next_page_token")
        if not token or pages > total // page_size + 5:
            break
    out["paged_s"] = time.perf_counter() - t0
    out["paged_count"], out["pages"], out["paged_ordered"] = count, pages, ordered
    out["paged_distinct_steps"] = len(steps)
    # 3. sampled view for charts
    if interval_ok:
        lat, counts = [], []
        iurl = base + API + "/metrics/get-history-bulk-interval"
        for _ in range(k_interval):
            t0 = time.perf_counter()
            r = api.s.get(iurl, params={"run_ids": run_id, "metric_key": KEY, "max_results": 320}, timeout=120)
            body = r.json() if r.status_code == 200 else {}
            lat.append(time.perf_counter() - t0)
            counts.append(len(body.get("metrics", [])))
        out["interval_lat"], out["interval_count"] = lat, counts[-1]
    api.close()
    return out


class MetricHistory(Workload):
    name = "w4"
    heavy = True
    metrics = [
        Metric("full_s", "get-history, all points in one request", "s", False),
        Metric("paged_s", "get-history paged (max_results + page_token)", "s", False),
        Metric("interval_p50_ms", "get-history-bulk-interval (320 points) p50", "ms", False),
    ]

    @property
    def title(self):
        return f"W4 one metric with {self.sizes.w4_points:,} points"

    def setup(self, server, api, state):
        exp = api.experiment("bench-w4")
        run_id = api.create_run(exp, "w4-history")["run_id"]
        how, secs = fill.fill_points(server, api, [run_id], [KEY], self.sizes.w4_points, self.sizes.fill)
        r = api.s.get(server.url + API + "/metrics/get-history-bulk-interval",
                      params={"run_ids": run_id, "metric_key": KEY, "max_results": 320}, timeout=120)
        api.get("/metrics/get-history", {"run_id": run_id, "run_uuid": run_id, "metric_key": KEY,
                                         "max_results": 100})  # warm-up
        state.update(run_id=run_id, interval_ok=r.status_code == 200,
                     interval_status=f"HTTP {r.status_code}: {r.text[:120]}")
        notes = {"points": self.sizes.w4_points, "fill_via": how, "fill_s": round(secs, 1)}
        if how.startswith("api"):
            notes["fill_points_s"] = round(self.sizes.w4_points / secs)
        return notes

    def measure(self, server, api, state, rep):
        s = self.sizes
        (res,), _, _ = run_clients(_client, [(server.url, server.headers, state["run_id"], s.w4_points,
                                              s.w4_page_size, s.w4_interval_requests, state["interval_ok"])],
                                   timeout=1200)
        out: dict = {"unsupported": {}}
        problems = []
        total = s.w4_points
        if "full_error" in res:
            problems.append("full get-history " + res["full_error"])
        else:
            out["full_s"] = res["full_s"]
            out["full_MB"] = res["full_bytes"] / 1e6
            if res["full_count"] < total:
                out["full_note"] = (f"returned {res['full_count']:,} of {total:,}"
                                    + (" with next_page_token (capped)" if res["full_token"] else " (NO page token)"))
            else:
                out["full_note"] = f"all {total:,} points, {res['full_transfer']}"
        if "paged_error" in res:
            problems.append("paged get-history " + res["paged_error"])
        else:
            out["paged_s"] = res["paged_s"]
            out["paged_note"] = (f"{res['paged_count']:,} points in {res['pages']} page(s)"
                                 + ("" if res["paged_ordered"] else ", not in step order"))
            if res["paged_count"] != total or res["paged_distinct_steps"] != total:
                problems.append(f"paged get-history returned {res['paged_count']:,} points with "
                                f"{res['paged_distinct_steps']:,} distinct steps, expected {total:,}")
        if state["interval_ok"]:
            out["interval_p50_ms"] = median(res["interval_lat"]) * 1000
            out["interval_note"] = f"{res['interval_count']} points returned"
        else:
            out["unsupported"]["interval_p50_ms"] = state["interval_status"]
        if problems:
            out["errors"] = "; ".join(problems)
        return out

"""W3 search-runs over N runs: a 100-run page with a filter + order_by, and paging through all runs
1,000 at a time (checking that every run id is seen exactly once, past offset 10,000)."""
from __future__ import annotations

import time

from bench import fill
from bench.client import Api, HttpError, median, run_clients
from bench.workloads.base import Metric, Workload

QUERIES = {
    "metric": ("metrics.loss < 0.5", ["metrics.loss ASC"]),
    "param": ("params.lr = '0.01'", ["attributes.start_time DESC"]),
    "none": ("", []),
}


def _values(run: dict, section: str) -> dict:
    return {m["key"]: m["value"] for m in run.get("data", {}).get(section, [])}


def _check_page(kind: str, runs: list[dict], expected: int | None) -> str | None:
    if expected is not None and len(runs) != expected:
        return f"{kind}: {len(runs)} runs returned, expected {expected}"
    if kind == "metric":
        losses = [_values(r, "metrics").get("loss") for r in runs]
        if any(v is None or v >= 0.5 for v in losses):
            return "metric: a returned run has no loss or loss >= 0.5"
        if losses != sorted(losses):
            return "metric: runs not ordered by metrics.loss ASC"
    if kind == "param":
        if any(_values(r, "params").get("lr") != "0.01" for r in runs):
            return "param: a returned run does not have lr = 0.01"
        starts = [int(r["info"]["start_time"]) for r in runs]
        if starts != sorted(starts, reverse=True):
            return "param: runs not ordered by start_time DESC"
    return None


def _client(args, phase, prepared):
    base, headers, exp_id, n_runs, k, page_size = args
    if phase == "prepare":
        return Api(base, headers)
    api = prepared
    out: dict = {"lat": {}, "checks": []}
    for kind, (flt, order) in QUERIES.items():
        lat = []
        expected = 100 if n_runs >= 1000 else None  # every query matches >= 1/3 of the runs
        for i in range(k):
            body = {"experiment_ids": [exp_id], "filter": flt, "run_view_type": "ACTIVE_ONLY",
                    "max_results": 100, "order_by": order}
            t0 = time.perf_counter()
            resp = api.post("/runs/search", body)
            lat.append(time.perf_counter() - t0)
            if i == 0:
                problem = _check_page(kind, resp.get("runs", []), expected)
                if problem:
                    out["checks"].append(problem)
        out["lat"][kind] = lat
    # page through everything
    seen: list[str] = []
    token, pages = None, 0
    t0 = time.perf_counter()
    try:
        while True:
            body = {"experiment_ids": [exp_id], "filter": "", "run_view_type": "ACTIVE_ONLY",
                    "max_results": page_size, "order_by": []}
            if token:
                body["page_token"] = token
            resp = api.post("/runs/search", body)
            pages += 1
            seen += [r["info"]["run_id"] for r in resp.get("runs", [])]
            token = resp.get("next_page_token")
            if not token or pages > n_runs // page_size + 5:
                break
        out["page_s"] = time.perf_counter() - t0
    except HttpError as exc:
        out["page_error"] = f"paging failed at offset {len(seen)} (page {pages + 1}): {exc}"
    out["seen"] = seen
    out["pages"] = pages
    api.close()
    return out


class SearchRuns(Workload):
    name = "w3"
    heavy = True
    metrics = [
        Metric("metric_p50_ms", "100 runs, metric filter + order by metric, p50", "ms", False),
        Metric("param_p50_ms", "100 runs, param filter + order by start_time, p50", "ms", False),
        Metric("nofilter_p50_ms", "100 runs, no filter, p50", "ms", False),
        Metric("page_all_s", "page through all runs, 1,000/page", "s", False),
    ]

    @property
    def title(self):  # noqa: D401 - property used by the report
        return f"W3 search-runs over {self.sizes.w3_runs:,} runs"

    def setup(self, server, api, state):
        exp = api.experiment("bench-w3")
        ids, how, secs = fill.fill_runs(server, api, exp, self.sizes.w3_runs, "w3", self.sizes.fill)
        state.update(exp=exp, ids=set(ids))
        for flt, order in QUERIES.values():  # warm-up
            api.post("/runs/search", {"experiment_ids": [exp], "filter": flt, "run_view_type": "ACTIVE_ONLY",
                                      "max_results": 100, "order_by": order})
        notes = {"runs": len(ids), "fill_via": how, "fill_s": round(secs, 1)}
        if how.startswith("api"):
            notes["fill_runs_s"] = round(len(ids) / secs, 1)
        return notes

    def measure(self, server, api, state, rep):
        s = self.sizes
        (res,), _, _ = run_clients(_client, [(server.url, server.headers, state["exp"], s.w3_runs,
                                              s.w3_search_requests, s.w3_page_size)], timeout=1200)
        out = {"metric_p50_ms": median(res["lat"]["metric"]) * 1000,
               "param_p50_ms": median(res["lat"]["param"]) * 1000,
               "nofilter_p50_ms": median(res["lat"]["none"]) * 1000}
        problems = list(res["checks"])
        if "page_s" in res:
            out["page_all_s"] = res["page_s"]
        else:
            problems.append(res["page_error"])
        seen = res["seen"]
        dupes = len(seen) - len(set(seen))
        missing = len(state["ids"] - set(seen))
        if "page_s" in res and (dupes or missing or len(seen) != len(state["ids"])):
            problems.append(f"paging: {len(seen)} ids over {res['pages']} pages, {dupes} duplicates, "
                            f"{missing} of {len(state['ids'])} runs never seen")
        out["paging_check"] = ("ok: all %d run ids exactly once over %d pages" % (len(seen), res["pages"])
                               if "page_s" in res and not dupes and not missing else "FAILED")
        if problems:
            out["errors"] = "; ".join(problems)
        return out

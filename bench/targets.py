"""The MedFlow targets of research/performance-baselines.md section 3, checked against one run.

Each target is judged on the MedFlow medians of this run and shown next to the peers' numbers
from the same run. A target measured at a smaller size than the one it is stated for (--quick)
is marked "(size)".
"""
from __future__ import annotations

from bench.report import BASELINE, FTML, Summary, fmt


def _verdict(ok: bool | None, size_ok: bool = True) -> str:
    if ok is None:
        return "n/a"
    v = "PASS" if ok else "**FAIL**"
    return v if size_ok else v + " (size)"


def _peers(s: Summary, backend, wl, key) -> str:
    parts = []
    for srv in (BASELINE, "mlflow-w1", "mlflow-asyncio", FTML):
        v = s.median(backend, wl, srv, key)
        if v is not None:
            parts.append(f"{srv} {fmt(v)}")
    return ", ".join(parts) or "–"


def evaluate(data: dict) -> list[str]:
    s = Summary(data)
    meta = data["meta"]
    sizes = meta["sizes"]
    medflows = [x["name"] for x in meta["servers"] if x["kind"] == "medflow"]
    if not medflows:
        return []
    rows = []

    def add(num, text, backend, srv, value, unit, threshold, ok, peers, size_ok=True):
        shown = value if isinstance(value, str) else f"{fmt(value)} {unit}"
        rows.append(f"| {num} | {text} | {backend} | {srv} | {shown} | {threshold} | "
                    f"{_verdict(ok, size_ok)} | {peers} |")

    for backend in meta["backends"]:
        for srv in medflows:
            m = lambda wl, key: s.median(backend, wl, srv, key)  # noqa: E731
            v = m("ka", "keepalive_p50_ms")
            add(1, "keep-alive p50, trivial endpoint", backend, srv, v, "ms", "≤ 5 ms (aim < 1 ms)",
                None if v is None else v <= 5, _peers(s, backend, "ka", "keepalive_p50_ms"))
            nd = [r["metrics"].get("tcp_nodelay") for r in s._rows(backend, "ka", srv) if r.get("metrics")]
            if nd:
                add(1, "TCP_NODELAY on accepted keep-alive sockets (read from the server's socket)", backend, srv,
                    "/".join(sorted(set(nd))), "", "on", all(x == "on" for x in nd),
                    ", ".join(f"{p} {x}" for p in (BASELINE, "mlflow-asyncio", FTML)
                              for x in sorted({r["metrics"].get("tcp_nodelay") for r in s._rows(backend, "ka", p)
                                               if r.get("metrics")}) if x))
            lim = 2.0 if backend == "sqlite" else 3.0
            v = m("w2", "p50_ms")
            add(2, "log-metric p50", backend, srv, v, "ms", f"≤ {lim:g} ms", None if v is None else v <= lim,
                _peers(s, backend, "w2", "p50_ms"))
            v = m("w2", "p99_ms")
            add(2, "log-metric p99", backend, srv, v, "ms", "≤ 10 ms", None if v is None else v <= 10,
                _peers(s, backend, "w2", "p99_ms"))
            v = m("w6", "create_p50_ms")
            add(2, "registry create-version p50", backend, srv, v, "ms", f"≤ {lim:g} ms",
                None if v is None else v <= lim, _peers(s, backend, "w6", "create_p50_ms"))
            v = m("w6", "create_p99_ms")
            add(2, "registry create-version p99", backend, srv, v, "ms", "≤ 10 ms",
                None if v is None else v <= 10, _peers(s, backend, "w6", "create_p99_ms"))
            v, base = m("w6", "create_ops_s"), s.median(backend, "w6", BASELINE, "create_ops_s")
            if v is not None and base:
                add(2, "registry create-version ≥ 5× MLflow (ops/s)", backend, srv, v / base, "×", "≥ 5×",
                    v / base >= 5, f"mlflow {fmt(base)}")
            c = max(sizes["w1_clients"])
            key = f"c{c}_points_s"
            v = m("w1", key)
            floor = 50_000 if backend == "postgresql" else 25_000
            prefilled = backend != "sqlite" or sizes["w1_prefill_points"] >= 1_000_000
            add(3, f"ingest, {c} clients" + (" (pre-filled DB)" if backend == "sqlite" else ""), backend, srv, v,
                "pts/s", f"≥ {floor:,}", None if v is None else v >= floor, _peers(s, backend, "w1", key), prefilled)
            base, ft = s.median(backend, "w1", BASELINE, key), s.median(backend, "w1", FTML, key)
            if v is not None and base:
                add(3, f"ingest ≥ 4× MLflow, {c} clients", backend, srv, v / base, "×", "≥ 4×", v / base >= 4,
                    f"mlflow {fmt(base)}")
            if v is not None and ft:
                add(3, f"ingest ≥ FastTrackML, {c} clients", backend, srv, v / ft, "×", "≥ 1×", v / ft >= 1,
                    f"fasttrackml {fmt(ft)}")
            full_size = sizes["w3_runs"] >= 20_000
            v = m("w3", "metric_p50_ms")
            add(4, f"search 100 runs, metric filter+order, {sizes['w3_runs']:,} runs", backend, srv, v, "ms",
                "≤ 30 ms", None if v is None else v <= 30, _peers(s, backend, "w3", "metric_p50_ms"), full_size)
            v = m("w3", "page_all_s")
            add(4, f"page through {sizes['w3_runs']:,} runs", backend, srv, v, "s", "≤ 2 s",
                None if v is None else v <= 2, _peers(s, backend, "w3", "page_all_s"), full_size)
            checks = [r["metrics"].get("paging_check", "") for r in s._rows(backend, "w3", srv)]
            ok = bool(checks) and all(c.startswith("ok") for c in checks)
            add(4, "paging correct (every id once)" + (" past offset 10,000" if sizes["w3_runs"] > 10_000 else ""),
                backend, srv, checks[0] if checks else None, "", "all ids exactly once",
                ok if checks else None, "", sizes["w3_runs"] > 10_000)
            full_size = sizes["w4_points"] >= 200_000
            notes = "; ".join(sorted({r["metrics"].get("full_note", "") for r in s._rows(backend, "w4", srv)} - {""}))
            complete = "all " in notes
            v = m("w4", "full_s") if complete else m("w4", "paged_s")
            add(5, f"history of {sizes['w4_points']:,} points" + ("" if complete else " (paged: full request is capped)"),
                backend, srv, v, "s", "≤ 1.5 s", None if v is None else v <= 1.5,
                _peers(s, backend, "w4", "full_s"), full_size)
            v = m("w4", "interval_p50_ms")
            add(5, "get-history-bulk-interval p50", backend, srv, v, "ms", "≤ 100 ms",
                None if v is None else v <= 100, _peers(s, backend, "w4", "interval_p50_ms"), full_size)
            if notes:
                bounded = "capped" in notes or "chunked" in notes
                add(5, "unbounded get-history capped or streamed", backend, srv, notes.split(";")[0][:60], "", "cap or stream",
                    bounded, "")
            v = s.usage_max(backend, srv, "rss_mb_peak_process")
            add(6, "largest server process RSS (peak, whole run)", backend, srv, v, "MB", "≤ 300 MB",
                None if v is None else v <= 300,
                ", ".join(f"{p} {fmt(s.usage_max(backend, p, 'rss_mb_peak'))} (tree)" for p in (BASELINE, FTML)
                          if s.usage_max(backend, p, "rss_mb_peak") is not None))
            for key, label in (("up_MB_s", "artifact upload"), ("down_MB_s", "artifact download")):
                v = m("w5", key)
                add(7, f"{label} through the proxy", backend, srv, v, "MB/s", "≥ 300 MB/s",
                    None if v is None else v >= 300, _peers(s, backend, "w5", key), sizes["w5_mb"] >= 50)
    head = ["## MedFlow targets (performance-baselines.md §3)", "",
            "PASS/FAIL on this run's medians; \"(size)\" = measured below the size the target is stated for "
            "(e.g. --quick), indicative only.", "",
            "| § | target | backend | server | MedFlow | threshold | verdict | peers, same run |",
            "|---|---|---|---|---|---|---|---|"]
    return head + rows + [""]

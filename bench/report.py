"""Turn the raw result rows into tables: medians per server, speed-ups against MLflow (default
workers, same backend) and, for MedFlow, against FastTrackML; machine load and RSS beside them."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

BASELINE = "mlflow"
FTML = "fasttrackml"


def fmt(v: float | None) -> str:
    if v is None:
        return "–"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def speedup(v: float | None, base: float | None, higher_is_better: bool) -> float | None:
    if v is None or base is None or v <= 0 or base <= 0:
        return None
    return v / base if higher_is_better else base / v


class Summary:
    """Medians per (backend, workload, server, metric) over the measured repetitions."""

    def __init__(self, data: dict):
        self.data = data
        self.rows = [r for r in data["rows"] if r.get("phase") == "measure"]
        self.setup = [r for r in data["rows"] if r.get("phase") == "setup"]
        self.idle = [r for r in data["rows"] if r.get("phase") == "idle"]

    def _rows(self, backend, workload, server):
        return [r for r in self.rows if r["backend"] == backend and r["workload"] == workload
                and r["server"] == server]

    def median(self, backend, workload, server, key) -> float | None:
        vals = [r["metrics"][key] for r in self._rows(backend, workload, server)
                if isinstance(r.get("metrics", {}).get(key), (int, float))]
        return statistics.median(vals) if vals else None

    def usage_median(self, backend, workload, server, key) -> float | None:
        vals = [r["usage"][key] for r in self._rows(backend, workload, server) if r.get("usage")]
        return statistics.median(vals) if vals else None

    def usage_max(self, backend, server, key, workload=None) -> float | None:
        vals = [r["usage"][key] for r in self.rows if r["backend"] == backend and r["server"] == server
                and r.get("usage") and (workload is None or r["workload"] == workload)]
        return max(vals) if vals else None

    def setup_row(self, backend, workload, server) -> dict | None:
        for r in self.setup:
            if r["backend"] == backend and r["workload"] == workload and r["server"] == server:
                return r
        return None

    def notes(self, backend, workload, server) -> list[str]:
        out = []
        seen = set()
        for r in self._rows(backend, workload, server):
            for k, v in r.get("metrics", {}).items():
                if isinstance(v, str) and k != "errors":
                    text = f"{k}: {v}"
                    if text not in seen:
                        seen.add(text)
                        out.append(text)
        return out

    def errors(self, backend, workload, server) -> list[str]:
        out = []
        for r in self._rows(backend, workload, server):
            e = r.get("error") or r.get("metrics", {}).get("errors")
            if e:
                out.append(f"rep {r['rep']}: {e}")
        return out


def workload_table(s: Summary, backend: str, wl: dict, servers: list[str]) -> list[str]:
    """Markdown table for one workload on one backend."""
    metrics = wl["metrics"]
    head = ["server"] + [f"{m['label']} ({m['unit']})" for m in metrics] + ["load1", "RSS peak MB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for srv in servers:
        setup = s.setup_row(backend, wl["name"], srv)
        if setup and setup.get("unsupported"):
            lines.append(f"| {srv} | " + " | ".join(["not supported"] * len(metrics)) + " | – | – |")
            notes.append(f"- {srv}: not supported — {setup['unsupported']}")
            continue
        if setup and setup.get("error"):
            lines.append(f"| {srv} | " + " | ".join(["set-up failed"] * len(metrics)) + " | – | – |")
            notes.append(f"- {srv}: set-up FAILED — {setup['error']}")
            continue
        cells = [srv]
        unsupported = {}
        for r in s._rows(backend, wl["name"], srv):
            unsupported.update(r.get("metrics", {}).get("unsupported") or {})
        for m in metrics:
            if m["key"] in unsupported:
                cells.append("not supported")
                continue
            v = s.median(backend, wl["name"], srv, m["key"])
            cell = fmt(v)
            base = s.median(backend, wl["name"], BASELINE, m["key"])
            if srv != BASELINE and v is not None:
                r = speedup(v, base, m["higher_is_better"])
                if r is not None:
                    cell += f" ({fmt(r)}× ML)"
            if srv.startswith("medflow") and v is not None:
                r = speedup(v, s.median(backend, wl["name"], FTML, m["key"]), m["higher_is_better"])
                if r is not None:
                    cell += f" ({fmt(r)}× FT)"
            cells.append(cell)
        cells.append(fmt(s.usage_median(backend, wl["name"], srv, "load1_start")))
        cells.append(fmt(s.usage_max(backend, srv, "rss_mb_peak", wl["name"])))
        lines.append("| " + " | ".join(cells) + " |")
        for key, why in unsupported.items():
            notes.append(f"- {srv}: {key} not supported — {why}")
        if setup and setup.get("notes"):
            notes.append(f"- {srv} set-up: " + ", ".join(f"{k}={v}" for k, v in setup["notes"].items()))
        for n in s.notes(backend, wl["name"], srv):
            notes.append(f"- {srv}: {n}")
        for e in s.errors(backend, wl["name"], srv):
            notes.append(f"- {srv}: **ERROR** {e}")
    return lines + ([""] + notes if notes else [])


def pg_table(s: Summary, backend: str, meta: dict, servers: list[str]) -> list[str]:
    """Median pg_stat_database deltas per measurement (--pg-stats)."""
    lines = []
    for wl in meta["workloads"]:
        for srv in servers:
            rows = [r["usage"]["pg"] for r in s._rows(backend, wl["name"], srv) if r.get("usage", {}).get("pg")]
            if rows:
                med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
                lines.append(f"| {wl['name']} | {srv} | {fmt(med['xact_commit'])} | {fmt(med['xact_rollback'])} | "
                             f"{fmt(med['tup_inserted'])} | {fmt(med['tup_updated'])} | {fmt(med['tup_fetched'])} |")
    if not lines:
        return []
    return [f"### PostgreSQL work per measurement ({backend}, pg_stat_database deltas, median)", "",
            "| workload | server | commits | rollbacks | rows inserted | rows updated | rows fetched |",
            "|---|---|---|---|---|---|---|"] + lines + [""]


def render(data: dict, target_lines: list[str] | None = None) -> str:
    s = Summary(data)
    meta = data["meta"]
    out = [f"# MedFlow bench — {meta['started_utc']}", "",
           f"Command: `{meta['command']}`  ", f"Sizes: {meta['sizes_label']} (`{json.dumps(meta['sizes'])}`)  ",
           f"Machine: {meta['machine']}  ", f"Duration: {meta.get('duration_s', 0) / 60:.1f} min", "",
           "Cells: median over repetitions; `(N× ML)` = speed-up against MLflow with default workers on the "
           "same backend in the same run (>1 = faster), `(N× FT)` = MedFlow against FastTrackML. "
           "load1 = 1-minute load average at the start of each measurement (median); "
           "RSS = peak over the server's whole process tree during the workload.", ""]
    for backend in meta["backends"]:
        servers = [x["name"] for x in meta["servers"]]
        out += [f"## {backend}", ""]
        idle = [r for r in s.idle if r["backend"] == backend]
        if idle:
            out += ["| server | version | start-up s | idle RSS MB (tree) | processes | largest process MB |",
                    "|---|---|---|---|---|---|"]
            for r in idle:
                if r.get("error"):
                    out.append(f"| {r['server']} | {r.get('version', '')} | FAILED: {r['error'][:200]} | | | |")
                else:
                    out.append(f"| {r['server']} | {r.get('version', '')} | {fmt(r['start_s'])} | {fmt(r['rss_mb'])} | "
                               f"{r['processes']} | {fmt(r['largest_mb'])} |")
            out.append("")
        for wl in meta["workloads"]:
            out += [f"### {wl['title']} ({backend})", ""]
            out += workload_table(s, backend, wl, servers)
            out.append("")
        pg_lines = pg_table(s, backend, meta, servers)
        if pg_lines:
            out += pg_lines
    if target_lines:
        out += target_lines
    logs = data.get("server_logs") or {}
    if logs:
        out += ["## Server logs (lines with Traceback / ERROR / HTTP 5xx)", ""]
        for label, info in logs.items():
            out.append(f"- {label}: {info['count']} line(s)" + (": " + " ‖ ".join(info["first"]) if info["first"] else ""))
        out.append("")
    return "\n".join(out)


def load(path: Path) -> dict:
    return json.loads(Path(path).read_text())

"""python -m bench.run — MedFlow vs the MLflow server vs FastTrackML, same run, same workload.

For each backend: start every chosen server (own port, data directory, database), then for each
workload set up every server (untimed) and measure all of them back to back, rotating the order on
every repetition. Prints and writes medians, speed-ups, load average and RSS.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench import report, targets
from bench.client import Api, NotSupported
from bench.sampling import UsageSampler, load1, tree_usage
from bench.servers import PG_ADMIN_URI_DEFAULT, PostgresAdmin, Server, parse_server_list, stop_all, wait_all_ready
from bench.workloads import ALL, FULL, QUICK

RESULTS_DIR = Path(__file__).resolve().parent / "results"
# ERROR as a log level, not the "uvicorn.error" logger name every uvicorn start-up line carries
LOG_PATTERN = re.compile(r"Traceback|\bERROR\b|(?i:level=error)|\" 5\d\d |\b5\d\d -")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--servers", default="medflow,mlflow,mlflow-w1,fasttrackml",
                   help="comma list of medflow, mlflow (default 4 workers), mlflow-wN (--workers N), fasttrackml")
    p.add_argument("--backends", default="sqlite,postgresql", help="comma list of sqlite, postgresql")
    p.add_argument("--workloads", default=",".join(ALL), help=f"comma list of {', '.join(ALL)}")
    p.add_argument("--quick", action="store_true", help="small sizes, 1 repetition: a few minutes")
    p.add_argument("--reps", type=int, help="repetitions of every workload (default: 3, and 2 for W1/W3/W4; --quick 1)")
    p.add_argument("--size", action="append", default=[], metavar="NAME=VALUE",
                   help="override one size, e.g. --size w3_runs=5000 (see bench/workloads/base.py)")
    p.add_argument("--fill", choices=["sql", "api"], help="how MLflow's data is set up (default sql)")
    p.add_argument("--no-analyze", action="store_true",
                   help="PostgreSQL: do not ANALYZE after the untimed fills (measure plans on cold statistics)")
    p.add_argument("--pg-stats", action="store_true",
                   help="PostgreSQL: record pg_stat_database deltas (commits, rows) per measurement; +11 s each")
    p.add_argument("--medflow-env", action="append", default=[], metavar="[LABEL:]NAME=VALUE[,NAME=VALUE]",
                   help="add a MedFlow variant started with these environment variables (repeatable)")
    p.add_argument("--medflow-auth", default=os.environ.get("MEDFLOW_BENCH_AUTH", ""),
                   help="credentials MedFlow needs: 'basic:USER:PASSWORD' or 'bearer:TOKEN'")
    p.add_argument("--pg", default=PG_ADMIN_URI_DEFAULT, help="admin URI of the PostgreSQL server")
    p.add_argument("--workdir", help="where servers keep data (default: a new /tmp/medflow-bench-* dir)")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, SQLite files)")
    p.add_argument("--out", help="JSON result path (default bench/results/<UTC time>.json; .md beside it)")
    p.add_argument("--report", metavar="JSON", help="only re-render the report of an earlier run")
    return p.parse_args(argv)


def auth_headers(spec: str) -> dict[str, str]:
    if not spec:
        return {}
    kind, _, rest = spec.partition(":")
    if kind == "basic":
        import base64
        return {"Authorization": "Basic " + base64.b64encode(rest.encode()).decode()}
    if kind == "bearer":
        return {"Authorization": "Bearer " + rest}
    raise SystemExit("--medflow-auth expects basic:USER:PASSWORD or bearer:TOKEN")


def build_sizes(args):
    sizes = QUICK if args.quick else FULL
    if args.reps:
        sizes = dataclasses.replace(sizes, reps=args.reps, heavy_reps=args.reps)
    if args.fill:
        sizes = dataclasses.replace(sizes, fill=args.fill)
    for item in args.size:
        name, _, value = item.partition("=")
        field = {f.name: f for f in dataclasses.fields(sizes)}.get(name)
        if field is None:
            raise SystemExit(f"unknown size {name!r}")
        current = getattr(sizes, name)
        cast = (lambda v: tuple(int(x) for x in v.split(","))) if isinstance(current, tuple) else type(current)
        sizes = dataclasses.replace(sizes, **{name: cast(value)})
    return sizes


class Runner:
    def __init__(self, args):
        self.args = args
        self.sizes = build_sizes(args)
        self.specs = parse_server_list(args.servers, args.medflow_env, auth_headers(args.medflow_auth))
        self.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
        for b in self.backends:
            if b not in ("sqlite", "postgresql"):
                raise SystemExit(f"unknown backend {b!r}")
        names = [w.strip() for w in args.workloads.split(",") if w.strip()]
        unknown = [n for n in names if n not in ALL]
        if unknown:
            raise SystemExit(f"unknown workloads {unknown}: use {', '.join(ALL)}")
        self.workloads = [ALL[n](self.sizes) for n in ALL if n in names]
        self.workdir = Path(args.workdir or tempfile.mkdtemp(prefix="medflow-bench-", dir="/tmp"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.pg = PostgresAdmin(args.pg) if "postgresql" in self.backends else None
        self.rows: list[dict] = []
        self.logs: dict[str, dict] = {}
        self.servers: list[Server] = []
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        self.out = Path(args.out) if args.out else RESULTS_DIR / f"{stamp}{'-quick' if self.sizes.quick else ''}.json"
        self.t0 = time.monotonic()
        self.started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    def say(self, msg: str) -> None:
        el = time.monotonic() - self.t0
        print(f"[{el / 60:5.1f} min, load {load1():4.1f}] {msg}", flush=True)

    # -- one backend ------------------------------------------------------------------------------
    def start_servers(self, backend: str) -> list[Server]:
        servers = [Server(spec, backend, self.workdir, self.pg) for spec in self.specs]
        self.servers = servers
        for srv in servers:
            try:
                srv.start()
            except Exception as exc:  # noqa: BLE001
                srv.dead_reason = f"could not start: {exc}"
        failed = wait_all_ready([s for s in servers if s.dead_reason is None])
        ready = []
        for srv in servers:
            row = {"phase": "idle", "backend": backend, "server": srv.name,
                   "version": srv.version() + (f"; {srv.auth_note}" if srv.auth_note else "")}
            srv.dead_reason = srv.dead_reason or failed.get(srv.label)
            if srv.dead_reason:
                row["error"] = srv.dead_reason
                self.say(f"{srv.label} FAILED to start: {srv.dead_reason}")
            else:
                ready.append(srv)
                self.say(f"{srv.label} ready in {srv.start_seconds:.1f}s on {srv.url}")
            self.rows.append(row)
        self.settle(ready)
        for srv in ready:
            rss, largest, _, n = tree_usage(srv)
            row = next(r for r in self.rows if r["phase"] == "idle" and r["backend"] == backend and r["server"] == srv.name)
            row.update(start_s=srv.start_seconds, rss_mb=rss, largest_mb=largest, processes=n,
                       cmdline=" ".join(shlex.quote(c) for c in srv.cmdline))
        return ready

    def settle(self, servers: list[Server], quiet_cores: float = 0.15, window: float = 3.0,
               limit: float = 90.0) -> None:
        """Wait until the servers' own start-up work is over (MLflow's workers and job runner keep
        importing for a while after /health answers): their trees together use < quiet_cores."""
        t0 = time.monotonic()
        time.sleep(2)
        while time.monotonic() - t0 < limit:
            before = sum(tree_usage(s)[2] for s in servers)
            time.sleep(window)
            rate = (sum(tree_usage(s)[2] for s in servers) - before) / window
            if rate < quiet_cores:
                break
        self.say(f"servers idle after {time.monotonic() - t0:.0f}s (server CPU {rate:.2f} cores)")

    def run_workload(self, wl, backend: str, servers: list[Server], apis: dict) -> None:
        state: dict[str, dict] = {}
        for srv in servers:
            if not srv.alive():
                continue
            row = {"phase": "setup", "backend": backend, "workload": wl.name, "server": srv.name}
            st = {"workdir": self.workdir}
            t0 = time.monotonic()
            try:
                row["notes"] = wl.setup(srv, apis[srv.name], st)
                state[srv.name] = st
                self.say(f"{wl.name} set-up {srv.label}: {time.monotonic() - t0:.1f}s {row['notes'] or ''}")
            except NotSupported as exc:
                row["unsupported"] = str(exc)
                self.say(f"{wl.name} {srv.label}: not supported ({exc})")
            except Exception as exc:  # noqa: BLE001
                row["error"] = f"{type(exc).__name__}: {exc}"
                self.say(f"{wl.name} set-up {srv.label} FAILED: {row['error'][:300]}")
            self.rows.append(row)
        active = [s for s in servers if s.name in state]
        for rep in range(wl.reps):
            order = active[rep % len(active):] + active[:rep % len(active)] if active else []
            for pos, srv in enumerate(order):
                row = {"phase": "measure", "backend": backend, "workload": wl.name, "server": srv.name,
                       "rep": rep, "position": pos}
                if not srv.alive():
                    row["error"] = f"server not running (exit {srv.proc.returncode if srv.proc else '?'}): {srv.log_tail(3)}"
                    self.rows.append(row)
                    continue
                try:
                    with UsageSampler(srv, getattr(wl, "sample_interval", 0.1)) as usage:
                        metrics = wl.measure(srv, apis[srv.name], state[srv.name], rep)
                    if "rss_growth_mb" in [m.key for m in wl.metrics]:
                        metrics["rss_growth_mb"] = usage.peak_tree_mb - usage.rss_start_mb
                    row["metrics"] = metrics
                    row["usage"] = usage.as_dict()
                except Exception as exc:  # noqa: BLE001
                    row["error"] = f"{type(exc).__name__}: {exc}"[:600]
                    if not srv.alive():
                        row["error"] += f" | server exited: {srv.log_tail(3)}"
                self.rows.append(row)
                shown = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in row.get("metrics", {}).items()
                         if isinstance(v, (int, float))}
                self.say(f"{wl.name} rep {rep} {srv.label}: {shown or row.get('error', '')[:300]}"
                         + (f" ERRORS: {row['metrics']['errors'][:200]}" if row.get("metrics", {}).get("errors") else ""))

    def scan_log(self, srv: Server) -> None:
        try:
            lines = srv.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return
        hits = [ln.strip()[:200] for ln in lines if LOG_PATTERN.search(ln)]
        self.logs[srv.label] = {"count": len(hits), "first": hits[:3], "path": str(srv.log_path)}

    def run(self) -> dict:
        try:
            for backend in self.backends:
                self.say(f"=== {backend}: starting {', '.join(s.name for s in self.specs)}")
                servers = self.start_servers(backend)
                apis = {s.name: Api(s.url, s.headers) for s in servers}
                try:
                    for wl in self.workloads:
                        self.run_workload(wl, backend, servers, apis)
                finally:
                    for a in apis.values():
                        a.close()
                    stop_all(self.servers)
                    for srv in self.servers:
                        self.scan_log(srv)
                    self.say(f"=== {backend}: servers stopped")
        finally:
            stop_all(self.servers)
            if self.pg:
                for name in list(self.pg.created):
                    try:
                        self.pg.drop(name)
                    except Exception:  # noqa: BLE001
                        pass
        return self.result()

    def result(self) -> dict:
        meta = {
            "started_utc": self.started,
            "command": "python -m bench.run " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
            "sizes_label": "quick" if self.sizes.quick else "full",
            "sizes": dataclasses.asdict(self.sizes),
            "machine": f"{os.cpu_count()} cores, {_mem_gib():.0f} GiB, {platform.platform()}, Python {platform.python_version()}",
            "backends": self.backends,
            "servers": [{"name": s.name, "kind": s.kind, "env": s.env, "workers": s.workers} for s in self.specs],
            "workloads": [{"name": w.name, "title": w.title, "reps": w.reps,
                           "metrics": [dataclasses.asdict(m) for m in w.metrics]} for w in self.workloads],
            "duration_s": time.monotonic() - self.t0,
            "workdir": str(self.workdir),
        }
        return {"meta": meta, "rows": self.rows, "server_logs": self.logs}


def _mem_gib() -> float:
    import psutil
    return psutil.virtual_memory().total / 2**30


def write_outputs(data: dict, out: Path) -> str:
    text = report.render(data, targets.evaluate(data))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1, default=str))
    out.with_suffix(".md").write_text(text + "\n")
    return text


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.report:
        data = report.load(Path(args.report))
        print(report.render(data, targets.evaluate(data)))
        return 0
    runner = Runner(args)
    if args.pg_stats:
        from bench import sampling
        sampling.PG_STATS = True
    if args.no_analyze:
        from bench import fill
        fill.ANALYZE_AFTER_FILL = False

    def _term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    runner.say(f"work directory {runner.workdir}; results -> {runner.out}")
    try:
        data = runner.run()
    except KeyboardInterrupt:
        runner.say("interrupted; servers stopped")
        data = runner.result()
    except Exception:
        traceback.print_exc()
        data = runner.result()
    text = write_outputs(data, runner.out)
    print()
    print(text)
    print(f"\nresults: {runner.out} and {runner.out.with_suffix('.md')}")
    if not args.keep:
        shutil.rmtree(runner.workdir, ignore_errors=True)
    else:
        print(f"work directory kept: {runner.workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

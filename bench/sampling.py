"""Machine load and server memory/CPU, sampled alongside every measurement."""
from __future__ import annotations

import os
import threading
import time

import psutil


PG_COUNTERS = ("xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_deleted", "tup_fetched",
               "blks_read", "blks_hit")


def pg_counters(server) -> dict[str, int] | None:
    """pg_stat_database counters of the server's own database (PostgreSQL backends only)."""
    if server.backend != "postgresql" or not getattr(server, "pg_db", None) or server.pg is None:
        return None
    try:
        import psycopg
        with psycopg.connect(server.pg.admin_uri, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(f"SELECT {', '.join(PG_COUNTERS)} FROM pg_stat_database WHERE datname = %s",
                               (server.pg_db,)).fetchone()
        return dict(zip(PG_COUNTERS, row)) if row else None
    except Exception:  # noqa: BLE001 - diagnostics only
        return None


def load1() -> float:
    return os.getloadavg()[0]


def tree_usage(server) -> tuple[float, float, float, int]:
    """(RSS of the whole process tree in MB, largest single process RSS in MB, CPU seconds, processes)."""
    total = largest = cpu = 0.0
    procs = server.tree()
    for p in procs:
        try:
            rss = p.memory_info().rss
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += rss
        largest = max(largest, rss)
        cpu += t.user + t.system
    return total / 2**20, largest / 2**20, cpu, len(procs)


PG_STATS = False  # run.py --pg-stats: collect per-measurement pg_stat_database deltas (adds ~11 s each)


class UsageSampler:
    """Samples a server's process tree in a thread while a measurement runs.

    Records the RSS peak (tree and single process), the server CPU seconds consumed, and the
    machine's 1-minute load average at start and end.
    """

    def __init__(self, server, interval: float = 0.1):
        self.server = server
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.peak_tree_mb = 0.0
        self.peak_proc_mb = 0.0

    def __enter__(self) -> "UsageSampler":
        self.load_start = load1()
        rss, largest, self._cpu0, _ = tree_usage(self.server)
        self.peak_tree_mb, self.peak_proc_mb = rss, largest
        self.rss_start_mb = rss
        self._pg0 = pg_counters(self.server) if PG_STATS else None
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="usage-sampler", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            rss, largest, _, _ = tree_usage(self.server)
            self.peak_tree_mb = max(self.peak_tree_mb, rss)
            self.peak_proc_mb = max(self.peak_proc_mb, largest)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        rss, largest, cpu1, nprocs = tree_usage(self.server)
        self.peak_tree_mb = max(self.peak_tree_mb, rss)
        self.peak_proc_mb = max(self.peak_proc_mb, largest)
        self.rss_end_mb = rss
        self.processes = nprocs
        self.server_cpu_s = max(0.0, cpu1 - self._cpu0)
        self.wall_s = time.monotonic() - self._t0
        self.load_end = load1()
        if self._pg0:
            time.sleep(11)  # PostgreSQL 15 backends flush their counters within 10 s when idle
        pg1 = pg_counters(self.server) if self._pg0 else None
        self.pg = {k: pg1[k] - self._pg0[k] for k in PG_COUNTERS} if pg1 else None

    def as_dict(self) -> dict:
        return {
            "load1_start": round(self.load_start, 2),
            "load1_end": round(self.load_end, 2),
            "rss_mb_start": round(self.rss_start_mb, 1),
            "rss_mb_end": round(self.rss_end_mb, 1),
            "rss_mb_peak": round(self.peak_tree_mb, 1),
            "rss_mb_peak_process": round(self.peak_proc_mb, 1),
            "processes": self.processes,
            "server_cpu_s": round(self.server_cpu_s, 3),
            "wall_s": round(self.wall_s, 3),
            **({"pg": self.pg} if self.pg else {}),
        }

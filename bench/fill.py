"""Untimed data set-up: runs for W3, metric points for the W1 pre-fill and W4.

Two ways, with the same logical end state:
- `api`: through the server's REST API (runs/create + runs/log-batch), 8 client processes. Always
  used for MedFlow (its own write path, schema still moving), and for everything with --fill api.
- `sql` (default for the peers): straight into MLflow's / FastTrackML's tables (sqlite3 / psycopg
  COPY), because creating 20,000 runs through MLflow's API costs ~5 minutes per server on this box
  (FastTrackML ~2.5). Same rows the API would write: runs, tags (mlflow.user, mlflow.source.*,
  mlflow.runName), params, metrics, latest_metrics (FastTrackML: + row_num, iter, context).
"""
from __future__ import annotations

import json
import math
import sqlite3
import time
import uuid

from bench.client import Api, run_clients

GOLDEN = 0.6180339887498949
TS0 = 1_700_000_000_000  # fixed base timestamp (ms) for filled points
SQL_KINDS = ("mlflow", "fasttrackml")
ANALYZE_AFTER_FILL = True  # run.py --no-analyze turns it off


def run_values(i: int) -> dict:
    """Deterministic per-run values: loss is spread uniformly over [0, 1)."""
    loss = (i * GOLDEN) % 1.0
    return {"loss": round(loss, 6), "acc": round(1.0 - loss, 6),
            "lr": ("0.1", "0.01", "0.001")[i % 3], "batch": str(32 * (1 + i % 4))}


def batch_body(run_id: str, keys: list[str], step0: int, nsteps: int) -> bytes:
    """One log-batch request: len(keys) * nsteps points, as the official client encodes it."""
    metrics = [{"key": k, "value": math.sin(s * 0.001 + ki) + 1.5, "timestamp": TS0 + s, "step": s}
               for s in range(step0, step0 + nsteps) for ki, k in enumerate(keys)]
    return json.dumps({"run_id": run_id, "metrics": metrics, "params": [], "tags": []}).encode()


# -- through the API --------------------------------------------------------------------------------

def _runs_client(args, phase, prepared):
    base, headers, exp_id, indices, prefix = args
    if phase == "prepare":
        return None
    api = Api(base, headers)
    ids = []
    for i in indices:
        info = api.create_run(exp_id, f"{prefix}-{i:06d}", start_time=TS0 + i * 10)
        rid = info["run_id"]
        v = run_values(i)
        api.post("/runs/log-batch", {
            "run_id": rid,
            "metrics": [{"key": "loss", "value": v["loss"], "timestamp": TS0 + i * 10, "step": 0},
                        {"key": "acc", "value": v["acc"], "timestamp": TS0 + i * 10, "step": 0}],
            "params": [{"key": "lr", "value": v["lr"]}, {"key": "batch", "value": v["batch"]}],
            "tags": [],
        })
        ids.append(rid)
    api.close()
    return ids


def runs_api(server, exp_id: str, n: int, prefix: str, clients: int = 8, timeout: float = 1800) -> list[str]:
    chunks = [list(range(c, n, clients)) for c in range(clients)]
    results, _, _ = run_clients(_runs_client, [(server.url, server.headers, exp_id, ch, prefix)
                                               for ch in chunks if ch], timeout)
    return [rid for part in results for rid in part]


def _points_client(args, phase, prepared):
    base, headers, jobs = args  # jobs: [(run_id, keys, step0, nsteps)]
    if phase == "prepare":
        return None
    api = Api(base, headers)
    for run_id, keys, step0, nsteps in jobs:
        api.post("/runs/log-batch", batch_body(run_id, keys, step0, nsteps))
    api.close()
    return len(jobs)


def points_api(server, run_ids: list[str], keys: list[str], steps_per_run: int, clients: int = 4,
               timeout: float = 1800) -> None:
    """steps_per_run steps of every key in every run, 1,000 points per log-batch request."""
    per_batch = max(1, 1000 // len(keys))
    jobs = [(rid, keys, s, min(per_batch, steps_per_run - s))
            for s in range(0, steps_per_run, per_batch) for rid in run_ids]
    split = [jobs[c::clients] for c in range(clients)]
    run_clients(_points_client, [(server.url, server.headers, part) for part in split if part], timeout)


# -- straight into the peers' tables (MLflow 3.17 and FastTrackML 0.6 schemas) -------------------------

class SqlFill:
    """Writes the rows the REST calls would write, straight into MLflow's or FastTrackML's tables."""

    def __init__(self, server, api: Api):
        self.kind = server.kind
        self.sqlite = server.backend == "sqlite"
        self.api = api
        if self.sqlite:
            self.conn = sqlite3.connect(server.sql_uri, timeout=120)
        else:
            import psycopg
            self.conn = psycopg.connect(server.sql_uri)
        self.false = 0 if self.sqlite else False

    def scalar(self, sql: str):
        cur = self.conn.execute(sql)
        row = cur.fetchone()
        return row[0] if row else None

    def insert(self, table: str, columns: list[str], rows) -> None:
        cols = ", ".join(f'"{c}"' for c in columns)
        if self.sqlite:
            marks = ", ".join("?" * len(columns))
            self.conn.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)
        else:
            with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)

    def close(self) -> None:
        self.conn.commit()
        self.conn.close()

    def _metric_rows(self, rows, latest: bool):
        """(key, value, timestamp, run, step, iter) -> the table's columns."""
        cols = ["key", "value", "timestamp", "run_uuid", "step", "is_nan"]
        if self.kind == "mlflow":
            return cols, ((k, v, ts, rid, st, self.false) for k, v, ts, rid, st, _ in rows)
        ctx = self.scalar("SELECT id FROM contexts ORDER BY id LIMIT 1")
        cols += ["last_iter" if latest else "iter", "context_id"]
        return cols, ((k, v, ts, rid, st, self.false, it, ctx) for k, v, ts, rid, st, it in rows)

    def runs(self, exp_id: str, n: int, prefix: str) -> list[str]:
        ids = [uuid.uuid4().hex for _ in range(n)]
        cols = ["run_uuid", "name", "source_type", "source_name", "entry_point_name", "user_id", "status",
                "start_time", "end_time", "source_version", "lifecycle_stage", "artifact_uri", "experiment_id"]
        if self.kind == "mlflow":
            uri = f"mlflow-artifacts:/{exp_id}/{{}}/artifacts"
            extra = lambda i: ()  # noqa: E731
        else:
            location = self.api.get("/experiments/get", {"experiment_id": exp_id})["experiment"]["artifact_location"]
            uri = location.rstrip("/") + "/{}/artifacts"
            row0 = (self.scalar("SELECT MAX(row_num) FROM runs") or 0) + 1
            cols.append("row_num")
            extra = lambda i: (row0 + i,)  # noqa: E731
        self.insert("runs", cols, ((rid, f"{prefix}-{i:06d}", "LOCAL", "bench/run.py", "", "bench", "RUNNING",
                                    TS0 + i * 10, None, "", "active", uri.format(rid), int(exp_id)) + extra(i)
                                   for i, rid in enumerate(ids)))
        self.insert("tags", ["key", "value", "run_uuid"],
                    ((k, v, rid) for i, rid in enumerate(ids)
                     for k, v in (("mlflow.user", "bench"), ("mlflow.source.name", "bench/run.py"),
                                  ("mlflow.source.type", "LOCAL"), ("mlflow.runName", f"{prefix}-{i:06d}"))))
        self.insert("params", ["key", "value" if self.kind == "mlflow" else "value_str", "run_uuid"],
                    ((k, run_values(i)[k], rid) for i, rid in enumerate(ids) for k in ("lr", "batch")))
        for table in ("metrics", "latest_metrics"):
            cols_m, rows = self._metric_rows(((k, run_values(i)[k], TS0 + i * 10, rid, 0, 1)
                                              for i, rid in enumerate(ids) for k in ("loss", "acc")),
                                             latest=table == "latest_metrics")
            self.insert(table, cols_m, rows)
        return ids

    def points(self, run_ids: list[str], keys: list[str], steps_per_run: int) -> None:
        """The rows log-batch would write, in (run, key, step) order; latest_metrics for each key."""
        cols, rows = self._metric_rows(((k, math.sin(s * 0.001 + ki) + 1.5, TS0 + s, rid, s, s + 1)
                                        for rid in run_ids for ki, k in enumerate(keys)
                                        for s in range(steps_per_run)), latest=False)
        self.insert("metrics", cols, rows)
        last = steps_per_run - 1
        cols, rows = self._metric_rows(((k, math.sin(last * 0.001 + ki) + 1.5, TS0 + last, rid, last, last + 1)
                                        for rid in run_ids for ki, k in enumerate(keys)), latest=True)
        self.insert("latest_metrics", cols, rows)


def analyze(server) -> bool:
    """PostgreSQL: refresh planner statistics after a bulk fill (what autovacuum does within a
    minute or so). Without it, plans chosen on empty-table estimates can be 10-40x slower."""
    if server.backend != "postgresql":
        return False
    import psycopg
    with psycopg.connect(server.sql_uri, autocommit=True) as conn:
        conn.execute("ANALYZE")
    return True


# -- dispatch -------------------------------------------------------------------------------------------

def fill_runs(server, api: Api, exp_id: str, n: int, prefix: str, mode: str) -> tuple[list[str], str, float]:
    t0 = time.monotonic()
    if mode == "sql" and server.kind in SQL_KINDS:
        filler = SqlFill(server, api)
        ids, how = filler.runs(exp_id, n, prefix), "sql"
        filler.close()
    else:
        ids, how = runs_api(server, exp_id, n, prefix), "api"
    secs = time.monotonic() - t0
    if ANALYZE_AFTER_FILL and analyze(server):
        how += "+analyze"
    return ids, how, secs


def fill_points(server, api: Api, run_ids: list[str], keys: list[str], steps_per_run: int,
                mode: str) -> tuple[str, float]:
    t0 = time.monotonic()
    if mode == "sql" and server.kind in SQL_KINDS:
        filler = SqlFill(server, api)
        filler.points(run_ids, keys, steps_per_run)
        filler.close()
        how = "sql"
    else:
        points_api(server, run_ids, keys, steps_per_run)
        how = "api"
    secs = time.monotonic() - t0
    if ANALYZE_AFTER_FILL and analyze(server):
        how += "+analyze"
    return how, secs

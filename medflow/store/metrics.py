"""SQL for metric points and each run's latest value per key.

Points are stored faithfully: NaN as value 0 + is_nan (SQLite turns NaN into NULL), and
±Infinity as themselves (both databases store IEEE infinities; MLflow clamps them to ±max
double, MedFlow does not). A point identical to a stored one (same key, step, timestamp and
value) is not stored twice, as MLflow's primary key guarantees; when the copy carries a
logged-model id (3.x clients re-log a run's metrics for each model they log) the stored
point takes that id instead.

latest_metrics holds MLflow's "latest" value per (run, key): the maximum by (step,
timestamp, value), NaN counting as 0 in that comparison as it does in MLflow. A request
updates it with one upsert per key, so concurrent writers never lose a newer value.
"""
from __future__ import annotations

import json
import math
from typing import Iterator, NamedTuple

from sqlalchemy import (Connection, Integer, bindparam, case, func, literal_column, select, text, true,
                        tuple_, update)
from sqlalchemy.dialects import postgresql, sqlite

from medflow.store.direct import DirectStatement
from medflow.store.schema import latest_metrics, metrics



class Point(NamedTuple):
    key: str
    value: float          # 0.0 when is_nan
    timestamp: int
    step: int
    is_nan: bool
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None

    @property
    def identity(self) -> tuple:
        return (self.key, self.step, self.timestamp, self.value, self.is_nan)

    @property
    def order(self) -> tuple:
        return (self.step, self.timestamp, self.value)


def make_point(key: str, value: float, timestamp: int, step: int, model_id: str | None = None,
               dataset_name: str | None = None, dataset_digest: str | None = None) -> Point:
    is_nan = math.isnan(value)
    return Point(key, 0.0 if is_nan else value, timestamp, step, is_nan, model_id or None,
                 dataset_name or None, dataset_digest or None)


def wire_value(value: float, is_nan: bool) -> float | str:
    """A metric value as MLflow's protobuf JSON writes it: NaN and infinities as strings."""
    if is_nan:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def wire_value_json(value: float, is_nan: bool) -> str:
    if is_nan:
        return '"NaN"'
    if value in (math.inf, -math.inf):
        return '"Infinity"' if value > 0 else '"-Infinity"'
    return repr(float(value))


# --- writing ----------------------------------------------------------------------------

# On the driver (store/direct.py): this and the latest-value upsert are every log-metric call's work.
_INSERT_IF_NEW_TO_ACTIVE_RUN = DirectStatement(text(
    "INSERT INTO metrics (run_uuid, key, step, timestamp, value, is_nan, model_id, dataset_name, dataset_digest) "
    "SELECT CAST(:r AS VARCHAR(32)), CAST(:k AS VARCHAR(250)), CAST(:s AS BIGINT), CAST(:t AS BIGINT), "
    "CAST(:v AS DOUBLE PRECISION), CAST(:n AS BOOLEAN), NULL, CAST(:dn AS VARCHAR(500)), "
    "CAST(:dd AS VARCHAR(36)) WHERE EXISTS (SELECT 1 FROM runs WHERE run_uuid = CAST(:r AS VARCHAR(32)) "
    "AND lifecycle_stage = 'active') AND NOT EXISTS (SELECT 1 FROM metrics WHERE run_uuid = CAST(:r AS VARCHAR(32)) "
    "AND key = CAST(:k AS VARCHAR(250)) AND step = CAST(:s AS BIGINT) AND timestamp = CAST(:t AS BIGINT) "
    "AND value = CAST(:v AS DOUBLE PRECISION) AND is_nan = CAST(:n AS BOOLEAN)) RETURNING 1"
).columns(inserted=Integer))
_EXISTING_POINT = select(metrics.c.key, metrics.c.step, metrics.c.timestamp, metrics.c.value,
                         metrics.c.is_nan, metrics.c.model_id).where(
    metrics.c.run_uuid == bindparam("r"), metrics.c.key == bindparam("k"),
    metrics.c.step == bindparam("s"), metrics.c.timestamp == bindparam("t"))


def _existing(conn: Connection, run_id: str, points: list[Point]) -> dict[tuple, str | None]:
    """identity -> stored model_id, for the stored points identical to one of `points`.

    One index range scan per request: the keys of the batch, its step range and its
    timestamp range. New points (later steps than anything stored) find nothing at once."""
    m = metrics.c
    if len(points) == 1:  # log-metric: a prebuilt statement, one index probe
        p = points[0]
        rows = conn.execute(_EXISTING_POINT, {"r": run_id, "k": p.key, "s": p.step, "t": p.timestamp}).all()
        return {(k, st, ts, v, nan): model for k, st, ts, v, nan, model in rows}
    keys = list({p.key for p in points})
    steps = [p.step for p in points]
    stamps = [p.timestamp for p in points]
    key_test = m.key == keys[0] if len(keys) == 1 else m.key.in_(keys)
    rows = conn.execute(select(m.key, m.step, m.timestamp, m.value, m.is_nan, m.model_id).where(
        m.run_uuid == run_id, key_test, m.step.between(min(steps), max(steps)),
        m.timestamp.between(min(stamps), max(stamps)))).all()
    return {(k, st, ts, v, nan): model for k, st, ts, v, nan, model in rows}


def log_point_to_active_run(conn: Connection, run_id: str, p: Point) -> bool:
    """log-metric in as few round trips as possible: insert the point if the run is active and the
    point not yet stored, then advance the latest value. False: nothing written (the caller finds
    out whether the run is missing or deleted, or the point was already there)."""
    inserted = _INSERT_IF_NEW_TO_ACTIVE_RUN.first(conn, {
        "r": run_id, "k": p.key, "s": p.step, "t": p.timestamp, "v": p.value, "n": p.is_nan,
        "dn": p.dataset_name, "dd": p.dataset_digest}) is not None
    if inserted:
        _advance_latest(conn, run_id, [p])
    return inserted


def log_points(conn: Connection, run_id: str, points: list[Point]) -> None:
    """Store `points` (validated) for the run and advance its latest values."""
    if not points:
        return
    unique: dict[tuple, Point] = {}
    for p in points:
        unique.setdefault(p.identity, p)
    stored = _existing(conn, run_id, list(unique.values()))
    new_rows, claims = [], []
    for ident, p in unique.items():
        if ident not in stored:
            new_rows.append((run_id, p.key, p.step, p.timestamp, p.value, p.is_nan, p.model_id,
                             p.dataset_name, p.dataset_digest))
        elif p.model_id and stored[ident] is None:
            claims.append({"b_key": p.key, "b_step": p.step, "b_ts": p.timestamp, "b_value": p.value,
                           "b_is_nan": p.is_nan, "model_id": p.model_id,
                           "dataset_name": p.dataset_name, "dataset_digest": p.dataset_digest})
    if new_rows:
        _insert_rows(conn, new_rows)
    if claims:
        conn.execute(update(metrics).where(
            metrics.c.run_uuid == run_id, metrics.c.key == bindparam("b_key"),
            metrics.c.step == bindparam("b_step"), metrics.c.timestamp == bindparam("b_ts"),
            metrics.c.value == bindparam("b_value"), metrics.c.is_nan == bindparam("b_is_nan"),
            metrics.c.model_id.is_(None)), claims)
    _advance_latest(conn, run_id, points)


_COPY_MIN_ROWS = 64
_METRIC_COLUMNS = "run_uuid, key, step, timestamp, value, is_nan, model_id, dataset_name, dataset_digest"


def _insert_rows(conn: Connection, rows: list[tuple]) -> None:
    """Insert metric rows (tuples in _METRIC_COLUMNS order) straight through the driver:
    COPY on PostgreSQL for real batches (its fastest ingest path), executemany otherwise."""
    if conn.dialect.name == "postgresql":
        if len(rows) >= _COPY_MIN_ROWS:
            with conn.connection.driver_connection.cursor() as cursor:
                with cursor.copy(f"COPY metrics ({_METRIC_COLUMNS}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            return
        conn.exec_driver_sql(f"INSERT INTO metrics ({_METRIC_COLUMNS}) VALUES ({', '.join(['%s'] * 9)})", rows)
        return
    conn.exec_driver_sql(f"INSERT INTO metrics ({_METRIC_COLUMNS}) VALUES ({', '.join(['?'] * 9)})", rows)


def _advance_latest(conn: Connection, run_id: str, points: list[Point]) -> None:
    best: dict[str, Point] = {}
    for p in points:
        current = best.get(p.key)
        if current is None or p.order > current.order:
            best[p.key] = p
    rows = [{"run_uuid": run_id, "key": p.key, "step": p.step, "timestamp": p.timestamp,
             "value": p.value, "is_nan": p.is_nan} for p in best.values()]
    upsert = _latest_upsert(conn.dialect.name)
    if len(rows) == 1:
        upsert.first(conn, rows[0])
    else:
        conn.execute(upsert.statement, rows)


_UPSERTS: dict[str, DirectStatement] = {}


def _latest_upsert(dialect: str) -> DirectStatement:
    """INSERT ... ON CONFLICT DO UPDATE ... WHERE the new point is later (built once per dialect)."""
    if dialect not in _UPSERTS:
        stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(latest_metrics)
        new, old = stmt.excluded, latest_metrics.c
        _UPSERTS[dialect] = DirectStatement(stmt.on_conflict_do_update(
            index_elements=["run_uuid", "key"],
            set_={"step": new.step, "timestamp": new.timestamp, "value": new.value, "is_nan": new.is_nan},
            where=tuple_(new.step, new.timestamp, new.value) > tuple_(old.step, old.timestamp, old.value)))
    return _UPSERTS[dialect]


# --- reading ----------------------------------------------------------------------------

# History is read in (step, timestamp, value) order: the order of the metrics index, so
# pages and streams never sort a whole history. (MLflow sorts by timestamp first; for the
# usual history, logged in step order, the two orders are the same.)
_HISTORY_ORDER = (metrics.c.step, metrics.c.timestamp, metrics.c.value, metrics.c.is_nan)
_HISTORY_COLS = (metrics.c.value, metrics.c.timestamp, metrics.c.step, metrics.c.is_nan)


def history_page(conn: Connection, run_id: str, key: str, after: tuple[int, int, int] | None,
                 limit: int) -> list[dict]:
    """Up to `limit` points in history order, starting at keyset position `after`
    = (step, timestamp, rows at exactly that step and timestamp already returned)."""
    m = metrics.c
    stmt = select(*_HISTORY_COLS).where(m.run_uuid == run_id, m.key == key)
    skip = 0
    if after is not None:
        step, timestamp, skip = after
        stmt = stmt.where(tuple_(m.step, m.timestamp) >= tuple_(step, timestamp))
    rows = conn.execute(stmt.order_by(*_HISTORY_ORDER).offset(skip).limit(limit)).all()
    return [{"key": key, "value": wire_value(v, nan), "timestamp": ts, "step": step}
            for v, ts, step, nan in rows]


def history_json_chunks(conn: Connection, run_id: str, key: str, batch: int = 5000) -> Iterator[bytes]:
    """The whole history as the bytes of a {"metrics": [...]} document, a batch at a time."""
    key_json = json.dumps(key)
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(
        select(*_HISTORY_COLS).where(metrics.c.run_uuid == run_id, metrics.c.key == key)
        .order_by(*_HISTORY_ORDER))
    first = True
    for part in result.partitions(batch):
        text = ",".join(f'{{"key":{key_json},"value":{wire_value_json(v, nan)},'
                        f'"timestamp":{ts},"step":{step}}}' for v, ts, step, nan in part)
        yield (b'{"metrics":[' if first else b",") + text.encode()
        first = False
    yield b"{}" if first else b"]}"


def sampled_history(conn: Connection, run_ids: list[str], key: str, max_results: int,
                    start_step: int | None, end_step: int | None) -> list[dict]:
    """Up to `max_results` points per run at evenly spaced steps, first and last included."""
    out = []
    for run_id in run_ids:
        rows = _sample_run(conn, run_id, key, max_results, start_step, end_step)
        out += [{"key": key, "value": wire_value(v, nan), "timestamp": ts, "step": step, "run_id": run_id}
                for step, ts, v, nan in rows]
    return out


def _sample_run(conn: Connection, run_id: str, key: str, m: int, start_step: int | None,
                end_step: int | None) -> list[tuple]:
    c = metrics.c
    conds = [c.run_uuid == run_id, c.key == key]
    if start_step is not None:
        conds += [c.step >= start_step, c.step <= end_step]
    cols = (c.step, c.timestamp, c.value, c.is_nan)
    order = (c.step, c.timestamp, c.value, c.is_nan)
    if m == 1:  # MLflow answers the last point alone
        last = conn.execute(select(*cols).where(*conds).order_by(*(o.desc() for o in order)).limit(1)).all()
        return [tuple(r) for r in last]
    head = conn.execute(select(*cols).where(*conds).order_by(*order).limit(m + 1)).all()
    if len(head) <= m:  # a short history: all of it
        return [tuple(r) for r in head]
    lo = head[0][0]
    hi = conn.execute(select(c.step).where(*conds).order_by(c.step.desc()).limit(1)).scalar_one()
    # Evenly spaced target steps, each snapped forward to the first step logged at or after
    # it: one index seek per target, so the cost does not grow with the history's length.
    targets = sorted({lo + (hi - lo) * i // (m - 1) for i in range(m)})
    first_per_step: dict[int, tuple] = {}
    for row in _rows_at_snapped_steps(conn, run_id, key, targets, end_step):
        first_per_step.setdefault(row[0], tuple(row))
    if len(first_per_step) < m // 2:
        # Points crowd on few steps (e.g. everything logged at step 0): sample rows instead.
        return _sample_rows(conn, conds, cols, order, m)
    return list(first_per_step.values())


def _rows_at_snapped_steps(conn: Connection, run_id: str, key: str, targets: list[int],
                           end_step: int | None) -> list:
    values = ", ".join(f"(CAST(:t{i} AS BIGINT))" for i in range(len(targets)))
    upper = "" if end_step is None else " AND m.step <= :end_step"
    sql = text(
        f"WITH targets(x) AS (VALUES {values}), "
        f"snapped AS (SELECT DISTINCT (SELECT m.step FROM metrics m WHERE m.run_uuid = :run AND m.key = :key "
        f"AND m.step >= targets.x{upper} ORDER BY m.step LIMIT 1) AS step FROM targets) "
        "SELECT p.step, p.timestamp, p.value, p.is_nan FROM snapped JOIN metrics p ON p.run_uuid = :run "
        "AND p.key = :key AND p.step = snapped.step ORDER BY p.step, p.timestamp, p.value, p.is_nan")
    binds = {f"t{i}": t for i, t in enumerate(targets)}
    binds.update(run=run_id, key=key, end_step=end_step)
    return conn.execute(sql, binds).all()


def _sample_rows(conn: Connection, conds: list, cols: tuple, order: tuple, m: int) -> list[tuple]:
    """Row-based sampling in SQL (MLflow 3's way): rows numbered in history order, row i
    kept when it is the first at or after one of the marks k·(n-1)/(m-1)."""
    numbered = select(*cols, (func.row_number().over(order_by=order) - 1).label("i"),
                      func.count().over().label("n")).where(*conds).subquery()
    i, n = numbered.c.i, numbered.c.n
    span = literal_column(str(m - 1), Integer)
    keep = case((n <= m, true()), else_=(i == 0) | (i == n - 1) | ((i * span) // (n - 1) > ((i - 1) * span) // (n - 1)))
    rows = conn.execute(select(numbered.c.step, numbered.c.timestamp, numbered.c.value, numbered.c.is_nan)
                        .where(keep).order_by(numbered.c.step, numbered.c.timestamp, numbered.c.value)).all()
    return [tuple(r) for r in rows]


def bulk_history(conn: Connection, run_ids: list[str], key: str, max_results: int) -> list[dict]:
    m = metrics.c
    rows = conn.execute(select(m.run_uuid, m.value, m.timestamp, m.step, m.is_nan)
                        .where(m.run_uuid.in_(run_ids), m.key == key)
                        .order_by(m.run_uuid, m.step, m.timestamp, m.value).limit(max_results)).all()
    return [{"key": key, "value": wire_value(v, nan), "timestamp": ts, "step": step, "run_id": rid}
            for rid, v, ts, step, nan in rows]

"""SQL for runs, their params and tags, and the MLflow-shaped run documents built from them.

Reads of many runs (search pages) fetch params, tags, latest metrics, inputs and outputs
with one IN query each, never one query per run.
"""
from __future__ import annotations

from collections import namedtuple

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from medflow.errors import MedflowError
from medflow.store import datasets as dataset_store
from medflow.store.engine import is_unique_violation, upsert
from medflow.store.metrics import wire_value
from medflow.store.schema import logged_models, params, run_outputs, runs, tags

ACTIVE, DELETED = "active", "deleted"
RUN_NAME_TAG = "mlflow.runName"
_IN_CHUNK = 900  # bound parameters per IN list (SQLite allows 32766; keep statements small)
_INFINITIES = (float("inf"), float("-inf"))

_GET_ROW = select(runs).where(runs.c.run_uuid == bindparam("run_uuid"))


def chunks(items: list, size: int = _IN_CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- rows -------------------------------------------------------------------------------

def get_row(conn: Connection, run_id: str):
    return conn.execute(_GET_ROW, {"run_uuid": run_id}).first()


def require_row(conn: Connection, run_id: str):
    row = get_row(conn, run_id)
    if row is None:
        raise MedflowError.not_found(f"Run with id={run_id} not found")
    return row


def require_active(conn: Connection, run_id: str):
    """The run's row, or INVALID_PARAMETER_VALUE as MLflow answers writes to a deleted run."""
    row = require_row(conn, run_id)
    if row.lifecycle_stage != ACTIVE:
        raise MedflowError.invalid(
            f"The run {run_id} must be in the 'active' state. Current state is "
            f"{row.lifecycle_stage}. Restore the run (runs/restore) before writing to it.")
    return row


def insert_run(conn: Connection, *, run_id: str, experiment_id: int, name: str, user_id: str,
               start_time: int, artifact_uri: str, run_tags: list[dict]) -> None:
    conn.execute(insert(runs).values(
        run_uuid=run_id, experiment_id=experiment_id, name=name, user_id=user_id, status="RUNNING",
        start_time=start_time, end_time=None, lifecycle_stage=ACTIVE, artifact_uri=artifact_uri,
        deleted_time=None))
    if run_tags:
        conn.execute(insert(tags), [{"run_uuid": run_id, "key": t["key"], "value": t["value"]}
                                    for t in run_tags])


def set_fields(conn: Connection, run_id: str, **values) -> None:
    conn.execute(update(runs).where(runs.c.run_uuid == run_id).values(**values))


def set_lifecycle(conn: Connection, run_id: str, stage: str, now: int) -> None:
    set_fields(conn, run_id, lifecycle_stage=stage, deleted_time=now if stage == DELETED else None)


def set_lifecycle_for_experiment(conn, experiment_id: int, stage: str, now: int) -> None:
    conn.execute(update(runs).where(runs.c.experiment_id == experiment_id)
                 .values(lifecycle_stage=stage, deleted_time=now if stage == DELETED else None))


# --- params -----------------------------------------------------------------------------

def params_for_keys(conn: Connection, run_id: str, keys: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in chunks(keys):
        rows = conn.execute(select(params.c.key, params.c.value)
                            .where(params.c.run_uuid == run_id, params.c.key.in_(part)))
        found.update({r.key: r.value for r in rows})
    return found


def insert_params(conn: Connection, run_id: str, new: dict[str, str]) -> None:
    """Insert params that are not stored yet. A concurrent writer of the same key makes the
    insert fail on the primary key; the caller's transaction then rolls back whole."""
    if not new:
        return
    try:
        conn.execute(insert(params), [{"run_uuid": run_id, "key": k, "value": v} for k, v in new.items()])
    except IntegrityError as exc:
        if is_unique_violation(exc):
            raise MedflowError.invalid(
                f"A param of run {run_id} was logged concurrently by another request; params are "
                "immutable. Retry the request: identical values are accepted.") from None
        raise


# --- tags -------------------------------------------------------------------------------

def tags_for_keys(conn: Connection, run_id: str, keys: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in chunks(keys):
        rows = conn.execute(select(tags.c.key, tags.c.value)
                            .where(tags.c.run_uuid == run_id, tags.c.key.in_(part)))
        found.update({r.key: r.value for r in rows})
    return found


def set_tags(conn: Connection, run_id: str, values: dict[str, str]) -> None:
    upsert(conn, tags, [{"run_uuid": run_id, "key": k, "value": v} for k, v in values.items()],
           ["run_uuid", "key"], ["value"])


def delete_tag(conn: Connection, run_id: str, key: str) -> bool:
    return conn.execute(delete(tags).where(tags.c.run_uuid == run_id, tags.c.key == key)).rowcount > 0


# --- outputs (3.x logged models) -------------------------------------------------------

def add_outputs(conn: Connection, run_id: str, models: list[dict]) -> None:
    existing = {r.model_id for r in conn.execute(
        select(run_outputs.c.model_id).where(run_outputs.c.run_uuid == run_id,
                                             run_outputs.c.model_id.in_([m["model_id"] for m in models])))}
    rows = [{"run_uuid": run_id, "model_id": m["model_id"], "step": m["step"]}
            for m in models if m["model_id"] not in existing]
    if rows:
        conn.execute(insert(run_outputs), rows)


def existing_logged_models(conn: Connection, model_ids: list[str]) -> set[str]:
    return {r[0] for r in conn.execute(select(logged_models.c.model_id)
                                       .where(logged_models.c.model_id.in_(model_ids)))}


def outputs_for_runs(conn: Connection, run_ids: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for run_uuid, model_id, step in _for_runs(conn, "model_id, step", "run_outputs", run_ids):
        out.setdefault(run_uuid, []).append({"model_id": model_id, "step": step})
    return out


# --- MLflow-shaped documents ------------------------------------------------------------

def info_to_wire(row) -> dict:
    info = {"run_uuid": row.run_uuid, "experiment_id": str(row.experiment_id), "run_name": row.name,
            "user_id": row.user_id, "status": row.status, "start_time": row.start_time}
    if row.end_time is not None:
        info["end_time"] = row.end_time
    info.update(artifact_uri=row.artifact_uri, lifecycle_stage=row.lifecycle_stage, run_id=row.run_uuid)
    return info


def fetch_for_runs(conn: Connection, select_from: str, id_column: str, run_ids: list[str]) -> list[tuple]:
    """`<select_from> WHERE <id_column> IN <run_ids>` as plain tuples, straight from the driver: a
    search page asks this for 1,000 runs at a time, and SQLAlchemy's IN expansion and Row
    objects would cost more than the queries. PostgreSQL gets the ids as one comma-separated
    text parameter split by the server (binding a 1,000-element array costs the driver more
    than the query). The SQL text is always a constant of this package; only run ids are
    parameters. (SQLite returns booleans as 0/1 here: callers only test them for truth.)"""
    driver = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with driver.cursor() as cursor:
            cursor.execute(f"{select_from} WHERE {id_column} = ANY(string_to_array(%s, ','))", (",".join(run_ids),))
            return cursor.fetchall()
    out: list[tuple] = []
    for part in chunks(run_ids):
        out += driver.execute(f"{select_from} WHERE {id_column} IN ({','.join('?' * len(part))})", part).fetchall()
    return out


def _for_runs(conn: Connection, columns: str, table: str, run_ids: list[str]) -> list[tuple]:
    return fetch_for_runs(conn, f"SELECT run_uuid, {columns} FROM {table}", "run_uuid", run_ids)


def rows_in_order(conn: Connection, run_ids: list[str]) -> list:
    """The runs rows of `run_ids`, in that order (a search page: ids first, then rows)."""
    by_id = {row[0]: _RunRow._make(row) for row in fetch_for_runs(conn, _RUN_COLUMNS_SQL, "run_uuid", run_ids)}
    return [by_id[r] for r in run_ids if r in by_id]


_RunRow = namedtuple("_RunRow", "run_uuid experiment_id name user_id status start_time end_time lifecycle_stage "
                                "artifact_uri")
_RUN_COLUMNS_SQL = ("SELECT run_uuid, experiment_id, name, user_id, status, start_time, end_time, "
                    "lifecycle_stage, artifact_uri FROM runs")


def _key_values_for_runs(conn: Connection, table: str, run_ids: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for run_uuid, key, value in _for_runs(conn, "key, value", table, run_ids):
        if run_uuid in out:
            out[run_uuid].append({"key": key, "value": value})
        else:
            out[run_uuid] = [{"key": key, "value": value}]
    return out


def _latest_metrics_for_runs(conn: Connection, run_ids: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    rows = _for_runs(conn, "key, value, timestamp, step, is_nan", "latest_metrics", run_ids)
    for run_uuid, key, value, timestamp, step, is_nan in rows:
        item = {"key": key, "value": wire_value(value, is_nan) if is_nan or value in _INFINITIES else value,
                "timestamp": timestamp, "step": step}
        if run_uuid in out:
            out[run_uuid].append(item)
        else:
            out[run_uuid] = [item]
    return out


def runs_to_wire(conn: Connection, rows, *, with_outputs: bool = True) -> list[dict]:
    """Full run documents for `rows` (runs table rows), in the same order."""
    run_ids = [r.run_uuid for r in rows]
    if not run_ids:
        return []
    metrics = _latest_metrics_for_runs(conn, run_ids)
    run_params = _key_values_for_runs(conn, "params", run_ids)
    run_tags = _key_values_for_runs(conn, "tags", run_ids)
    inputs = dataset_store.inputs_for_runs(conn, run_ids)
    outputs = outputs_for_runs(conn, run_ids) if with_outputs else {}
    docs = []
    for row in rows:
        rid = row.run_uuid
        data: dict = {}
        if rid in metrics:
            data["metrics"] = metrics[rid]
        if rid in run_params:
            data["params"] = run_params[rid]
        if rid in run_tags:
            data["tags"] = run_tags[rid]
        doc = {"info": info_to_wire(row), "data": data, "inputs": inputs.get(rid, {})}
        if with_outputs:
            doc["outputs"] = {"model_outputs": outputs[rid]} if rid in outputs else {}
        docs.append(doc)
    return docs


def run_to_wire(conn: Connection, run_id: str, *, with_outputs: bool = True) -> dict:
    return runs_to_wire(conn, [require_row(conn, run_id)], with_outputs=with_outputs)[0]

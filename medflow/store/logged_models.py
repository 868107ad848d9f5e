"""SQL for 3.x logged models, their params and tags; search. Returns MLflow-shaped dicts.

A logged model's metrics are the rows of the `metrics` table carrying its model_id (the
client logs them through log-batch/log-metric with model_id); they are read with one IN
query per page of models, like tags and params.
"""
from __future__ import annotations

import math

from sqlalchemy import Connection, and_, case, delete, exists, insert, or_, select, update

from medflow.errors import MedflowError
from medflow.store import page_tokens
from medflow.store.engine import upsert
from medflow.store.schema import (logged_model_params, logged_model_tags, logged_models, metrics,
                                  runs)
from medflow.store.search.grammar import parse_filter
from medflow.store.search.sql import compare

ACTIVE, DELETED = "active", "deleted"
PENDING, READY, UPLOAD_FAILED = "LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY", "LOGGED_MODEL_UPLOAD_FAILED"
M = logged_models.c


# --- reads used by other parts (registry) ----------------------------------------------------
def get_row(conn: Connection, model_id: str):
    """The logged_models row (active or deleted), or None."""
    return conn.execute(select(logged_models).where(M.model_id == model_id)).first()


def run_experiment(conn: Connection, run_id: str) -> int | None:
    """The experiment of run `run_id`, or None when there is no such run."""
    return conn.execute(select(runs.c.experiment_id).where(runs.c.run_uuid == run_id)).scalar()


# --- wire shape ----------------------------------------------------------------------------
def _metric_value(row) -> float | str:
    if row.is_nan:
        return "NaN"
    if math.isinf(row.value):
        return "Infinity" if row.value > 0 else "-Infinity"
    return row.value


def _children(conn: Connection, ids: list[str]) -> tuple[dict, dict, dict]:
    tags: dict[str, list] = {}
    params: dict[str, list] = {}
    model_metrics: dict[str, list] = {}
    if not ids:
        return tags, params, model_metrics
    for row in conn.execute(select(logged_model_tags).where(logged_model_tags.c.model_id.in_(ids))
                            .order_by(logged_model_tags.c.key)):
        tags.setdefault(row.model_id, []).append({"key": row.key, "value": row.value})
    for row in conn.execute(select(logged_model_params).where(logged_model_params.c.model_id.in_(ids))
                            .order_by(logged_model_params.c.key)):
        params.setdefault(row.model_id, []).append({"key": row.key, "value": row.value})
    for row in conn.execute(select(metrics).where(metrics.c.model_id.in_(ids))
                            .order_by(metrics.c.key, metrics.c.step, metrics.c.timestamp)):
        metric = {"key": row.key, "value": _metric_value(row), "timestamp": row.timestamp,
                  "step": row.step, "model_id": row.model_id, "run_id": row.run_uuid}
        if row.dataset_name:
            metric["dataset_name"] = row.dataset_name
        if row.dataset_digest:
            metric["dataset_digest"] = row.dataset_digest
        model_metrics.setdefault(row.model_id, []).append(metric)
    return tags, params, model_metrics


def to_wire_many(conn: Connection, rows) -> list[dict]:
    tags, params, model_metrics = _children(conn, [r.model_id for r in rows])
    out = []
    for row in rows:
        info = {"model_id": row.model_id, "experiment_id": str(row.experiment_id), "name": row.name,
                "artifact_uri": row.artifact_location, "status": row.status,
                "creation_timestamp_ms": row.creation_timestamp_ms,
                "last_updated_timestamp_ms": row.last_updated_timestamp_ms,
                "model_type": row.model_type or "", "source_run_id": row.source_run_id or ""}
        if row.status_message:
            info["status_message"] = row.status_message
        if row.model_id in tags:
            info["tags"] = tags[row.model_id]
        data = {}
        if row.model_id in params:
            data["params"] = params[row.model_id]
        if row.model_id in model_metrics:
            data["metrics"] = model_metrics[row.model_id]
        out.append({"info": info, "data": data})
    return out


def not_found(model_id: str) -> MedflowError:
    return MedflowError.not_found(f"Logged model with ID '{model_id}' not found.")


def get(conn: Connection, model_id: str, *, allow_deleted: bool = False) -> dict:
    row = get_row(conn, model_id)
    if row is None or (row.lifecycle_stage == DELETED and not allow_deleted):
        raise not_found(model_id)
    return to_wire_many(conn, [row])[0]


# --- writes --------------------------------------------------------------------------------
def create(conn: Connection, *, model_id: str, experiment_id: int, name: str, artifact_location: str,
           model_type: str | None, source_run_id: str | None, params: dict[str, str],
           tags: dict[str, str], now: int) -> None:
    conn.execute(insert(logged_models).values(
        model_id=model_id, experiment_id=experiment_id, name=name, artifact_location=artifact_location,
        creation_timestamp_ms=now, last_updated_timestamp_ms=now, status=PENDING, status_message=None,
        lifecycle_stage=ACTIVE, model_type=model_type, source_run_id=source_run_id))
    insert_params(conn, model_id, params)
    set_tags(conn, model_id, tags)


def set_fields(conn: Connection, model_id: str, now: int, **values) -> None:
    conn.execute(update(logged_models).where(M.model_id == model_id)
                 .values(last_updated_timestamp_ms=now, **values))


def params_of(conn: Connection, model_id: str, keys: list[str]) -> dict[str, str]:
    if not keys:
        return {}
    return dict(conn.execute(select(logged_model_params.c.key, logged_model_params.c.value).where(
        logged_model_params.c.model_id == model_id, logged_model_params.c.key.in_(keys))).all())


def insert_params(conn: Connection, model_id: str, params: dict[str, str]) -> None:
    if params:
        conn.execute(insert(logged_model_params),
                     [{"model_id": model_id, "key": k, "value": v} for k, v in params.items()])


def tags_of(conn: Connection, model_id: str, keys: list[str]) -> dict[str, str]:
    if not keys:
        return {}
    return dict(conn.execute(select(logged_model_tags.c.key, logged_model_tags.c.value).where(
        logged_model_tags.c.model_id == model_id, logged_model_tags.c.key.in_(keys))).all())


def set_tags(conn: Connection, model_id: str, tags: dict[str, str]) -> None:
    upsert(conn, logged_model_tags, [{"model_id": model_id, "key": k, "value": v} for k, v in tags.items()],
           ["model_id", "key"], ["value"])


def delete_tag(conn: Connection, model_id: str, key: str) -> bool:
    result = conn.execute(delete(logged_model_tags).where(logged_model_tags.c.model_id == model_id,
                                                          logged_model_tags.c.key == key))
    return result.rowcount > 0


# --- search --------------------------------------------------------------------------------
# filter/order_by attribute -> (column, numeric); aliases as MLflow's SqlLoggedModel.ALIASES
_ATTRIBUTES = {
    "name": (M.name, False), "model_id": (M.model_id, False), "model_type": (M.model_type, False),
    "source_run_id": (M.source_run_id, False), "status": (M.status, False),
    "creation_timestamp_ms": (M.creation_timestamp_ms, True),
    "creation_timestamp": (M.creation_timestamp_ms, True), "creation_time": (M.creation_timestamp_ms, True),
    "last_updated_timestamp_ms": (M.last_updated_timestamp_ms, True),
    "last_updated_timestamp": (M.last_updated_timestamp_ms, True),
}


def _attribute(key: str, where: str):
    if key not in _ATTRIBUTES:
        raise MedflowError.invalid(f"Invalid {where} '{key}' for logged models: use one of "
                                   f"{sorted(_ATTRIBUTES)}, metrics.<key>, params.<key> or tags.<key>.")
    return _ATTRIBUTES[key]


def _dataset_match(datasets: list[dict]):
    clauses = []
    for d in datasets:
        clause = metrics.c.dataset_name == d["dataset_name"]
        if d.get("dataset_digest"):
            clause = and_(clause, metrics.c.dataset_digest == d["dataset_digest"])
        clauses.append(clause)
    return or_(*clauses) if clauses else None


def _filters(filter_string: str | None, datasets: list[dict]) -> list:
    on_datasets = _dataset_match(datasets)
    out, metric_filtered = [], False
    for cond in parse_filter(filter_string, valid_entities={"attribute", "metric", "param", "tag"}):
        if cond.entity == "attribute":
            column, numeric = _attribute(cond.key, "filter attribute")
            out.append(compare(column, cond.comparator, cond.value, what=cond.key, numeric=numeric))
        elif cond.entity == "metric":
            metric_filtered = True
            out.append(exists().where(
                metrics.c.model_id == M.model_id, metrics.c.key == cond.key, metrics.c.is_nan.is_(False),
                compare(metrics.c.value, cond.comparator, cond.value, what=f"metric '{cond.key}'",
                        numeric=True),
                *([on_datasets] if on_datasets is not None else [])))
        else:
            table = logged_model_params if cond.entity == "param" else logged_model_tags
            out.append(exists().where(
                table.c.model_id == M.model_id, table.c.key == cond.key,
                compare(table.c.value, cond.comparator, cond.value, what=f"{cond.entity} '{cond.key}'")))
    if on_datasets is not None and not metric_filtered:  # models with any metric on the datasets
        out.append(exists().where(metrics.c.model_id == M.model_id, on_datasets))
    return out


def _ordering(order_by: list[dict]) -> list:
    clauses, keys = [], set()
    for ob in order_by:
        field, ascending = ob["field_name"], ob["ascending"]
        if field.startswith("metrics."):
            datasets = [ob] if ob.get("dataset_name") else []
            on_datasets = _dataset_match(datasets)
            latest = (select(case((metrics.c.is_nan.is_(True), None), else_=metrics.c.value))
                      .where(metrics.c.model_id == M.model_id, metrics.c.key == field[len("metrics."):],
                             *([on_datasets] if on_datasets is not None else []))
                      .order_by(metrics.c.timestamp.desc(), metrics.c.step.desc())
                      .limit(1).scalar_subquery())
            column = latest
        elif "." in field:
            raise MedflowError.invalid(f"Invalid order_by field '{field}' for logged models: use an "
                                       "attribute (e.g. creation_timestamp_ms) or metrics.<key>.")
        else:
            column = _attribute(field, "order_by field")[0]
            keys.add(column.key)
        clauses += [case((column.is_(None), 1), else_=0), column.asc() if ascending else column.desc()]
    if "creation_timestamp_ms" not in keys:
        clauses.append(M.creation_timestamp_ms.desc())
    if "model_id" not in keys:
        clauses.append(M.model_id.asc())  # a total order: pages never repeat or skip a model
    return clauses


def search(conn: Connection, *, experiment_ids: list[int], filter_string: str | None,
           datasets: list[dict], order_by: list[dict], max_results: int,
           page_token: str | None) -> tuple[list[dict], str | None]:
    fingerprint = page_tokens.fingerprint(sorted(experiment_ids), filter_string, datasets, order_by)
    offset = page_tokens.decode(page_token, fingerprint)
    query = (select(logged_models)
             .where(M.experiment_id.in_(experiment_ids), M.lifecycle_stage == ACTIVE,
                    *_filters(filter_string, datasets))
             .order_by(*_ordering(order_by)).offset(offset).limit(max_results + 1))
    rows = conn.execute(query).all()
    token = page_tokens.next_token(offset, max_results, len(rows), fingerprint)
    return to_wire_many(conn, rows[:max_results]), token

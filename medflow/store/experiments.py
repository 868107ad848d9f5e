"""SQL for experiments and their tags. Returns MLflow-shaped dicts."""
from __future__ import annotations

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from medflow.errors import MedflowError
from medflow.store.engine import is_unique_violation, upsert
from medflow.store.schema import experiment_tags, experiments

ACTIVE, DELETED = "active", "deleted"


def _to_wire(row, tags: list[dict]) -> dict:
    exp = {"experiment_id": str(row.experiment_id), "name": row.name,
           "artifact_location": row.artifact_location, "lifecycle_stage": row.lifecycle_stage,
           "creation_time": row.creation_time, "last_update_time": row.last_update_time}
    if tags:
        exp["tags"] = tags
    return exp


def create(conn: Connection, *, name: str, artifact_location: str | None, tags: list[dict],
           now: int, workspace: str = "default") -> int:
    try:
        experiment_id = conn.execute(
            insert(experiments).values(workspace=workspace, name=name, artifact_location="",
                                       lifecycle_stage=ACTIVE, creation_time=now, last_update_time=now)
            .returning(experiments.c.experiment_id)).scalar_one()
    except IntegrityError as exc:
        if is_unique_violation(exc):
            raise MedflowError.already_exists(
                f"Experiment(name={name}) already exists. Choose another name, or use "
                "get-by-name / mlflow.set_experiment to reuse it.") from None
        raise
    location = artifact_location or f"mlflow-artifacts:/{experiment_id}"
    conn.execute(update(experiments).where(experiments.c.experiment_id == experiment_id)
                 .values(artifact_location=location))
    if tags:
        conn.execute(insert(experiment_tags),
                     [{"experiment_id": experiment_id, "key": t["key"], "value": t["value"]} for t in tags])
    return experiment_id


def tags_for(conn: Connection, ids: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    if not ids:
        return out
    rows = conn.execute(select(experiment_tags).where(experiment_tags.c.experiment_id.in_(ids))
                        .order_by(experiment_tags.c.key))
    for row in rows:
        out.setdefault(row.experiment_id, []).append({"key": row.key, "value": row.value})
    return out


def get_row(conn: Connection, experiment_id: int):
    return conn.execute(select(experiments).where(experiments.c.experiment_id == experiment_id)).first()


def get(conn: Connection, experiment_id: int) -> dict:
    row = get_row(conn, experiment_id)
    if row is None:
        raise MedflowError.not_found(f"No Experiment with id={experiment_id} exists")
    return _to_wire(row, tags_for(conn, [experiment_id]).get(experiment_id, []))


def get_by_name(conn: Connection, name: str, workspace: str = "default") -> dict:
    row = conn.execute(select(experiments).where(experiments.c.workspace == workspace,
                                                 experiments.c.name == name)).first()
    if row is None:
        raise MedflowError.not_found(f"Could not find experiment with name '{name}'")
    return _to_wire(row, tags_for(conn, [row.experiment_id]).get(row.experiment_id, []))


def to_wire_many(conn: Connection, rows) -> list[dict]:
    tags = tags_for(conn, [r.experiment_id for r in rows])
    return [_to_wire(r, tags.get(r.experiment_id, [])) for r in rows]


def set_fields(conn: Connection, experiment_id: int, now: int, **values) -> None:
    try:
        conn.execute(update(experiments).where(experiments.c.experiment_id == experiment_id)
                     .values(last_update_time=now, **values))
    except IntegrityError as exc:
        if is_unique_violation(exc) and "name" in values:
            raise MedflowError.already_exists(
                f"Experiment(name={values['name']}) already exists. Choose another name.") from None
        raise


def get_tag(conn: Connection, experiment_id: int, key: str) -> str | None:
    return conn.execute(select(experiment_tags.c.value).where(
        experiment_tags.c.experiment_id == experiment_id, experiment_tags.c.key == key)).scalar()


def set_tag(conn: Connection, experiment_id: int, key: str, value: str) -> None:
    upsert(conn, experiment_tags, [{"experiment_id": experiment_id, "key": key, "value": value}],
           ["experiment_id", "key"], ["value"])


def delete_tag(conn: Connection, experiment_id: int, key: str) -> bool:
    result = conn.execute(delete(experiment_tags).where(experiment_tags.c.experiment_id == experiment_id,
                                                        experiment_tags.c.key == key))
    return result.rowcount > 0


def count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(experiments)).scalar_one()

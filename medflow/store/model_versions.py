"""SQL for model versions and their tags. Returns MLflow-shaped dicts.

A deleted version keeps its row (deleted = true): version numbers are never reused, and the
record of what was registered stays for the audit trail. Every read filters deleted rows out.
"""
from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, tuple_, update

from medflow.errors import MedflowError
from medflow.store.direct import DirectStatement
from medflow.store.engine import upsert
from medflow.store.schema import (logged_models, model_version_tags, model_versions,
                                  registered_model_aliases, registered_models, runs)

STAGES = ("None", "Staging", "Production", "Archived")
ACTIVE_STAGES = ("Staging", "Production")
STATUS_READY = "READY"


def not_found(name: str, version) -> MedflowError:
    return MedflowError.not_found(f"Model Version (name={name}, version={version}) not found")


def select_versions():
    """model_versions rows with their registered model's name."""
    return (select(model_versions, registered_models.c.name)
            .join(registered_models, registered_models.c.id == model_versions.c.model_pk))


def get_row(conn: Connection, pk: int, version: int):
    return conn.execute(select_versions().where(model_versions.c.model_pk == pk,
                                                model_versions.c.version == version,
                                                model_versions.c.deleted.is_(False))).first()


def require(conn: Connection, model_row, version: int):
    row = get_row(conn, model_row.id, version)
    if row is None:
        raise not_found(model_row.name, version)
    return row


def create(conn: Connection, *, name: str, workspace: str, now: int, source: str, storage_location: str,
           run_id: str | None, run_link: str | None, model_id: str | None, description: str | None,
           tags: dict[str, str], creator: str | None) -> dict | None:
    """Insert the next version of the model `name` and return it as MLflow sends it; None if
    there is no such model.

    The model row hands out the number (last_version + 1, in the UPDATE that also touches it and
    takes its row lock): a registration that waited for that lock reads the number the other
    one left. On PostgreSQL the version is inserted in the same statement. Nothing is read back:
    a new version has no aliases, and everything else is known here. `creator` (who registered
    it: separation of duties bars them from approving it) is stored as user_id; the response
    keeps MLflow's exact shape, whose create answer carries no user_id.
    """
    values = {"creation_timestamp": now, "last_updated_timestamp": now, "description": description,
              "current_stage": "None", "source": source, "storage_location": storage_location, "run_id": run_id,
              "run_link": run_link, "model_id": model_id, "status": STATUS_READY, "deleted": False}
    params = {"b_" + k: v for k, v in values.items()} | {
        "b_user_id": creator[:256] if creator else None, "b_name": name, "b_workspace": workspace, "b_now": now}
    if conn.dialect.name == "postgresql":
        created = _PG_INSERT_NEXT_VERSION.first(conn, params)
    else:
        numbered = _NEXT_NUMBER.first(conn, params)
        created = numbered and _INSERT_VERSION.first(conn, params | {"b_model_pk": numbered[0],
                                                                     "b_version": numbered[1]})
    if created is None:
        return None
    pk, version = created
    if tags:
        conn.execute(insert(model_version_tags),
                     [{"model_pk": pk, "version": version, "key": k, "value": v} for k, v in tags.items()])
    row = SimpleNamespace(**values, model_pk=pk, version=version, name=name, user_id=None, status_message=None)
    return _wire(row, [{"key": k, "value": v} for k, v in sorted(tags.items())], [])


# Built once (registering is a hot path for CI pipelines). Bind names differ from column names,
# which SQLAlchemy reserves for an INSERT's own VALUES.
_VALUE_COLUMNS = ("creation_timestamp", "last_updated_timestamp", "description", "current_stage", "source",
                  "storage_location", "run_id", "run_link", "model_id", "status", "deleted", "user_id")
_VALUES = [bindparam("b_" + c, type_=model_versions.c[c].type).label(c) for c in _VALUE_COLUMNS]
_NUMBER = (update(registered_models)
           .where(registered_models.c.workspace == bindparam("b_workspace"),
                  registered_models.c.name == bindparam("b_name"))
           .values(last_updated_timestamp=bindparam("b_now"), last_version=registered_models.c.last_version + 1)
           .returning(registered_models.c.id, registered_models.c.last_version))
_NEXT_NUMBER = DirectStatement(_NUMBER)


def _insert_version(model_pk, version):
    return (insert(model_versions)
            .from_select([*_VALUE_COLUMNS, "model_pk", "version"], select(*_VALUES, model_pk, version))
            .returning(model_versions.c.model_pk, model_versions.c.version))


_INSERT_VERSION = DirectStatement(_insert_version(bindparam("b_model_pk", type_=model_versions.c.model_pk.type),
                                                  bindparam("b_version", type_=model_versions.c.version.type)))
_NUMBERED = _NUMBER.cte("numbered")
_PG_INSERT_NEXT_VERSION = DirectStatement(_insert_version(_NUMBERED.c.id, _NUMBERED.c.last_version))


def _where(pk: int, version: int):
    return and_(model_versions.c.model_pk == pk, model_versions.c.version == version)


def set_description(conn: Connection, pk: int, version: int, description: str | None, now: int) -> None:
    conn.execute(update(model_versions).where(_where(pk, version))
                 .values(description=description, last_updated_timestamp=now))


def transition(conn: Connection, pk: int, version: int, stage: str, archive_others: bool, now: int) -> list[int]:
    """Move a version to `stage`; returns the versions archived on the way (archive_others)."""
    archived = []
    if archive_others:
        archived = conn.execute(
            update(model_versions)
            .where(model_versions.c.model_pk == pk, model_versions.c.version != version,
                   model_versions.c.current_stage == stage, model_versions.c.deleted.is_(False))
            .values(current_stage="Archived", last_updated_timestamp=now)
            .returning(model_versions.c.version)).scalars().all()
    conn.execute(update(model_versions).where(_where(pk, version))
                 .values(current_stage=stage, last_updated_timestamp=now))
    return sorted(archived)


def mark_deleted(conn: Connection, pk: int, version: int, now: int) -> list[str]:
    """Delete a version (its row stays, flagged) and the aliases on it; returns those aliases."""
    conn.execute(update(model_versions).where(_where(pk, version))
                 .values(deleted=True, last_updated_timestamp=now))
    return sorted(conn.execute(delete(registered_model_aliases)
                               .where(registered_model_aliases.c.model_pk == pk,
                                      registered_model_aliases.c.version == version)
                               .returning(registered_model_aliases.c.alias)).scalars().all())


def set_tag(conn: Connection, pk: int, version: int, key: str, value: str) -> None:
    upsert(conn, model_version_tags, [{"model_pk": pk, "version": version, "key": key, "value": value}],
           ["model_pk", "version", "key"], ["value"])


def tag_value(conn: Connection, pk: int, version: int, key: str) -> str | None:
    return conn.execute(select(model_version_tags.c.value).where(
        model_version_tags.c.model_pk == pk, model_version_tags.c.version == version,
        model_version_tags.c.key == key)).scalar()


def delete_tag(conn: Connection, pk: int, version: int, key: str) -> None:
    conn.execute(delete(model_version_tags).where(model_version_tags.c.model_pk == pk,
                                                  model_version_tags.c.version == version,
                                                  model_version_tags.c.key == key))


# --- reading many versions at once -----------------------------------------------------------

_CHUNK = 500  # (model, version) pairs per IN list: 1,000 bind parameters, far below both limits


def _chunks(keys: list[tuple[int, int]]):
    for start in range(0, len(keys), _CHUNK):
        yield keys[start:start + _CHUNK]


def _tags_for(conn: Connection, keys: list[tuple[int, int]]) -> dict[tuple[int, int], list[dict]]:
    out: dict[tuple[int, int], list[dict]] = {}
    for chunk in _chunks(keys):
        rows = conn.execute(select(model_version_tags)
                            .where(tuple_(model_version_tags.c.model_pk, model_version_tags.c.version).in_(chunk))
                            .order_by(model_version_tags.c.key))
        for row in rows:
            out.setdefault((row.model_pk, row.version), []).append({"key": row.key, "value": row.value})
    return out


def _aliases_for(conn: Connection, keys: list[tuple[int, int]]) -> dict[tuple[int, int], list[str]]:
    out: dict[tuple[int, int], list[str]] = {}
    for chunk in _chunks(keys):
        rows = conn.execute(select(registered_model_aliases)
                            .where(tuple_(registered_model_aliases.c.model_pk,
                                          registered_model_aliases.c.version).in_(chunk))
                            .order_by(registered_model_aliases.c.alias))
        for row in rows:
            out.setdefault((row.model_pk, row.version), []).append(row.alias)
    return out


def _wire(row, tags: list[dict], aliases: list[str]) -> dict:
    mv = {"name": row.name, "version": str(row.version), "creation_timestamp": row.creation_timestamp,
          "last_updated_timestamp": row.last_updated_timestamp, "current_stage": row.current_stage,
          "description": row.description or "", "source": row.source, "run_id": row.run_id or "",
          "status": row.status, "run_link": row.run_link or ""}
    if row.user_id:
        mv["user_id"] = row.user_id
    if row.status_message:
        mv["status_message"] = row.status_message
    if tags:
        mv["tags"] = tags
    if aliases:
        mv["aliases"] = aliases
    return mv


def to_wire_many(conn: Connection, rows, *, with_aliases: bool = True) -> list[dict]:
    """Versions with tags (and aliases): two queries per 500 versions, however many there are."""
    keys = list({(r.model_pk, r.version) for r in rows})
    tags = _tags_for(conn, keys)
    aliases = _aliases_for(conn, keys) if with_aliases else {}
    return [_wire(r, tags.get((r.model_pk, r.version), []), aliases.get((r.model_pk, r.version), []))
            for r in rows]


def to_wire(conn: Connection, row) -> dict:
    return to_wire_many(conn, [row])[0]


def latest_per_stage(conn: Connection, pks: list[int], *, with_aliases: bool = False) -> dict[int, list[dict]]:
    """For each model, the highest live version in each stage, in version order.

    As in MLflow, the latest_versions of a registered model carry tags but no aliases;
    get-latest-versions asks for the aliases too.
    """
    if not pks:
        return {}
    latest = (select(model_versions.c.model_pk, func.max(model_versions.c.version).label("version"))
              .where(model_versions.c.model_pk.in_(pks), model_versions.c.deleted.is_(False))
              .group_by(model_versions.c.model_pk, model_versions.c.current_stage)
              .subquery())
    rows = conn.execute(select_versions()
                        .join(latest, and_(latest.c.model_pk == model_versions.c.model_pk,
                                           latest.c.version == model_versions.c.version))
                        .order_by(model_versions.c.model_pk, model_versions.c.version)).all()
    out: dict[int, list[dict]] = {}
    for row, wire in zip(rows, to_wire_many(conn, rows, with_aliases=with_aliases)):
        out.setdefault(row.model_pk, []).append(wire)
    return out


# --- what a version's source points at (runs and logged models are read, never written) ------

def run_row(conn: Connection, run_id: str, logged_model_name: str = ""):
    """The run, and as `logged_model_location` where the newest logged model it produced under
    `logged_model_name` keeps its artifacts (None if none): a runs:/ source needs both, in one query."""
    return _RUN_ROW.first(conn, {"run_uuid": run_id, "name": logged_model_name})


_LOGGED_MODEL_LOCATION = (select(logged_models.c.artifact_location)
                          .where(logged_models.c.source_run_id == runs.c.run_uuid,
                                 logged_models.c.name == bindparam("name"),
                                 logged_models.c.lifecycle_stage != "deleted")
                          .order_by(logged_models.c.creation_timestamp_ms.desc()).limit(1)
                          .correlate(runs).scalar_subquery())
_RUN_ROW = DirectStatement(select(runs.c.run_uuid, runs.c.experiment_id, runs.c.artifact_uri, runs.c.lifecycle_stage,
                                  _LOGGED_MODEL_LOCATION.label("logged_model_location"))
                           .where(runs.c.run_uuid == bindparam("run_uuid")))


def logged_model_row(conn: Connection, model_id: str):
    return conn.execute(select(logged_models).where(logged_models.c.model_id == model_id,
                                                    logged_models.c.lifecycle_stage != "deleted")).first()



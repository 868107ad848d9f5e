"""SQL for registered models, their tags and aliases. Returns MLflow-shaped dicts.

A registered model has a surrogate id (`model_pk` in the child tables), so a rename updates
one row and every lookup by name goes through the (workspace, name) unique index.
"""
from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from medflow.errors import MedflowError
from medflow.store import model_versions as versions
from medflow.store.accounts import bump_generation
from medflow.store.engine import is_unique_violation, upsert
from medflow.store.schema import (model_version_tags, model_versions, registered_model_aliases,
                                  registered_model_tags, registered_models)

DEFAULT_WORKSPACE = "default"


def not_found(name: str) -> MedflowError:
    return MedflowError.not_found(f"Registered Model with name={name} not found")


def already_exists(name: str) -> MedflowError:
    return MedflowError.already_exists(
        f"Registered Model (name={name}) already exists. Choose another name, or add a version "
        "to the existing model with model-versions/create.")


def get_row(conn: Connection, name: str, workspace: str = DEFAULT_WORKSPACE):
    return conn.execute(select(registered_models).where(
        registered_models.c.workspace == workspace, registered_models.c.name == name)).first()


def require(conn: Connection, name: str, workspace: str = DEFAULT_WORKSPACE):
    row = get_row(conn, name, workspace)
    if row is None:
        raise not_found(name)
    return row


def lock(conn: Connection, name: str, workspace: str = DEFAULT_WORKSPACE):
    """The model's row, locked until the transaction ends (PostgreSQL; SQLite serialises writers).

    Writes that touch a model's versions or aliases take this lock first, so they never
    interleave with a version create, a delete or a rename of the same model.
    """
    row = conn.execute(select(registered_models).where(
        registered_models.c.workspace == workspace, registered_models.c.name == name)
        .with_for_update()).first()
    if row is None:
        raise not_found(name)
    return row


def touch(conn: Connection, pk: int, now: int) -> None:
    conn.execute(update(registered_models).where(registered_models.c.id == pk)
                 .values(last_updated_timestamp=now))


def create(conn: Connection, *, name: str, description: str | None, tags: dict[str, str], now: int,
           workspace: str = DEFAULT_WORKSPACE):
    try:
        pk = conn.execute(insert(registered_models).values(
            workspace=workspace, name=name, description=description,
            creation_timestamp=now, last_updated_timestamp=now).returning(registered_models.c.id)).scalar_one()
    except IntegrityError as exc:
        if is_unique_violation(exc):
            raise already_exists(name) from None
        raise
    if tags:
        conn.execute(insert(registered_model_tags),
                     [{"model_pk": pk, "key": k, "value": v} for k, v in tags.items()])
    return conn.execute(select(registered_models).where(registered_models.c.id == pk)).one()


def rename(conn: Connection, pk: int, new_name: str, now: int) -> None:
    try:
        conn.execute(update(registered_models).where(registered_models.c.id == pk)
                     .values(name=new_name, last_updated_timestamp=now))
    except IntegrityError as exc:
        if is_unique_violation(exc):
            raise already_exists(new_name) from None
        raise
    # as MLflow: a rename counts as an update of every version
    conn.execute(update(model_versions).where(model_versions.c.model_pk == pk)
                 .values(last_updated_timestamp=now))
    bump_generation(conn, principals_unaffected=True)  # servers cache which model a name means per generation


def set_description(conn: Connection, pk: int, description: str | None, now: int) -> None:
    conn.execute(update(registered_models).where(registered_models.c.id == pk)
                 .values(description=description, last_updated_timestamp=now))


def delete_model(conn: Connection, pk: int) -> None:
    """The model with all its versions (deleted ones included), tags and aliases."""
    conn.execute(delete(registered_model_aliases).where(registered_model_aliases.c.model_pk == pk))
    conn.execute(delete(model_version_tags).where(model_version_tags.c.model_pk == pk))
    conn.execute(delete(model_versions).where(model_versions.c.model_pk == pk))
    conn.execute(delete(registered_model_tags).where(registered_model_tags.c.model_pk == pk))
    conn.execute(delete(registered_models).where(registered_models.c.id == pk))
    bump_generation(conn, principals_unaffected=True)  # servers cache which model a name means per generation


def set_tag(conn: Connection, pk: int, key: str, value: str) -> None:
    upsert(conn, registered_model_tags, [{"model_pk": pk, "key": key, "value": value}],
           ["model_pk", "key"], ["value"])


def delete_tag(conn: Connection, pk: int, key: str) -> None:
    conn.execute(delete(registered_model_tags).where(registered_model_tags.c.model_pk == pk,
                                                     registered_model_tags.c.key == key))


def tag_value(conn: Connection, pk: int, key: str) -> str | None:
    return conn.execute(select(registered_model_tags.c.value).where(
        registered_model_tags.c.model_pk == pk, registered_model_tags.c.key == key)).scalar()


def set_alias(conn: Connection, pk: int, alias: str, version: int) -> None:
    upsert(conn, registered_model_aliases, [{"model_pk": pk, "alias": alias, "version": version}],
           ["model_pk", "alias"], ["version"])


def delete_alias(conn: Connection, pk: int, alias: str) -> None:
    conn.execute(delete(registered_model_aliases).where(registered_model_aliases.c.model_pk == pk,
                                                        registered_model_aliases.c.alias == alias))


def alias_version(conn: Connection, pk: int, alias: str) -> int | None:
    return conn.execute(select(registered_model_aliases.c.version).where(
        registered_model_aliases.c.model_pk == pk, registered_model_aliases.c.alias == alias)).scalar()


# --- reading many models at once -------------------------------------------------------------

def _tags_for(conn: Connection, pks: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    rows = conn.execute(select(registered_model_tags).where(registered_model_tags.c.model_pk.in_(pks))
                        .order_by(registered_model_tags.c.model_pk, registered_model_tags.c.key))
    for row in rows:
        out.setdefault(row.model_pk, []).append({"key": row.key, "value": row.value})
    return out


def _aliases_for(conn: Connection, pks: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    rows = conn.execute(select(registered_model_aliases)
                        .where(registered_model_aliases.c.model_pk.in_(pks))
                        .order_by(registered_model_aliases.c.model_pk, registered_model_aliases.c.alias))
    for row in rows:
        out.setdefault(row.model_pk, []).append({"alias": row.alias, "version": str(row.version)})
    return out


def to_wire_many(conn: Connection, rows) -> list[dict]:
    """Registered models with tags, aliases and latest_versions: three queries for any page."""
    if not rows:
        return []
    pks = [r.id for r in rows]
    tags, aliases = _tags_for(conn, pks), _aliases_for(conn, pks)
    latest = versions.latest_per_stage(conn, pks)
    out = []
    for row in rows:
        model = {"name": row.name, "creation_timestamp": row.creation_timestamp,
                 "last_updated_timestamp": row.last_updated_timestamp}
        if row.description:
            model["description"] = row.description
        if latest.get(row.id):
            model["latest_versions"] = latest[row.id]
        if tags.get(row.id):
            model["tags"] = tags[row.id]
        if aliases.get(row.id):
            model["aliases"] = aliases[row.id]
        out.append(model)
    return out


def to_wire(conn: Connection, row) -> dict:
    return to_wire_many(conn, [row])[0]

"""Alembic migrations: one chain for the whole schema.

The server creates a fresh database at first start; an existing database on an older
revision is only ever upgraded by `medflow db upgrade`, and a newer one is refused.
"""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from medflow.errors import INVALID_STATE, MedflowError
from medflow.store.engine import Database

HERE = Path(__file__).parent


def _config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["engine"] = db.engine
    return cfg


def head_revision(db: Database) -> str:
    return ScriptDirectory.from_config(_config(db)).get_current_head()


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database) -> None:
    command.upgrade(_config(db), "head")


def prepare_for_serving(db: Database) -> None:
    """Create a fresh database, or refuse to serve one whose schema does not match the code."""
    current = current_revision(db)
    head = head_revision(db)
    if current == head:
        return
    if current is None:
        if inspect(db.engine).get_table_names():
            raise MedflowError(INVALID_STATE,
                               "The backend store holds tables but no MedFlow schema revision: "
                               "point MedFlow at an empty database, or import an MLflow database "
                               "with `medflow import`.")
        upgrade(db)
        return
    known = {rev.revision for rev in ScriptDirectory.from_config(_config(db)).walk_revisions()}
    if current not in known:
        raise MedflowError(INVALID_STATE,
                           f"The database schema (revision {current}) is newer than this MedFlow "
                           f"(head {head}). Upgrade MedFlow before serving this database.")
    raise MedflowError(INVALID_STATE,
                       f"The database schema is at revision {current}, this MedFlow needs {head}. "
                       "Back up the database, then run `medflow db upgrade` with the same "
                       "--backend-store-uri.")

"""Schema migrations on both backends: fresh create, upgrade only on request, refuse newer."""
from __future__ import annotations

import subprocess
import sys

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from medflow.store import migrations
from medflow.store import model_versions as version_store
from medflow.store.schema import metadata
from tests.conftest import BACKENDS, fresh_database
from tests.servers import start_server


@pytest.fixture(params=BACKENDS)
def empty_db(request, tmp_path):
    with fresh_database(request.param, tmp_path, migrate=False) as created:
        yield created


def _full_metadata():
    import importlib
    import pkgutil

    import medflow.store as store_pkg
    for module in pkgutil.iter_modules(store_pkg.__path__):
        if module.name.startswith("schema"):
            importlib.import_module(f"medflow.store.{module.name}")  # tables register on `metadata`
    return metadata


def test_migrations_create_exactly_the_declared_schema(empty_db):
    db, _ = empty_db
    migrations.prepare_for_serving(db)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), _full_metadata())
    summary = [(d[0], getattr(d[1], "name", d[1])) if isinstance(d, tuple) else d for d in diff]
    assert diff == [], f"migrations and medflow/store/schema*.py differ: {summary}"


def test_fresh_database_gets_default_experiment(empty_db):
    db, _ = empty_db
    migrations.prepare_for_serving(db)
    with db.read() as conn:
        assert conn.execute(text("SELECT name FROM experiments WHERE experiment_id = 0")).scalar() == "Default"


def test_older_schema_is_refused_until_db_upgrade(empty_db, tmp_path):
    db, url = empty_db
    command.upgrade(migrations._config(db), "0001")
    with pytest.raises(Exception, match="medflow db upgrade"):
        migrations.prepare_for_serving(db)
    server = subprocess.run([sys.executable, "-m", "medflow", "server", "--port", "1",
                             "--backend-store-uri", url, "--data-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert server.returncode != 0 and "medflow db upgrade" in server.stderr
    upgrade = subprocess.run([sys.executable, "-m", "medflow", "db", "upgrade", "--backend-store-uri", url],
                             capture_output=True, text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    assert migrations.current_revision(db) == migrations.head_revision(db)
    running = start_server(tmp_path / "srv", "sqlite" if url.startswith("sqlite") else "postgresql", url)
    running.stop()


def test_newer_schema_is_refused(empty_db):
    db, _ = empty_db
    migrations.prepare_for_serving(db)
    with db.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(Exception, match="newer than this MedFlow"):
        migrations.prepare_for_serving(db)


def test_tables_without_medflow_revision_are_refused(empty_db):
    db, _ = empty_db
    with db.write() as conn:
        conn.execute(text("CREATE TABLE somebody_elses (id integer)"))
    with pytest.raises(Exception, match="no MedFlow schema revision"):
        migrations.prepare_for_serving(db)


def test_upgrade_to_0007_continues_each_models_version_numbers(empty_db):
    """Models registered before registered_models.last_version existed go on from their highest
    version, deleted ones included (numbers are never reused)."""
    db, _ = empty_db
    command.upgrade(migrations._config(db), "0006")
    with db.write() as conn:
        for pk, name in ((1, "sepsis"), (2, "stroke"), (3, "empty")):
            conn.execute(text("INSERT INTO registered_models (id, workspace, name, creation_timestamp, "
                              "last_updated_timestamp) VALUES (:pk, 'default', :name, 1, 1)"), {"pk": pk, "name": name})
        for pk, version, deleted in ((1, 1, False), (1, 2, False), (1, 3, True), (2, 1, False)):
            conn.execute(text("INSERT INTO model_versions (model_pk, version, creation_timestamp, "
                              "last_updated_timestamp, current_stage, source, storage_location, status, deleted) "
                              "VALUES (:pk, :v, 1, 1, 'None', 's', 's', 'READY', :d)"),
                         {"pk": pk, "v": version, "d": deleted})
    command.upgrade(migrations._config(db), "head")
    with db.write() as conn:
        created = {name: version_store.create(conn, name=name, workspace="default", now=2, source="s",
                                              storage_location="s", run_id=None, run_link=None, model_id=None,
                                              description=None, tags={}, creator=None)["version"]
                   for name in ("sepsis", "stroke", "empty")}
    assert created == {"sepsis": "4", "stroke": "2", "empty": "1"}

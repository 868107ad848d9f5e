"""A database with a real MedFlow schema on each backend, for audit tests that do not need HTTP."""
from __future__ import annotations

import pytest

from medflow.store import migrations
from medflow.store.engine import Database
from tests.conftest import postgres_admin
from tests.servers import sqlite_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """(Database, url) on a fresh, migrated database; dropped afterwards."""
    if request.param == "postgresql":
        admin = postgres_admin()
        name, url = admin.create_database()
    else:
        name, url = None, sqlite_url(tmp_path)
    db = Database(url)
    migrations.prepare_for_serving(db)
    try:
        yield db, url
    finally:
        db.dispose()
        if name:
            admin.drop_database(name)

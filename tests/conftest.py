"""Shared fixtures: a real server process per test module and backend, PostgreSQL, S3.

`backend` runs each test that uses it on SQLite and on PostgreSQL. When PostgreSQL cannot be
reached the PostgreSQL variants skip, or fail when MEDFLOW_REQUIRE_POSTGRES=1 (as in CI).
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import pytest

from tests import servers

BACKENDS = ["sqlite", "postgresql"]


def pytest_configure(config):
    """Every test server runs with authentication on; clients get the test admin's credentials
    from the environment, as a user of the official client would (see tests/servers.py)."""
    import tempfile
    from pathlib import Path

    netrc = Path(tempfile.mkdtemp(prefix="medflow-tests-")) / "netrc"
    os.environ.update(servers.client_credentials_env(netrc))


def postgres_admin() -> servers.PostgresAdmin:
    """The local PostgreSQL, or skip (fail under MEDFLOW_REQUIRE_POSTGRES=1) the calling test."""
    try:
        return servers.PostgresAdmin.connect()
    except servers.PostgresUnavailable as e:
        if os.environ.get("MEDFLOW_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{e}, and MEDFLOW_REQUIRE_POSTGRES=1", pytrace=False)
        pytest.skip(f"{e}; set MEDFLOW_REQUIRE_POSTGRES=1 to make this a failure")


@contextmanager
def fresh_database(backend: str, data_dir, *, migrate: bool = True):
    """(Database, url) on a new database of `backend` (dropped afterwards), migrated unless told not to."""
    from medflow.store import migrations
    from medflow.store.engine import Database

    if backend == "postgresql":
        admin = postgres_admin()
        name, url = admin.create_database()
    else:
        name, url = None, servers.sqlite_url(data_dir)
    db = Database(url)
    try:
        if migrate:
            migrations.prepare_for_serving(db)
        yield db, url
    finally:
        db.dispose()
        if name:
            admin.drop_database(name)


@contextmanager
def replica_servers(backend: str, data_dir, count: int = 2):
    """`count` server processes on one new database (dropped afterwards): replicas behind a balancer."""
    admin = postgres_admin() if backend == "postgresql" else None
    db_name, db_url = admin.create_database() if admin else (None, servers.sqlite_url(data_dir))
    started = []
    try:
        for i in range(count):
            started.append(servers.start_server(data_dir / f"replica-{i}", backend, db_url, str(data_dir / "artifacts")))
        yield started
    finally:
        for server in started:
            server.stop()
        if db_name:
            admin.drop_database(db_name)


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def server_factory(tmp_path_factory):
    """`with server_factory(backend, name, **kwargs) as server:` a fresh database and server process."""

    @contextmanager
    def start(backend: str, name: str, artifacts_destination: str | None = None,
              env: dict[str, str] | None = None):
        data_dir = tmp_path_factory.mktemp(f"{name}-{backend}")
        db_name = None
        if backend == "postgresql":
            admin = postgres_admin()
            db_name, db_url = admin.create_database()
        else:
            db_url = servers.sqlite_url(data_dir)
        try:
            server = servers.start_server(data_dir, backend, db_url, artifacts_destination, env)
            try:
                yield server
            finally:
                server.stop()
        finally:
            if db_name:
                admin.drop_database(db_name)

    return start


@pytest.fixture(scope="module")
def medflow_server(request, backend, server_factory):
    """One server process per test module and backend: .url .backend .data_dir .db_url .log_path"""
    with server_factory(backend, request.module.__name__.rsplit(".", 1)[-1]) as server:
        yield server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    server = servers.start_s3_server(tmp_path_factory.mktemp("s3"))
    yield server
    server.stop()

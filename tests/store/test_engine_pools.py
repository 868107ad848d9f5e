"""The connection pools of medflow/store/engine.py hand out the connection used last (LIFO), on real
SQLite and PostgreSQL: after a burst of concurrent requests, a sequential client keeps one warm
connection (its page cache, its PostgreSQL backend) instead of cycling through every pooled one."""
from __future__ import annotations

import contextlib

import pytest

from tests.conftest import BACKENDS, fresh_database


@pytest.fixture(scope="module", params=BACKENDS)
def db(request, tmp_path_factory):
    with fresh_database(request.param, tmp_path_factory.mktemp("pool-db")) as (database, _):
        yield database


def _driver_connection(conn):
    return conn.connection.dbapi_connection


def test_after_a_burst_the_connection_returned_last_is_reused(db):
    # SQLite has a single writer connection: only its read pool has a choice to make
    for transaction in ("read", "write") if db.dialect == "postgresql" else ("read",):
        with contextlib.ExitStack() as burst:  # three requests at once: three pooled connections
            opened = [_driver_connection(burst.enter_context(getattr(db, transaction)())) for _ in range(3)]
        assert len({id(c) for c in opened}) == 3
        # ExitStack closes in reverse: the first one opened went back to the pool last
        for _ in range(5):
            with getattr(db, transaction)() as conn:
                assert _driver_connection(conn) is opened[0], transaction

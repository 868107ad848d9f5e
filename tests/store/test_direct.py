"""DirectStatement (medflow/store/direct.py) against real SQLite and PostgreSQL: it must answer
exactly as SQLAlchemy's own execution does, inside the caller's transaction, and fail as it does."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import Boolean, bindparam, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from medflow.store.direct import DirectStatement
from medflow.store.engine import is_unique_violation
from medflow.store.schema_accounts import accounts
from tests.conftest import BACKENDS, fresh_database


@pytest.fixture(scope="module", params=BACKENDS)
def db(request, tmp_path_factory):
    with fresh_database(request.param, tmp_path_factory.mktemp("direct-db")) as (database, _):
        yield database


_INSERT = DirectStatement(insert(accounts).values(username=bindparam("name"), creation_time=bindparam("now"),
                                                  break_glass_allowed=bindparam("glass", type_=Boolean()))
                          .returning(accounts.c.account_id, accounts.c.break_glass_allowed))
# A literal the statement binds itself ('active'), a Boolean (an integer in SQLite), a NULL column.
_QUERY = select(accounts.c.account_id, accounts.c.username, accounts.c.break_glass_allowed, accounts.c.locked_time) \
    .where(accounts.c.username == bindparam("name"), accounts.c.status == "active")
_SELECT = DirectStatement(_QUERY)


def test_rows_are_what_sqlalchemy_returns(db):
    with db.write() as conn:
        created = _INSERT.first(conn, {"name": "direct-a", "now": 1, "glass": True})
    assert created.break_glass_allowed is True
    with db.read() as conn:
        direct = _SELECT.first(conn, {"name": "direct-a"})
        via_sqlalchemy = conn.execute(_QUERY, {"name": "direct-a"}).first()
        missing = _SELECT.first(conn, {"name": "nobody"})
    assert tuple(direct) == tuple(via_sqlalchemy) == (created.account_id, "direct-a", True, None)
    assert (direct.username, direct.break_glass_allowed, direct.locked_time) == ("direct-a", True, None)
    assert missing is None


def test_it_runs_in_the_callers_transaction(db):
    with pytest.raises(RuntimeError):
        with db.write() as conn:
            assert _INSERT.first(conn, {"name": "direct-rolled-back", "now": 1, "glass": False}) is not None
            assert _SELECT.first(conn, {"name": "direct-rolled-back"}) is not None  # visible inside
            raise RuntimeError("abort the transaction")
    with db.read() as conn:
        assert _SELECT.first(conn, {"name": "direct-rolled-back"}) is None


def test_driver_errors_are_sqlalchemys(db):
    with db.write() as conn:
        _INSERT.first(conn, {"name": "direct-twice", "now": 1, "glass": False})
    with pytest.raises(IntegrityError) as raised:
        with db.write() as conn:
            _INSERT.first(conn, {"name": "direct-twice", "now": 2, "glass": False})
    assert is_unique_violation(raised.value)
    assert "[parameters:" not in str(raised.value)  # as with hide_parameters: values stay out of the log


@pytest.fixture(scope="module")
def postgresql_db(tmp_path_factory):
    with fresh_database("postgresql", tmp_path_factory.mktemp("direct-pg")) as (database, _):
        yield database


def test_a_dropped_postgresql_connection_is_replaced(postgresql_db, caplog):
    """The error says the connection was invalidated, the pool opens a new one, nothing is logged."""
    db = postgresql_db
    with db.write() as conn:
        _INSERT.first(conn, {"name": "direct-b", "now": 1, "glass": False})
    with db.read() as conn:  # the read pool's one connection so far
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with db.write() as conn:  # another pool, another backend
        assert conn.execute(text(f"SELECT pg_terminate_backend({pid})")).scalar_one()
    with pytest.raises(DBAPIError) as raised:
        with db.read() as conn:
            _SELECT.first(conn, {"name": "direct-b"})
    assert raised.value.connection_invalidated
    with db.read() as conn:  # the pool opened a new one
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
        assert _SELECT.first(conn, {"name": "direct-b"}) is not None
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []

"""Database errors as the server logs them: real constraint violations on both backends, through
the engines MedFlow creates, formatted by the server's log formatter. PostgreSQL quotes the
offending values in a DETAIL line; those never reach the log (they can be PHI)."""
from __future__ import annotations

import logging
import sys

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from medflow.store.error_text import WITHHELD, ValueWithholdingFormatter
from medflow.store.schema_accounts import accounts
from tests.conftest import BACKENDS, fresh_database

SYNTHETIC_NAME = "jane-doe-mrn-0000000"  # synthetic, stands for a value a client sent


@pytest.fixture(scope="module", params=BACKENDS)
def db(request, tmp_path_factory):
    with fresh_database(request.param, tmp_path_factory.mktemp("error-text-db")) as (database, _):
        yield database


def _logged(db, values: dict) -> str:
    """What the server log shows for the statement's failure, traceback included."""
    try:
        with db.write() as conn:
            conn.execute(insert(accounts).values(**values))
    except IntegrityError:
        record = logging.LogRecord("medflow.api", logging.ERROR, __file__, 1, "internal error (request id %s)",
                                   ("r1",), sys.exc_info())
        return ValueWithholdingFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    raise AssertionError("the statement did not fail")


def test_a_unique_violation_is_logged_without_the_value(db):
    with db.write() as conn:
        conn.execute(insert(accounts).values(username=SYNTHETIC_NAME, creation_time=1))
    text = _logged(db, {"username": SYNTHETIC_NAME, "creation_time": 2})
    assert "IntegrityError" in text and "Traceback" in text
    assert SYNTHETIC_NAME not in text
    assert "uq_accounts_username" in text or "accounts.username" in text  # what failed stays diagnosable
    if db.dialect == "postgresql":
        assert f"DETAIL:  {WITHHELD}" in text


def test_a_not_null_violation_is_logged_without_the_row(db):
    text = _logged(db, {"username": SYNTHETIC_NAME + "-2", "creation_time": None})
    assert SYNTHETIC_NAME not in text  # PostgreSQL would show "Failing row contains (..., jane-doe-...)"
    assert "creation_time" in text

"""The in-transaction credential check (medflow/store/accounts_current.py) and the audit append
that carries it, on real SQLite and PostgreSQL: every change that ends a principal's credentials
or changes its access makes the check fail, and a failed check appends nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from medflow.store import accounts as account_store
from medflow.store import accounts_tokens as token_store
from medflow.store import audit as audit_store
from medflow.store.accounts_current import still_current
from medflow.store.schema import audit_events
from medflow.store.schema_accounts import accounts, api_tokens
from tests.conftest import BACKENDS, fresh_database

NOW = 1_800_000_000_000


@pytest.fixture(scope="module", params=BACKENDS)
def db(request, tmp_path_factory):
    with fresh_database(request.param, tmp_path_factory.mktemp("current-db")) as (database, _):
        yield database


@pytest.fixture
def principal(db, request):
    """Check parameters of a fresh account with a token, as a request verified them."""
    name = "current-" + request.node.name[-40:].replace("[", "-").replace("]", "")
    with db.write() as conn:
        account_id = account_store.create(conn, username=name, display_name=name, kind="service",
                                          roles=["data_scientist"], default_workspace="default",
                                          password_hash=None, now=NOW, created_by="test")
        token_id = token_store.create(conn, account_id=account_id, name="t", token_hash=f"hash-{name}",
                                      prefix="mfp_x", now=NOW, expiry_time=NOW + 60_000)
        generation = conn.execute(select(account_store.generation_subquery())).scalar_one()
    return {"confirm_account_id": account_id, "confirm_credential_version": 1, "confirm_generation": generation,
            "confirm_token_id": token_id, "confirm_now": NOW}


def check(db, params) -> bool:
    with db.read() as conn:
        return still_current(conn, params)


def test_unchanged_credentials_are_current(db, principal):
    assert check(db, principal)
    assert check(db, {**principal, "confirm_token_id": None})  # a password principal


@pytest.mark.parametrize("change", ["revoked", "expired", "locked", "deactivated", "credential_version",
                                   "generation", "other_accounts_token"])
def test_every_change_that_matters_fails_the_check(db, principal, change):
    params = dict(principal)
    with db.write() as conn:
        if change == "revoked":
            conn.execute(update(api_tokens).where(api_tokens.c.token_id == params["confirm_token_id"])
                         .values(revoked_time=NOW))
        elif change == "expired":
            params["confirm_now"] = NOW + 60_000
        elif change == "locked":
            account_store.set_fields(conn, params["confirm_account_id"], invalidate=False, locked_time=NOW)
        elif change == "deactivated":
            conn.execute(update(accounts).where(accounts.c.account_id == params["confirm_account_id"])
                         .values(status=account_store.DEACTIVATED))
        elif change == "credential_version":
            account_store.set_fields(conn, params["confirm_account_id"], invalidate=True, display_name="renamed")
        elif change == "generation":
            account_store.bump_generation(conn)
        else:
            params["confirm_account_id"] = params["confirm_account_id"] - 1 or 10**6
    assert not check(db, params)
    if change == "generation":
        assert check(db, {**principal, "confirm_generation": principal["confirm_generation"] + 1})


def _event(request_id: str) -> dict:
    return {"event_time": NOW, "request_id": request_id, "actor": "a", "actor_id": None, "auth_method": "bearer",
            "client_addr": "127.0.0.1", "action": "POST runs/set-tag", "resource_type": "run", "resource_id": "r",
            "outcome": "success", "error_code": None, "details": {}}


def _events_with(db, request_id: str) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(audit_events)
                            .where(audit_events.c.request_id == request_id)).scalar_one()


def test_the_audit_append_runs_only_while_the_credentials_are_current(db, principal):
    if db.dialect != "postgresql":
        with pytest.raises(ValueError), db.write() as conn:  # SQLite servers never use it
            audit_store.append(conn, [_event("sqlite")], confirming=principal)
        return
    with db.write() as conn:
        assert audit_store.append(conn, [_event("confirmed")], confirming=principal) is not None
    with db.write() as conn:
        account_store.bump_generation(conn)
    with db.write() as conn:
        assert audit_store.append(conn, [_event("stale")], confirming=principal) is None
    assert (_events_with(db, "confirmed"), _events_with(db, "stale")) == (1, 0)

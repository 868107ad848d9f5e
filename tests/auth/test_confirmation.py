"""medflow/auth/confirmation.py in process, on real SQLite and PostgreSQL: on PostgreSQL a write
request with credentials verified moments ago skips the look-up and is confirmed — or rolled back —
by its own transaction; on SQLite every request looks its credentials up."""
from __future__ import annotations

import base64
import contextvars
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from medflow.auth import confirmation
from medflow.auth.middleware import AuthenticationRefused, PendingAuthentication
from medflow.store import accounts as account_store
from medflow.store.schema_accounts import accounts
from tests.auth.conftest import PASSWORD, unique


@pytest.fixture(scope="module")
def db(auth_db, auth):
    database = auth_db[0]
    database.before_commit.append(confirmation.before_commit)  # as Services registers it
    yield database
    database.before_commit.remove(confirmation.before_commit)


def request(auth, headers):
    """One request's credentials, checked in its own context as each request's worker call is."""
    pending = PendingAuthentication(auth.authenticator, headers, "127.0.0.1",
                                    {"app": SimpleNamespace(state=SimpleNamespace())})
    return lambda fn: contextvars.copy_context().run(fn, pending)


def verified_token_user(auth, name):
    """A data scientist's token, verified once (so remembered on PostgreSQL): (request runner, header)."""
    auth.accounts.create_user(name, PASSWORD, actor="t", roles=["data_scientist"])
    secret, _ = auth.accounts.create_token(name, "nightly", days=1)
    header = f"Bearer {secret}"
    run = request(auth, {"authorization": header})
    run(lambda p: p.principal(recently_verified=True))
    return run, header


def display_name(db, username):
    with db.read() as conn:
        return conn.execute(select(accounts.c.display_name).where(accounts.c.username == username)).scalar_one()


def rename(db, username, value):
    """A write that records no audit event (none is set up here): confirmed by the hook alone."""
    with db.write() as conn:
        conn.execute(update(accounts).where(accounts.c.username == username).values(display_name=value))


@pytest.mark.parametrize("via", ["token", "password"])
def test_a_write_after_a_revocation_commits_nothing(db, auth, via):
    name = unique(f"confirm-{via}")
    auth.accounts.create_user(name, PASSWORD, actor="t", roles=["data_scientist"])
    secret, token = auth.accounts.create_token(name, "nightly", days=1)
    basic = base64.b64encode(f"{name}:{PASSWORD}".encode()).decode()
    headers = {"authorization": f"Bearer {secret}" if via == "token" else f"Basic {basic}"}
    run = request(auth, headers)
    assert run(lambda p: p.principal(recently_verified=True)).username == name  # verified: remembered
    if via == "token":
        auth.accounts.revoke_token(int(token["id"]))
    else:
        auth.accounts.lock(name)

    def write(pending):
        principal = pending.principal(recently_verified=True)
        claim = confirmation.current()
        if db.dialect == "sqlite":
            pytest.fail("SQLite looks credentials up on every request: this one must have been refused")
        assert claim is not None and principal.username == name  # no look-up: the claim stands in for it
        with pytest.raises(confirmation.CredentialsChanged):
            rename(db, name, "written with stale credentials")
        assert claim.failed and not claim.confirmed
        pending.reauthenticate()

    with pytest.raises(AuthenticationRefused):
        run(write)
    assert display_name(db, name) != "written with stale credentials"


def test_a_write_with_unchanged_credentials_is_confirmed_by_its_transaction(db, auth):
    name = unique("confirm-ok")
    run, _ = verified_token_user(auth, name)

    def write(pending):
        pending.principal(recently_verified=True)
        rename(db, name, "confirmed")
        return confirmation.current()

    claim = run(write)
    assert display_name(db, name) == "confirmed"
    assert (claim is not None and claim.confirmed) == (db.dialect == "postgresql")
    # a GET never uses a remembered principal
    assert run(lambda p: (p.principal(recently_verified=False), confirmation.current())[1]) is None


def bump(db):
    with db.write() as conn:
        account_store.bump_generation(conn)


def grant_and_rename(db, username, value, *, bump_elsewhere=False, principals_unaffected=False):
    """A write that moves the auth generation itself, as a create that grants its creator does."""
    if bump_elsewhere:  # another request (its own context) changes the access rules first
        contextvars.Context().run(bump, db)
    with db.write() as conn:
        account_store.bump_generation(conn, principals_unaffected=principals_unaffected)
        conn.execute(update(accounts).where(accounts.c.username == username).values(display_name=value))


@pytest.mark.parametrize("bump_elsewhere", [False, True])
def test_a_write_that_moves_the_generation_itself_is_confirmed_once(db, auth, bump_elsewhere):
    name = unique("confirm-own-bump")
    run, _ = verified_token_user(auth, name)

    def write(pending):
        pending.principal(recently_verified=True)
        claim = confirmation.current()
        try:
            grant_and_rename(db, name, "own bump", bump_elsewhere=bump_elsewhere)
        except confirmation.CredentialsChanged:
            pass
        return claim

    claim = run(write)
    if db.dialect == "sqlite":
        assert claim is None and display_name(db, name) == "own bump"  # looked up, never claimed
    elif bump_elsewhere:  # the rules changed under the request: nothing it did commits
        assert claim.failed and display_name(db, name) != "own bump"
    else:  # its own change is not mistaken for someone else's: committed on the first attempt
        assert claim.confirmed and not claim.failed and display_name(db, name) == "own bump"


@pytest.mark.parametrize("principals_unaffected", [True, False])
def test_the_remembered_principal_follows_only_changes_no_principal_sees(db, auth, principals_unaffected):
    name = unique("confirm-advance")
    run, header = verified_token_user(auth, name)
    verified = run(lambda p: p.principal(recently_verified=False)).generation

    def write(pending):
        pending.principal(recently_verified=True)
        grant_and_rename(db, name, "advanced", principals_unaffected=principals_unaffected)
        if confirmation.current() is not None:  # as medflow/api/endpoint.py does once the request is served
            pending.confirmed(confirmation.current())

    run(write)
    remembered = auth.authenticator.recent.get(header)
    if db.dialect == "sqlite":  # every request looks its credentials up: nothing is remembered
        assert remembered is None and display_name(db, name) == "advanced"
    elif principals_unaffected:  # a grant: the next write is confirmed at the generation it left
        assert remembered.generation == verified + 1
    else:  # roles, groups or workspaces may have changed: the next write is looked up again
        assert remembered.generation == verified

"""The users, groups, tokens, workspaces and grants commands, run with click's CliRunner against a
real SQLite file and a real PostgreSQL database (created and dropped here)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from medflow.auth.config import AuthConfig
from medflow.auth.service import AuthServices
from medflow.cli.users import grants, groups, tokens, users, workspaces
from medflow.store.engine import Database
from tests.auth.conftest import PASSWORD
from tests.conftest import postgres_admin
from tests.servers import sqlite_url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store_uri(request, tmp_path_factory):
    if request.param == "postgresql":
        admin = postgres_admin()
        name, url = admin.create_database()
    else:
        name, url = None, sqlite_url(tmp_path_factory.mktemp("cli"))
    yield url
    if name:
        admin.drop_database(name)


def run(store_uri, group, *args, input=None, ok=True):
    result = CliRunner().invoke(group, [*args, "--backend-store-uri", store_uri], input=input)
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code != 0, result.output
    return result.output


def test_first_admin_users_and_passwords(store_uri):
    out = run(store_uri, users, "create-admin", "root", "--display-name", "Root Admin", "--password-stdin",
              input=PASSWORD + "\n")
    assert "created admin 'root'" in out
    assert "too short" in run(store_uri, users, "create", "jo", "--password-stdin", input="short\n", ok=False)
    run(store_uri, users, "create", "jo", "--role", "data_scientist", "--password-stdin", input=PASSWORD + "\n")
    run(store_uri, users, "create", "ci-bot", "--service", "--no-password", "--role", "data_scientist")
    out = run(store_uri, users, "create", "root", "--no-password", ok=False)
    assert "never reused" in out
    run(store_uri, users, "set-roles", "jo", "viewer,reviewer")
    run(store_uri, users, "lock", "jo", "--reason", "left the team")
    listing = run(store_uri, users, "list")
    assert "LOCKED" in listing and "reviewer,viewer" in listing
    run(store_uri, users, "reset-password", "jo", "--password-stdin", input="another long password\n")
    assert "LOCKED" not in run(store_uri, users, "list")  # a reset unlocks
    run(store_uri, users, "deactivate", "jo")
    assert "deactivated" in run(store_uri, users, "list")
    assert "last active admin" in run(store_uri, users, "deactivate", "root", ok=False)
    assert "No account named 'nobody'" in run(store_uri, users, "unlock", "nobody", ok=False)


def test_tokens_print_the_secret_once_and_revoke(store_uri):
    out = run(store_uri, tokens, "create", "ci-bot", "--name", "nightly", "--days", "7")
    secret = out.splitlines()[0]
    assert secret.startswith("mfp_")
    listing = run(store_uri, tokens, "list", "--username", "ci-bot")
    assert "nightly" in listing and secret not in listing
    token_id = listing.split()[0]
    db = Database(store_uri)
    try:
        authenticator = AuthServices(db, AuthConfig()).authenticator
        assert authenticator.authenticate({"authorization": f"Bearer {secret}"}, "x").username == "ci-bot"
        run(store_uri, tokens, "revoke", token_id)
        with pytest.raises(Exception):
            authenticator.authenticate({"authorization": f"Bearer {secret}"}, "x")
    finally:
        db.dispose()
    assert "revoked" in run(store_uri, tokens, "list", "--all")


def test_groups_workspaces_and_grants(store_uri):
    run(store_uri, workspaces, "create", "cardiology", "--description", "Cardiology department")
    run(store_uri, groups, "create", "cardio-ds")
    run(store_uri, groups, "add-member", "cardio-ds", "ci-bot")
    assert "ci-bot" in run(store_uri, groups, "list")
    run(store_uri, workspaces, "add-member", "cardiology", "cardio-ds", "--group", "--permission", "EDIT")
    assert "group:cardio-ds=EDIT" in run(store_uri, workspaces, "list")
    run(store_uri, workspaces, "remove-member", "cardiology", "cardio-ds", "--group")
    assert "cardio-ds" not in run(store_uri, workspaces, "list")
    out = run(store_uri, grants, "grant", "experiment", "0", "ci-bot", "edit")
    assert "granted EDIT" in out
    assert "experiment" in run(store_uri, grants, "list") and "user:ci-bot" in run(store_uri, grants, "list")
    assert "use one of" in run(store_uri, grants, "grant", "experiment", "0", "ci-bot", "OWNER", ok=False)
    run(store_uri, grants, "revoke", "experiment", "0", "ci-bot")
    assert "ci-bot" not in run(store_uri, grants, "list")
    run(store_uri, groups, "remove-member", "cardio-ds", "ci-bot")


def test_break_glass_from_the_cli(store_uri):
    out = run(store_uri, users, "break-glass", "ci-bot", "--reason", "on-call: model outage in the ICU", "--minutes", "5")
    assert "break-glass" in out
    assert "State the reason" in run(store_uri, users, "break-glass", "ci-bot", "--reason", "x", ok=False)
    db = Database(store_uri)
    try:
        assert AuthServices(db, AuthConfig()).break_glass.list(unreviewed_only=True)[0]["activated_by"].startswith("cli:")
    finally:
        db.dispose()

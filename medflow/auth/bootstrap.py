"""The first admin, without a default password.

Either an operator runs `medflow users create-admin` (prompted, or --password-stdin), or
the server, when it starts with no account at all, calls `bootstrap_admin()` and prints the
one-time secret it returns. Whoever holds that secret can create exactly one admin account
through POST /api/medflow/v1/bootstrap; the secret is then void. A restart before that
voids the printed secret and prints a new one (only its digest is ever stored).
"""
from __future__ import annotations

from medflow.auth.accounts import AccountService, check_text, check_username
from medflow.auth.principal import ADMIN
from medflow.auth.tokens import BOOTSTRAP_PREFIX, digest, new_secret
from medflow.errors import UNAUTHENTICATED, MedflowError
from medflow.services.clock import now_ms
from medflow.store import accounts as store
from medflow.store import accounts_directory as directory_store
from medflow.store.engine import Database

USED_OR_WRONG = ("The bootstrap secret is wrong or was already used. Use the secret the server printed at "
                 "its latest start, or create the admin with `medflow users create-admin`.")


def bootstrap_admin(db: Database) -> str | None:
    """A fresh one-time secret when no account exists yet (print it once); None otherwise."""
    now = now_ms()
    with db.write() as conn:
        store.seed_defaults(conn, now)
        if store.count(conn):
            return None
        secret = new_secret(BOOTSTRAP_PREFIX)
        store.replace_bootstrap_secret(conn, digest(secret), now)
        return secret


def redeem_bootstrap_secret(accounts: AccountService, secret: str | None, username: str | None,
                            password: str | None, display_name: str = "") -> dict:
    """Create the first admin with the one-time secret; all or nothing."""
    if not secret:
        raise MedflowError.missing("secret")
    username = check_username(username)
    display_name = check_text("display_name", display_name, 256)
    accounts.passwords.check_policy(password, username=username)
    password_hash = accounts.passwords.hash(password)
    now = now_ms()
    with accounts.db.write() as conn:
        if store.count(conn) or not store.redeem_bootstrap_secret(conn, digest(secret), now):
            raise MedflowError(UNAUTHENTICATED, USED_OR_WRONG)
        workspace = accounts.config.auth_default_workspace
        directory_store.require_workspace(conn, workspace)
        account_id = store.create(conn, username=username, display_name=display_name, kind="person",
                                  roles={ADMIN}, default_workspace=workspace, password_hash=password_hash,
                                  now=now, created_by="bootstrap")
        directory_store.set_workspace_member(conn, workspace, "user", account_id, "READ")
        return store.to_wire(store.get_row(conn, account_id))

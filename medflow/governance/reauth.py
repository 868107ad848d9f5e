"""Re-authentication at signing (21 CFR Part 11 §11.200): the signer enters their password again.

Being logged in is not enough to sign: the request must carry the signer's own password,
checked against the account's argon2id hash with the server's password verifier. A wrong
password is recorded as a failed login and counts towards the account's lockout, exactly
as a failed login does. Requests authenticated with an API token cannot sign (a token is
not a person), nor can service accounts or accounts without a password (SSO re-signing is
not supported yet).
"""
from __future__ import annotations

import contextvars

from medflow.audit.context import note_detail
from medflow.auth.tokens import looks_like_token
from medflow.errors import PERMISSION_DENIED, UNAUTHENTICATED, MedflowError
from medflow.services.clock import now_ms
from medflow.store import accounts as account_store

METHOD = "signature"


def reauthenticate(db, auth, principal, password, client_addr: str = "") -> None:
    """Raise unless `password` is the principal's own current password and the principal may sign."""
    if principal is None or principal.account_id is None:
        raise MedflowError(PERMISSION_DENIED, "Signing needs an authenticated MedFlow account; this server runs "
                                              "with authentication off, so nobody can sign.")
    if principal.token_id is not None or principal.auth_method == "bearer":
        raise MedflowError(PERMISSION_DENIED, "An API token cannot sign: sign as yourself with your user name and "
                                              "password (MLFLOW_TRACKING_USERNAME/PASSWORD, or the medflow CLI).")
    if not password:
        raise MedflowError.invalid("Signing requires re-entering your password: send it in 'password' "
                                   "(the medflow CLI prompts for it).")
    if not isinstance(password, str) or looks_like_token(password):
        raise MedflowError(PERMISSION_DENIED, "An API token cannot sign: re-enter your password, not a token.")
    with db.read() as conn:
        row = account_store.get_row(conn, principal.account_id)
    verified = auth.accounts.passwords.verify(row.password_hash if row else None, password)
    if row is not None and row.kind != "person":
        raise MedflowError(PERMISSION_DENIED, f"'{row.username}' is a service account: only a person can sign.")
    if verified and row.status == account_store.ACTIVE and row.locked_time is None:
        return
    # Recorded outside the request's audit scope: this request's one event is its denial.
    contextvars.Context().run(_record_failure, db, auth, principal, row, client_addr)
    note_detail("signing", "password did not match")
    raise MedflowError(UNAUTHENTICATED, "The password does not match your account: signing requires your own "
                                        "current password. Repeated failures lock the account.")


def _record_failure(db, auth, principal, row, client_addr: str) -> None:
    with db.write() as conn:
        now = now_ms()
        account_store.record_failure(conn, now=now, username=principal.username,
                                     account_id=row.account_id if row else None, method=METHOD,
                                     client_addr=client_addr, reason="bad signing password")
        if row is not None and row.status == account_store.ACTIVE:
            account_store.count_failed_login(conn, row.account_id, auth.config.auth_lockout_threshold, now)

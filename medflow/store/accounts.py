"""SQL for accounts, password history, failed logins, the auth generation and bootstrap secrets."""
from __future__ import annotations

import secrets
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from medflow.errors import MedflowError
from medflow.store.direct import DirectStatement
from medflow.store.engine import is_unique_violation
from medflow.store.schema_accounts import (accounts, auth_state, bootstrap_secrets, login_failures,
                                           password_history, workspaces)

ACTIVE, DEACTIVATED = "active", "deactivated"


def roles_from_column(value: str) -> frozenset[str]:
    return frozenset(value.split()) if value else frozenset()


def roles_to_column(roles) -> str:
    return " ".join(sorted(set(roles)))


def to_wire(row) -> dict:
    out = {"id": str(row.account_id), "username": row.username, "display_name": row.display_name,
           "kind": row.kind, "default_workspace": row.default_workspace, "status": row.status,
           "locked": row.locked_time is not None, "password_set": row.password_hash is not None,
           "break_glass_allowed": bool(row.break_glass_allowed), "creation_time": row.creation_time,
           "created_by": row.created_by}
    roles = sorted(roles_from_column(row.roles))
    if roles:
        out["roles"] = roles
    if row.locked_time is not None:
        out["locked_time"] = row.locked_time
        out["lock_reason"] = row.lock_reason or ""
    if row.password_changed_time is not None:
        out["password_changed_time"] = row.password_changed_time
    if row.external_subject:
        out["external_subject"] = row.external_subject
    return out


# --- server-wide state -------------------------------------------------------------------------

def seed_defaults(conn: Connection, now: int) -> None:
    """The auth_state row and the 'default' workspace (migration 0003 creates both; idempotent)."""
    if conn.execute(select(auth_state.c.id).where(auth_state.c.id == 1)).first() is None:
        conn.execute(insert(auth_state).values(id=1, generation=1, session_key=secrets.token_hex(32)))
    if conn.execute(select(workspaces.c.name).where(workspaces.c.name == "default")).first() is None:
        conn.execute(insert(workspaces).values(name="default", description="Default workspace",
                                               creation_time=now))


_BUMP = (update(auth_state).where(auth_state.c.id == 1).values(generation=auth_state.c.generation + 1)
         .returning(auth_state.c.generation))


@dataclass(frozen=True)
class _OwnBumps:
    """How the current write transaction moved the generation (kept per request context)."""
    transaction: object
    first: int                   # the generation its first bump moved the counter to
    last: int
    principals_unaffected: bool  # every bump was of grants or model names, none of a principal


_own_bumps: ContextVar[_OwnBumps | None] = ContextVar("medflow_own_generation_bumps", default=None)


def bump_generation(conn: Connection, *, principals_unaffected: bool = False) -> None:
    """Membership or a grant changed: cached principals and grants are re-read on their next request.

    `principals_unaffected`: what changed is a grant or which model a name means, nothing a
    Principal carries (roles, groups, workspaces, break-glass)."""
    generation = conn.execute(_BUMP).scalar_one()
    transaction, seen = conn.get_transaction(), _own_bumps.get()
    if seen is not None and seen.transaction is transaction:
        _own_bumps.set(_OwnBumps(transaction, seen.first, generation,
                                 seen.principals_unaffected and principals_unaffected))
    else:
        _own_bumps.set(_OwnBumps(transaction, generation, generation, principals_unaffected))


def generation_at_commit(conn: Connection, verified: int) -> tuple[int, bool]:
    """The generation a principal verified at `verified` must find when this transaction commits,
    and whether that principal is still exactly right at that generation.

    Unchanged, unless this transaction moved it itself (creating an experiment grants its creator
    MANAGE) and nothing else had moved it first: its first bump found `verified` and took the row
    lock, so no other transaction can move it before this one commits."""
    own = _own_bumps.get()
    if own is not None and own.transaction is conn.get_transaction() and own.first == verified + 1:
        return own.last, own.principals_unaffected
    return verified, True


def generation_subquery():
    return select(auth_state.c.generation).where(auth_state.c.id == 1).scalar_subquery()


def session_key(conn: Connection) -> str:
    key = conn.execute(select(auth_state.c.session_key).where(auth_state.c.id == 1)).scalar()
    if key is None:
        raise MedflowError.invalid("The auth tables are not initialised: run `medflow db upgrade`.")
    return key


# --- accounts ----------------------------------------------------------------------------------

def create(conn: Connection, *, username: str, display_name: str, kind: str, roles, default_workspace: str,
           password_hash: str | None, now: int, created_by: str, external_subject: str | None = None,
           break_glass_allowed: bool = False) -> int:
    try:
        account_id = conn.execute(
            insert(accounts).values(username=username, display_name=display_name, kind=kind,
                                    roles=roles_to_column(roles), default_workspace=default_workspace,
                                    password_hash=password_hash,
                                    password_changed_time=now if password_hash else None,
                                    external_subject=external_subject, status=ACTIVE,
                                    failed_logins=0, break_glass_allowed=break_glass_allowed,
                                    credential_version=1, creation_time=now, created_by=created_by)
            .returning(accounts.c.account_id)).scalar_one()
    except IntegrityError as exc:
        if is_unique_violation(exc):
            raise MedflowError.already_exists(
                f"An account named '{username}' exists or existed (user names are never reused, "
                "21 CFR Part 11 §11.100). Choose another user name.") from None
        raise
    if password_hash:
        conn.execute(insert(password_history).values(account_id=account_id, password_hash=password_hash,
                                                     set_time=now))
    return account_id


def get_row(conn: Connection, account_id: int):
    return conn.execute(select(accounts).where(accounts.c.account_id == account_id)).first()


def get_row_by_username(conn: Connection, username: str):
    return conn.execute(select(accounts).where(accounts.c.username == username)).first()


def get_row_by_subject(conn: Connection, subject: str):
    return conn.execute(select(accounts).where(accounts.c.external_subject == subject)).first()


def get_row_with_generation(conn: Connection, account_id: int):
    """The account row and the auth generation in one round trip (the per-request check)."""
    return _ROW_WITH_GENERATION.first(conn, {"account_id": account_id})


# What the per-request check reads of an account (whether it may act, and as whom): never the
# password hash, and no more columns than it needs (each one costs on every request).
PRINCIPAL_COLUMNS = (accounts.c.account_id, accounts.c.username, accounts.c.display_name, accounts.c.roles,
                     accounts.c.default_workspace, accounts.c.status, accounts.c.locked_time,
                     accounts.c.credential_version)
# Built once: this runs on every request authenticated by password or session.
_ROW_WITH_GENERATION = DirectStatement(select(*PRINCIPAL_COLUMNS, generation_subquery().label("generation"))
                                        .where(accounts.c.account_id == bindparam("account_id")))


def require_row(conn: Connection, username: str):
    row = get_row_by_username(conn, username)
    if row is None:
        raise MedflowError.not_found(f"No account named '{username}'. List accounts with "
                                     "`medflow users list`.")
    return row


def list_rows(conn: Connection, *, include_deactivated: bool = True):
    query = select(accounts).order_by(accounts.c.account_id)
    if not include_deactivated:
        query = query.where(accounts.c.status == ACTIVE)
    return conn.execute(query).all()


def count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(accounts)).scalar_one()


def set_fields(conn: Connection, account_id: int, *, invalidate: bool, **values) -> None:
    """Update an account; `invalidate` ends cached logins and sessions of the account."""
    if invalidate:
        values["credential_version"] = accounts.c.credential_version + 1
    conn.execute(update(accounts).where(accounts.c.account_id == account_id).values(**values))


def recent_password_hashes(conn: Connection, account_id: int, limit: int) -> list[str]:
    if limit <= 0:
        return []
    rows = conn.execute(select(password_history.c.password_hash)
                        .where(password_history.c.account_id == account_id)
                        .order_by(password_history.c.set_time.desc(), password_history.c.id.desc())
                        .limit(limit))
    return [r.password_hash for r in rows]


def set_password(conn: Connection, account_id: int, password_hash: str, now: int, keep: int) -> None:
    set_fields(conn, account_id, invalidate=True, password_hash=password_hash, password_changed_time=now,
               failed_logins=0)
    conn.execute(insert(password_history).values(account_id=account_id, password_hash=password_hash,
                                                 set_time=now))
    kept = select(password_history.c.id).where(password_history.c.account_id == account_id) \
        .order_by(password_history.c.set_time.desc(), password_history.c.id.desc()).limit(max(keep, 1))
    conn.execute(delete(password_history).where(password_history.c.account_id == account_id,
                                                password_history.c.id.not_in(kept.scalar_subquery())))


# --- failed logins and lockout -----------------------------------------------------------------

def record_failure(conn: Connection, *, now: int, username: str, account_id: int | None, method: str,
                   client_addr: str, reason: str) -> None:
    conn.execute(insert(login_failures).values(time=now, username=username[:256], account_id=account_id,
                                               auth_method=method, client_addr=client_addr[:64],
                                               reason=reason))


def count_failed_login(conn: Connection, account_id: int, threshold: int, now: int) -> bool:
    """Add one consecutive failure; lock the account when it reaches `threshold`. True if locked now."""
    conn.execute(update(accounts).where(accounts.c.account_id == account_id)
                 .values(failed_logins=accounts.c.failed_logins + 1))
    row = conn.execute(select(accounts.c.failed_logins, accounts.c.locked_time)
                       .where(accounts.c.account_id == account_id)).first()
    if row.locked_time is None and row.failed_logins >= threshold:
        set_fields(conn, account_id, invalidate=True, locked_time=now,
                   lock_reason=f"{row.failed_logins} failed logins")
        return True
    return False


def list_failures(conn: Connection, *, since: int = 0, username: str | None = None, limit: int = 100) -> list[dict]:
    query = select(login_failures).where(login_failures.c.time >= since)
    if username:
        query = query.where(login_failures.c.username == username)
    rows = conn.execute(query.order_by(login_failures.c.time.desc(), login_failures.c.id.desc()).limit(limit))
    return [{"time": r.time, "username": r.username, "auth_method": r.auth_method,
             "client_addr": r.client_addr, "reason": r.reason} for r in rows]


# --- bootstrap secret --------------------------------------------------------------------------

def replace_bootstrap_secret(conn: Connection, secret_hash: str, now: int) -> None:
    """Void any unused secret (it was printed by an earlier start) and store the new one."""
    conn.execute(update(bootstrap_secrets).where(bootstrap_secrets.c.used_time.is_(None),
                                                 bootstrap_secrets.c.voided_time.is_(None))
                 .values(voided_time=now))
    conn.execute(insert(bootstrap_secrets).values(secret_hash=secret_hash, creation_time=now))


def redeem_bootstrap_secret(conn: Connection, secret_hash: str, now: int) -> bool:
    """Mark the live secret with this hash used; False if none matches (wrong, used or voided)."""
    result = conn.execute(update(bootstrap_secrets)
                          .where(bootstrap_secrets.c.secret_hash == secret_hash,
                                 bootstrap_secrets.c.used_time.is_(None),
                                 bootstrap_secrets.c.voided_time.is_(None))
                          .values(used_time=now))
    return result.rowcount == 1

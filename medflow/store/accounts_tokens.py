"""SQL for API tokens (stored as SHA-256 digests only)."""
from __future__ import annotations

from sqlalchemy import Connection, bindparam, insert, or_, select, update

from medflow.errors import MedflowError
from medflow.store.accounts import PRINCIPAL_COLUMNS, generation_subquery
from medflow.store.direct import DirectStatement
from medflow.store.schema_accounts import accounts, api_tokens

LAST_USED_RESOLUTION_MS = 60_000  # last_used_time is written at most once a minute per token


def to_wire(row, username: str | None = None) -> dict:
    out = {"id": str(row.token_id), "name": row.name, "prefix": row.prefix,
           "creation_time": row.creation_time}
    if username is not None:
        out["username"] = username
    for field in ("expiry_time", "revoked_time", "last_used_time"):
        if getattr(row, field) is not None:
            out[field] = getattr(row, field)
    return out


def create(conn: Connection, *, account_id: int, name: str, token_hash: str, prefix: str, now: int,
           expiry_time: int | None) -> int:
    return conn.execute(insert(api_tokens).values(account_id=account_id, name=name, token_hash=token_hash,
                                                  prefix=prefix, creation_time=now, expiry_time=expiry_time)
                        .returning(api_tokens.c.token_id)).scalar_one()


def lookup(conn: Connection, token_hash: str):
    """Token, its account and the auth generation in one round trip (every Bearer request)."""
    return _LOOKUP.first(conn, {"token_hash": token_hash})


_LOOKUP = DirectStatement(  # every Bearer request
    select(api_tokens.c.token_id, api_tokens.c.expiry_time, api_tokens.c.revoked_time, api_tokens.c.last_used_time,
           *PRINCIPAL_COLUMNS, generation_subquery().label("generation"))
    .join(accounts, accounts.c.account_id == api_tokens.c.account_id)
    .where(api_tokens.c.token_hash == bindparam("token_hash")))


def touch(conn: Connection, token_id: int, now: int) -> None:
    conn.execute(update(api_tokens).where(api_tokens.c.token_id == token_id,
                                          or_(api_tokens.c.last_used_time.is_(None),
                                              api_tokens.c.last_used_time < now - LAST_USED_RESOLUTION_MS))
                 .values(last_used_time=now))


def list_for(conn: Connection, account_id: int | None, *, include_inactive: bool, now: int) -> list[dict]:
    query = select(api_tokens, accounts.c.username) \
        .join(accounts, accounts.c.account_id == api_tokens.c.account_id).order_by(api_tokens.c.token_id)
    if account_id is not None:
        query = query.where(api_tokens.c.account_id == account_id)
    if not include_inactive:
        query = query.where(api_tokens.c.revoked_time.is_(None),
                            or_(api_tokens.c.expiry_time.is_(None), api_tokens.c.expiry_time > now))
    return [to_wire(r, r.username) for r in conn.execute(query)]


def get_row(conn: Connection, token_id: int):
    return conn.execute(select(api_tokens).where(api_tokens.c.token_id == token_id)).first()


def revoke(conn: Connection, token_id: int, now: int) -> None:
    row = get_row(conn, token_id)
    if row is None:
        raise MedflowError.not_found(f"No API token with id {token_id}. List tokens with `medflow tokens list`.")
    if row.revoked_time is None:
        conn.execute(update(api_tokens).where(api_tokens.c.token_id == token_id).values(revoked_time=now))


def revoke_all_for(conn: Connection, account_id: int, now: int) -> None:
    conn.execute(update(api_tokens).where(api_tokens.c.account_id == account_id,
                                          api_tokens.c.revoked_time.is_(None)).values(revoked_time=now))

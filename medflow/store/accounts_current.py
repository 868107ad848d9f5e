"""SQL: are a principal's credentials still as they were when they were verified?

The condition medflow/auth/confirmation.py adds to a write transaction: the account is active,
unlocked and at the same credential_version, the auth generation is unchanged, and the API token
(if the request used one) is neither revoked nor expired.
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Connection, Integer, bindparam, exists, literal, or_, select

from medflow.store.accounts import ACTIVE, generation_subquery
from medflow.store.direct import DirectStatement
from medflow.store.schema_accounts import accounts, api_tokens

_TOKEN_ID = bindparam("confirm_token_id", type_=Integer())
_NOW = bindparam("confirm_now", type_=BigInteger())

CREDENTIALS_CURRENT = exists().where(
    accounts.c.account_id == bindparam("confirm_account_id", type_=Integer()),
    accounts.c.credential_version == bindparam("confirm_credential_version", type_=Integer()),
    accounts.c.status == ACTIVE,
    accounts.c.locked_time.is_(None),
    generation_subquery() == bindparam("confirm_generation", type_=BigInteger()),
    or_(_TOKEN_ID.is_(None), exists().where(
        api_tokens.c.token_id == _TOKEN_ID, api_tokens.c.account_id == accounts.c.account_id,
        api_tokens.c.revoked_time.is_(None),
        or_(api_tokens.c.expiry_time.is_(None), api_tokens.c.expiry_time > _NOW))))

_CHECK = DirectStatement(select(literal(1).label("current")).where(CREDENTIALS_CURRENT))


def still_current(conn: Connection, params: dict) -> bool:
    """`params`: confirm_account_id, confirm_credential_version, confirm_generation, confirm_token_id, confirm_now."""
    return _CHECK.first(conn, params) is not None

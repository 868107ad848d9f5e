"""Credentials confirmed at commit: a write request without its own credential look-up.

Every request's credentials are checked against the database, so a revoked token, a locked or
changed account and changed access rules take effect on the very next request. A write request on
PostgreSQL whose Authorization header this process verified less than RECENT_SECONDS ago moves
that check into its own write transaction instead of a round trip of its own: it starts as the
principal verified then, and its audit event is appended — in the same statement — only if the
token, the account (status, lock, credential_version) and the auth generation are still as they
were (store/accounts_current.py) — the generation as this transaction left it when its own change
moved it (creating an experiment or a model grants the creator MANAGE); when that change touched
no principal, the remembered principal moves to that generation too, so the next create is not
mistaken for one made under changed rules. A write transaction without an audit event runs the
check on its own before it commits. A request that commits nothing is checked by the usual
look-up before its answer is sent. When the check fails nothing the request did has been
committed, and the request is answered as a fresh one: refused (401), or served again as the
current principal (medflow/api/endpoint.py).
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import time
from contextvars import ContextVar
from dataclasses import dataclass

from medflow.auth.cache import ExpiringCache
from medflow.auth.principal import Principal
from medflow.store import accounts, accounts_current

RECENT_SECONDS = 30  # bounds how stale a token's last-used time and a cached principal can get


def now_ms() -> int:  # not medflow.services.clock: the audit trail imports this module, and services import it
    return int(time.time() * 1000)


class CredentialsChanged(Exception):
    """The request's credentials or access rules changed since they were verified: roll back."""


@dataclass
class Claim:
    """That the request's principal is still the one verified earlier, until confirmed."""
    principal: Principal
    confirmed: bool = False
    failed: bool = False
    # The generation the confirming transaction left, when it moved it itself without changing any
    # principal: the remembered principal is current at it (RecentlyVerified.advance).
    advanced_generation: int | None = None

    def params(self, conn) -> dict:
        """What store/accounts_current.py checks, in the transaction `conn` is about to commit."""
        p = self.principal
        generation, principal_unchanged = accounts.generation_at_commit(conn, p.generation)
        self.advanced_generation = generation if generation != p.generation and principal_unchanged else None
        return {"confirm_account_id": p.account_id, "confirm_credential_version": p.credential_version,
                "confirm_generation": generation, "confirm_token_id": p.token_id, "confirm_now": now_ms()}

    def settle(self, current: bool) -> None:
        if current:
            self.confirmed = True
        else:
            self.failed = True
            raise CredentialsChanged("The credentials or access rules of this request changed while it ran.")

    def matches(self, principal: Principal) -> bool:
        """Whether a freshly authenticated principal is the one this claim started with."""
        mine = self.principal
        return (principal.account_id, principal.credential_version, principal.generation, principal.token_id) == \
            (mine.account_id, mine.credential_version, mine.generation, mine.token_id)


_claim: ContextVar[Claim | None] = ContextVar("medflow_credentials_claim", default=None)


def start(principal: Principal) -> None:
    _claim.set(Claim(principal))


def current() -> Claim | None:
    return _claim.get()


def clear() -> None:
    _claim.set(None)


def unconfirmed() -> Claim | None:
    claim = _claim.get()
    return claim if claim is not None and not claim.confirmed else None


def before_commit(conn) -> None:
    """Database.write() hook, after the audit trail's: a write transaction that appended no event."""
    claim = unconfirmed()
    if claim is not None:
        claim.settle(not claim.failed and accounts_current.still_current(conn, claim.params(conn)))


class RecentlyVerified:
    """Principals of Authorization headers verified in the last RECENT_SECONDS (PostgreSQL only),
    keyed by an HMAC of the header under the authenticator's per-process key."""

    def __init__(self, key: bytes, enabled: bool):
        self._key = key
        self._enabled = enabled
        self._entries = ExpiringCache()  # HMAC -> (principal, valid_until_ms)

    def _digest(self, authorization: str) -> bytes:
        return hmac.new(self._key, authorization.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()

    def remember(self, authorization: str, principal: Principal, valid_until_ms: int | None) -> None:
        """`valid_until_ms`: when the credentials lapse on their own (token or password expiry)."""
        if self._enabled and authorization and not principal.break_glass:  # an elevation is checked every time
            self._entries.put(self._digest(authorization), (principal, valid_until_ms), RECENT_SECONDS)

    def advance(self, authorization: str, principal: Principal, generation: int) -> None:
        """`principal`, remembered for `authorization`, was confirmed by a transaction that moved the
        generation to `generation` without changing any principal: remembered at it, until the time
        it was remembered for (a later look-up still refreshes the token's last-used time)."""
        key = self._digest(authorization)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is principal:
            self._entries.replace(key, entry, (dataclasses.replace(principal, generation=generation), entry[1]))

    def get(self, authorization: str) -> Principal | None:
        if not self._enabled or not authorization:
            return None
        entry = self._entries.get(self._digest(authorization))
        if entry is None:
            return None
        principal, valid_until_ms = entry
        if valid_until_ms is not None and valid_until_ms <= now_ms():
            return None
        return principal

"""SQL for the audit trail: appending under a chain lock, reading ranges and pages."""
from __future__ import annotations

from typing import Iterator

from sqlalchemy import Connection, Text, bindparam, func, insert, select

from medflow.audit.chain import GENESIS_HASH, HASHED_FIELDS, canonical_details, event_hash, hashed_tail
from medflow.store.accounts_current import CREDENTIALS_CURRENT
from medflow.store.direct import DirectStatement
from medflow.store.schema import audit_checkpoints, audit_events

_PG_CHAIN_LOCK = 0x6D65_6466  # "medf": one advisory lock orders every append across processes


_HEAD = DirectStatement(select(audit_events.c.seq, audit_events.c.hash).order_by(audit_events.c.seq.desc()).limit(1))
_INSERT_ONE = DirectStatement(insert(audit_events))
# PostgreSQL: lock and head in one round trip (this runs in every write transaction). In a
# multi-statement query each statement takes its own snapshot (READ COMMITTED), so the SELECT,
# run once the lock is granted, sees the append of the transaction that released it.
_PG_LOCK_AND_HEAD = (f"SELECT pg_advisory_xact_lock({_PG_CHAIN_LOCK}); "
                     "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")


def locked_head(conn: Connection) -> tuple[int, str]:
    """Serialise appends and return the chain head (seq, hash) to extend.

    SQLite write transactions already hold the database write lock."""
    if conn.dialect.name == "postgresql":
        with conn.connection.driver_connection.cursor() as cur:
            cur.execute(_PG_LOCK_AND_HEAD)
            cur.nextset()
            row = cur.fetchone()
    else:
        row = _HEAD.first(conn, {})
    return (row[0], row[1]) if row else (0, GENESIS_HASH)


# PostgreSQL, one event (every write request): lock, head and insert in one round trip (migration 0006).
_EVENT_FIELDS = HASHED_FIELDS[1:]
_PG_APPEND_ONE_CALL = select(func.medflow_audit_append(
    *(bindparam(f, type_=audit_events.c[f].type) for f in _EVENT_FIELDS), bindparam("hashed_tail", type_=Text())))
_PG_APPEND_ONE = DirectStatement(_PG_APPEND_ONE_CALL)
# The same, only if the request's credentials are still current (medflow/auth/confirmation.py):
# without a row nothing was appended. PostgreSQL evaluates this WHERE before the select list.
_PG_APPEND_ONE_CONFIRMING = DirectStatement(_PG_APPEND_ONE_CALL.where(CREDENTIALS_CURRENT))


def append(conn: Connection, events: list[dict], *, confirming: dict | None = None) -> int | None:
    """Extend the chain with `events` inside the caller's transaction; returns the last seq.

    `confirming` (PostgreSQL, one event): the parameters of accounts_current.CREDENTIALS_CURRENT;
    the event is appended, in the same statement, only if they are still current (else: None)."""
    if not events:
        return 0
    if len(events) == 1 and conn.dialect.name == "postgresql":
        row = dict(events[0], details=canonical_details(events[0].get("details") or {}))
        params = {f: row.get(f) for f in _EVENT_FIELDS}
        params["hashed_tail"] = hashed_tail(row)
        if confirming is None:
            return _PG_APPEND_ONE.first(conn, params)[0]
        appended = _PG_APPEND_ONE_CONFIRMING.first(conn, {**params, **confirming})
        return None if appended is None else appended[0]
    if confirming is not None:
        raise ValueError("credentials are confirmed with one event on PostgreSQL only")
    seq, prev = locked_head(conn)
    rows = []
    for event in events:
        seq += 1
        row = dict(event, seq=seq, details=canonical_details(event.get("details") or {}))
        row["prev_hash"] = prev
        row["hash"] = prev = event_hash(row, prev)
        rows.append(row)
    if len(rows) == 1:  # one event: on SQLite, every write request's own
        _INSERT_ONE.first(conn, {f: rows[0].get(f) for f in HASHED_FIELDS + ("prev_hash", "hash")})
    else:
        conn.execute(insert(audit_events), rows)
    return seq


def iter_events(conn: Connection, *, batch: int = 5000) -> Iterator:
    """Every event in chain order, fetched in keyset batches (memory stays flat)."""
    after = -1
    while True:
        rows = conn.execute(select(audit_events).where(audit_events.c.seq > after)
                            .order_by(audit_events.c.seq).limit(batch)).all()
        if not rows:
            return
        yield from rows
        after = rows[-1].seq


def query(conn: Connection, *, actor=None, resource_type=None, resource_id=None, action=None,
          outcome=None, since=None, until=None, after_seq=0, limit=100) -> list:
    q = select(audit_events).where(audit_events.c.seq > after_seq)
    for column, value in ((audit_events.c.actor, actor), (audit_events.c.resource_type, resource_type),
                          (audit_events.c.resource_id, resource_id), (audit_events.c.action, action),
                          (audit_events.c.outcome, outcome)):
        if value is not None:
            q = q.where(column == value)
    if since is not None:
        q = q.where(audit_events.c.event_time >= since)
    if until is not None:
        q = q.where(audit_events.c.event_time < until)
    return conn.execute(q.order_by(audit_events.c.seq).limit(limit)).all()


def add_checkpoint(conn: Connection, *, seq: int, hash_: str, created_at: int, key_id: str,
                   signature: str) -> None:
    conn.execute(insert(audit_checkpoints).values(seq=seq, hash=hash_, created_at=created_at,
                                                  key_id=key_id, signature=signature))


def checkpoints(conn: Connection) -> list:
    return conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.seq)).all()


def latest_checkpoint_seq(conn: Connection) -> int:
    row = conn.execute(select(audit_checkpoints.c.seq).order_by(audit_checkpoints.c.seq.desc()).limit(1)).first()
    return row.seq if row else 0


def event_at(conn: Connection, seq: int):
    return conn.execute(select(audit_events).where(audit_events.c.seq == seq)).first()

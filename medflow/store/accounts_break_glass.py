"""SQL for break-glass (emergency access) elevations and their review."""
from __future__ import annotations

from sqlalchemy import Connection, insert, select, update

from medflow.errors import MedflowError
from medflow.store.schema_accounts import accounts, break_glass


def activate(conn: Connection, *, account_id: int, reason: str, now: int, expiry_time: int,
             activated_by: str) -> int:
    return conn.execute(insert(break_glass).values(account_id=account_id, reason=reason, start_time=now,
                                                   expiry_time=expiry_time, activated_by=activated_by)
                        .returning(break_glass.c.id)).scalar_one()


def active_expiry(conn: Connection, account_id: int, now: int) -> int | None:
    """Expiry of the account's live elevation, or None."""
    return conn.execute(select(break_glass.c.expiry_time)
                        .where(break_glass.c.account_id == account_id, break_glass.c.ended_time.is_(None),
                               break_glass.c.start_time <= now, break_glass.c.expiry_time > now)
                        .order_by(break_glass.c.expiry_time.desc()).limit(1)).scalar()


def end_active(conn: Connection, account_id: int, now: int) -> int:
    return conn.execute(update(break_glass).where(break_glass.c.account_id == account_id,
                                                  break_glass.c.ended_time.is_(None),
                                                  break_glass.c.expiry_time > now)
                        .values(ended_time=now)).rowcount


def review(conn: Connection, elevation_id: int, *, reviewer: str, note: str, now: int) -> None:
    row = conn.execute(select(break_glass).where(break_glass.c.id == elevation_id)).first()
    if row is None:
        raise MedflowError.not_found(f"No break-glass elevation with id {elevation_id}.")
    if row.reviewed_time is not None:
        raise MedflowError.invalid(f"Break-glass elevation {elevation_id} was already reviewed by "
                                   f"{row.reviewed_by}.")
    conn.execute(update(break_glass).where(break_glass.c.id == elevation_id)
                 .values(reviewed_time=now, reviewed_by=reviewer, review_note=note))


def list_elevations(conn: Connection, *, unreviewed_only: bool, limit: int = 500) -> list[dict]:
    query = select(break_glass, accounts.c.username).join(accounts, accounts.c.account_id == break_glass.c.account_id)
    if unreviewed_only:
        query = query.where(break_glass.c.reviewed_time.is_(None))
    out = []
    for r in conn.execute(query.order_by(break_glass.c.start_time.desc()).limit(limit)):
        item = {"id": str(r.id), "username": r.username, "reason": r.reason, "start_time": r.start_time,
                "expiry_time": r.expiry_time, "activated_by": r.activated_by}
        for field in ("ended_time", "reviewed_time", "reviewed_by", "review_note"):
            if getattr(r, field) is not None:
                item[field] = getattr(r, field)
        out.append(item)
    return out


def holder(conn: Connection, elevation_id: int) -> str | None:
    """User name of the account an elevation was for."""
    return conn.execute(select(accounts.c.username).join(break_glass, break_glass.c.account_id == accounts.c.account_id)
                        .where(break_glass.c.id == elevation_id)).scalar()

"""SQL for the governance workflow: policy versions, review requests, signatures, stage history.

A model version is named by VersionKey (model_pk, version, version_created); see
schema_governance.py for why its creation time is part of the name.
"""
from __future__ import annotations

import json
from typing import NamedTuple

from sqlalchemy import Connection, and_, insert, select, update

from medflow.store.schema_governance import (approval_signatures, governance_policies, review_requests,
                                             version_stage_history)

OPEN = "open"


class VersionKey(NamedTuple):
    model_pk: int
    version: int
    version_created: int

    @classmethod
    def of(cls, version_row) -> "VersionKey":
        return cls(version_row.model_pk, version_row.version, version_row.creation_timestamp)


def _is(table, key: VersionKey):
    return and_(table.c.model_pk == key.model_pk, table.c.version == key.version,
                table.c.version_created == key.version_created)


# --- policy versions -----------------------------------------------------------------------------

def latest_policy_sha(conn: Connection) -> str | None:
    return conn.execute(select(governance_policies.c.sha256)
                        .order_by(governance_policies.c.first_seen.desc()).limit(1)).scalar()


def policy_known(conn: Connection, sha256: str) -> bool:
    return conn.execute(select(governance_policies.c.sha256)
                        .where(governance_policies.c.sha256 == sha256)).first() is not None


def record_policy(conn: Connection, *, sha256: str, source: str, content: str, now: int,
                  previous: str | None) -> None:
    conn.execute(insert(governance_policies).values(sha256=sha256, source=source[:1000], content=content,
                                                    first_seen=now, previous_sha256=previous))


def policy_versions(conn: Connection) -> list[dict]:
    rows = conn.execute(select(governance_policies.c.sha256, governance_policies.c.source,
                               governance_policies.c.first_seen, governance_policies.c.previous_sha256)
                        .order_by(governance_policies.c.first_seen)).all()
    return [{k: v for k, v in row._mapping.items() if v is not None} for row in rows]


# --- review requests ---------------------------------------------------------------------------

def latest_request(conn: Connection, key: VersionKey, target_kind: str, target: str):
    return conn.execute(select(review_requests)
                        .where(_is(review_requests, key), review_requests.c.target_kind == target_kind,
                               review_requests.c.target == target)
                        .order_by(review_requests.c.id.desc()).limit(1)).first()


def insert_request(conn: Connection, key: VersionKey, *, target_kind: str, target: str, requested_by: str,
                   now: int, comment: str, policy_sha256: str | None) -> int:
    return conn.execute(insert(review_requests).values(
        model_pk=key.model_pk, version=key.version, version_created=key.version_created,
        target_kind=target_kind, target=target, status=OPEN, requested_by=requested_by, requested_at=now,
        comment=comment, policy_sha256=policy_sha256).returning(review_requests.c.id)).scalar_one()


def close_request(conn: Connection, request_id: int, status: str, now: int) -> None:
    conn.execute(update(review_requests).where(review_requests.c.id == request_id)
                 .values(status=status, closed_at=now))


def requests_for_version(conn: Connection, key: VersionKey) -> list:
    return conn.execute(select(review_requests).where(_is(review_requests, key))
                        .order_by(review_requests.c.id)).all()


def request_to_wire(row) -> dict:
    out = {"id": str(row.id), "target_kind": row.target_kind, "target": row.target, "status": row.status,
           "requested_by": row.requested_by, "requested_at": row.requested_at}
    if row.comment:
        out["comment"] = row.comment
    if row.policy_sha256:
        out["policy_sha256"] = row.policy_sha256
    if row.closed_at is not None:
        out["closed_at"] = row.closed_at
    return out


# --- signatures ----------------------------------------------------------------------------------

def insert_signature(conn: Connection, values: dict) -> int:
    return conn.execute(insert(approval_signatures).values(**values)
                        .returning(approval_signatures.c.id)).scalar_one()


def signatures_for_request(conn: Connection, request_id: int) -> list:
    return conn.execute(select(approval_signatures).where(approval_signatures.c.request_id == request_id)
                        .order_by(approval_signatures.c.id)).all()


def signatures_for_version(conn: Connection, key: VersionKey) -> list:
    return conn.execute(select(approval_signatures).where(_is(approval_signatures, key))
                        .order_by(approval_signatures.c.id)).all()


def signer_groups(row) -> frozenset[str]:
    return frozenset(json.loads(row.signer_groups))


# --- stage and alias history ---------------------------------------------------------------------

def history_values(model_row, version_row, kind: str, target: str, previous: str | None, *, now: int, actor: str,
                   reason: str, policy_sha256: str | None = None, signature_ids=(), removed: bool = False) -> dict:
    """One version_stage_history row: `version_row` is a model_versions row, `model_row` its model's."""
    return {"model_pk": model_row.id, "version": version_row.version, "version_created": version_row.creation_timestamp,
            "model_name": model_row.name, "kind": kind, "target": target, "previous": previous,
            "removed": 1 if removed else 0, "changed_at": now, "changed_by": actor[:256], "reason": reason[:200],
            "policy_sha256": policy_sha256, "signature_ids": json.dumps(list(signature_ids)) if signature_ids else ""}


def insert_history(conn: Connection, rows: list[dict]) -> None:
    if rows:
        conn.execute(insert(version_stage_history), rows)


def history(conn: Connection, model_pk: int, version: int | None = None, version_created: int | None = None,
            limit: int = 10_000) -> list:
    q = select(version_stage_history).where(version_stage_history.c.model_pk == model_pk)
    if version is not None:
        q = q.where(version_stage_history.c.version == version,
                    version_stage_history.c.version_created == version_created)
    return conn.execute(q.order_by(version_stage_history.c.id).limit(limit)).all()


def history_to_wire(row) -> dict:
    out = {"version": str(row.version), "kind": row.kind, "changed_at": row.changed_at,
           "changed_by": row.changed_by, "model_name": row.model_name}
    if row.kind == "stage":
        out["stage"] = row.target
        if row.previous is not None:
            out["previous_stage"] = row.previous
    else:
        out["alias"] = row.target
        out["action"] = "removed" if row.removed else "set"
        if row.previous:
            out["previous_version"] = row.previous
    if row.reason:
        out["reason"] = row.reason
    if row.policy_sha256:
        out["policy_sha256"] = row.policy_sha256
    if row.signature_ids:
        ids = json.loads(row.signature_ids)
        if ids:
            out["signature_ids"] = [str(i) for i in ids]
    return out

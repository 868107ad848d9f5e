"""Recompute the chain and report the first broken link.

Detects an edited event (its hash no longer matches its content), a deleted or inserted
event (a gap in seq or a predecessor hash that does not match), reordered events (both),
and a truncated tail (a signed checkpoint beyond the chain's last event, or one whose
event no longer carries the signed hash).
"""
from __future__ import annotations

from dataclasses import dataclass

from medflow.audit.chain import GENESIS_HASH, event_hash
from medflow.audit.signing import CheckpointSigner
from medflow.store import audit as audit_store


@dataclass
class VerifyResult:
    ok: bool
    events: int
    checkpoints: int
    problem: str = ""
    seq: int | None = None  # the first event that failed


def verify_chain(conn, signer: CheckpointSigner | None) -> VerifyResult:
    expected_seq, prev, count = 1, GENESIS_HASH, 0
    for row in audit_store.iter_events(conn):
        event = row._asdict()
        if row.seq != expected_seq:
            what = "missing (deleted)" if row.seq > expected_seq else "duplicated or out of order"
            return VerifyResult(False, count, 0, f"event {expected_seq} is {what}: found event "
                                                 f"{row.seq} where {expected_seq} was expected", expected_seq)
        if row.prev_hash != prev:
            return VerifyResult(False, count, 0, f"event {row.seq} does not link to event {row.seq - 1}: "
                                                 "an event was inserted, deleted or reordered here", row.seq)
        if event_hash(event, row.prev_hash) != row.hash:
            return VerifyResult(False, count, 0, f"event {row.seq} was altered after it was written "
                                                 f"(action {row.action}, {row.resource_type} "
                                                 f"{row.resource_id})", row.seq)
        prev, expected_seq, count = row.hash, expected_seq + 1, count + 1
    last_seq = expected_seq - 1
    cps = audit_store.checkpoints(conn)
    for cp in cps:
        if signer is not None and (cp.key_id != signer.key_id or not signer.verify(cp.seq, cp.hash, cp.signature)):
            return VerifyResult(False, count, len(cps), f"checkpoint at event {cp.seq} has an invalid "
                                                        "signature (forged, or signed by another key)", cp.seq)
        if cp.seq > last_seq:
            return VerifyResult(False, count, len(cps), f"the chain ends at event {last_seq} but a signed "
                                                        f"checkpoint covers event {cp.seq}: the tail was "
                                                        "truncated", last_seq + 1)
        at = audit_store.event_at(conn, cp.seq)
        if at is None or at.hash != cp.hash:
            return VerifyResult(False, count, len(cps), f"event {cp.seq} no longer carries the hash its "
                                                        "signed checkpoint covers: the chain was rewritten", cp.seq)
    return VerifyResult(True, count, len(cps))

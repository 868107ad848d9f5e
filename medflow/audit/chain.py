"""Canonical serialisation of an audit event and the hash that links it to its predecessor."""
from __future__ import annotations

import hashlib
import json

GENESIS_HASH = "0" * 64

# The fields a hash covers, in order. Changing this list breaks every existing chain.
HASHED_FIELDS = ("seq", "event_time", "request_id", "actor", "actor_id", "auth_method",
                 "client_addr", "action", "resource_type", "resource_id", "outcome",
                 "error_code", "details")


# Built once (json.dumps with options builds an encoder per call; these run in every write request).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def canonical_details(details: dict) -> str:
    return _CANONICAL.encode(details)


def event_hash(event: dict, prev_hash: str) -> str:
    """SHA-256 of the JSON array [prev_hash, seq, event_time, ..., details]."""
    payload = f'["{prev_hash}",{json.dumps(event.get("seq"))},{hashed_tail(event)}'
    return hashlib.sha256(payload.encode()).hexdigest()


def hashed_tail(event: dict) -> str:
    """That array's text after seq: `event_time,...,details]`. PostgreSQL appends an event from it
    (medflow_audit_append in migration 0006), which knows prev_hash and seq only once it holds the chain lock."""
    return _COMPACT.encode([event.get(f) for f in HASHED_FIELDS[1:]])[1:]

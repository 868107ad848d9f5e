"""Both ways of appending to the chain produce the hashes `medflow audit verify` recomputes.

A write request appends its one event in its own transaction (on PostgreSQL inside the database,
by medflow_audit_append); reads and refusals are appended in batches (in Python). Events full of
what JSON must escape go through both, interleaved, and the chain must verify.
"""
from __future__ import annotations

from medflow.audit.context import RequestAudit
from medflow.audit.verify import verify_chain
from medflow.store import audit as audit_store

AWKWARD = ['quote " backslash \\ slash /', "tab\tnewline\ncontrol \u0001 nul \u0000", "Zürich 東京 🚑",
           "x" * 600, ""]


def event(i: int) -> dict:
    text = AWKWARD[i % len(AWKWARD)]
    audit = RequestAudit(action="POST runs/log-metric", resource_type="run", resource_id=text,
                         actor=text[:256] or "anonymous", actor_id=None if i % 2 else 2**31 - 1,
                         auth_method="bearer", client_addr="127.0.0.1", request_id=f"{i:032x}")
    audit.details = {"changes": [{"field": text, "old": None, "new": i * 0.5}], "nested": {"b": [1, "ü"]}}
    return audit.event(outcome="success" if i % 3 else "error", error_code=None if i % 3 else "INVALID_PARAMETER_VALUE",
                       now_ms=1_790_000_000_000 + i)


def test_single_and_batched_appends_verify_as_one_chain(database):
    db, _ = database
    i = 0
    for batch in (1, 3, 1, 1, 4, 1, 2, 1):
        with db.write() as conn:
            audit_store.append(conn, [event(i + k) for k in range(batch)])
        i += batch
    with db.read() as conn:
        result = verify_chain(conn, None)
        rows = list(audit_store.iter_events(conn))
    assert result.ok, result.problem
    assert result.events == i == len(rows) == 14
    assert [r.resource_id for r in rows[:5]] == [text.replace("\x00", "\ufffd") for text in AWKWARD]
    assert '"field":"tab\\tnewline\\ncontrol \\u0001 nul \\u0000"' in rows[1].details  # details keep it, escaped
    assert rows[0].prev_hash == "0" * 64 and rows[1].prev_hash == rows[0].hash

"""Reading the audit trail: filtered pages, field history at a point in time, verification."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from medflow.audit.export import event_to_dict
from medflow.audit.verify import verify_chain
from medflow.errors import MedflowError
from medflow.services.validation import check_max_results
from medflow.store import audit as audit_store

MAX_EVENTS_PER_PAGE = 5000
OUTCOMES = ("success", "denied", "error")


def parse_time(name: str, value: str | None) -> int | None:
    """Milliseconds since the epoch, or an ISO 8601 date/time (UTC when no zone is given)."""
    if value is None or value == "":
        return None
    if value.isdigit():
        return int(value)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MedflowError.invalid(f"'{name}' must be milliseconds since the epoch or an ISO 8601 "
                                   f"time such as 2026-03-01T00:00:00Z, got {value[:40]!r}.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp() * 1000)


class AuditService:
    def __init__(self, services):
        self.db = services.db
        self.trail = services.audit_trail

    def search(self, *, actor=None, resource_type=None, resource_id=None, action=None, outcome=None,
               since=None, until=None, max_results=100, page_token=None) -> tuple[list[dict], str | None]:
        check_max_results(max_results, MAX_EVENTS_PER_PAGE)
        if outcome is not None and outcome not in OUTCOMES:
            raise MedflowError.invalid(f"'outcome' must be one of {list(OUTCOMES)}.")
        after = 0
        if page_token:
            if not page_token.isdigit():
                raise MedflowError.invalid("Invalid page token: pass back next_page_token unchanged.")
            after = int(page_token)
        with self.db.read() as conn:
            rows = audit_store.query(conn, actor=actor, resource_type=resource_type, resource_id=resource_id,
                                     action=action, outcome=outcome, since=parse_time("since", since),
                                     until=parse_time("until", until), after_seq=after, limit=max_results + 1)
        token = str(rows[max_results - 1].seq) if len(rows) > max_results else None
        return [event_to_dict(r) for r in rows[:max_results]], token

    def field_history(self, *, resource_type: str, resource_id: str, field: str,
                      at: str | None = None) -> dict:
        """The value `field` of a resource had at time `at` (default now), and who set it when."""
        if not (resource_type and resource_id and field):
            raise MedflowError.invalid("resource_type, resource_id and field are required.")
        at_ms = parse_time("at", at)
        history, value_at = [], None
        with self.db.read() as conn:
            after = 0
            while True:
                rows = audit_store.query(conn, resource_type=resource_type, resource_id=resource_id,
                                         outcome="success", until=None if at_ms is None else at_ms + 1,
                                         after_seq=after, limit=1000)
                for row in rows:
                    for change in json.loads(row.details).get("changes", []):
                        if change["field"] == field:
                            entry = {"value": change["new"], "previous": change["old"], "changed_by": row.actor,
                                     "changed_at": row.event_time, "request_id": row.request_id, "seq": row.seq}
                            history.append(entry)
                            value_at = entry
                if len(rows) < 1000:
                    break
                after = rows[-1].seq
        return {"resource_type": resource_type, "resource_id": resource_id, "field": field,
                "at": at_ms, "value": value_at["value"] if value_at else None,
                "set_by": value_at["changed_by"] if value_at else None,
                "set_at": value_at["changed_at"] if value_at else None, "history": history}

    def verify(self) -> dict:
        if self.trail is None:
            raise MedflowError.invalid("The audit trail is disabled on this server.")
        self.trail.flush()
        with self.db.read() as conn:
            result = verify_chain(conn, self.trail.signer)
        return {"ok": result.ok, "events": result.events, "checkpoints": result.checkpoints,
                "problem": result.problem or None, "seq": result.seq}

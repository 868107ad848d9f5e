"""What the current request is, for the audit trail: set by the API layer, read at commit.

Services and stores add detail without knowing about HTTP: note_change() records the old
and new value of a field they change (Part 11: a change must not obscure what was there),
note_resource() names the resource when only the service knows it (e.g. a new run's id).
"""
from __future__ import annotations

import contextlib
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Iterator


@dataclass
class RequestAudit:
    action: str
    resource_type: str = "server"
    resource_id: str = "-"
    actor: str = "anonymous"
    actor_id: int | None = None
    auth_method: str = "none"
    client_addr: str = ""
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    changes: list[dict] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    committed_changes: int = -1  # how many changes a committed event already carries
    # Values the PHI guard flagged but let through (warn mode) -> what the trail shows instead.
    redactions: dict[str, str] = field(default_factory=dict)

    def restart(self) -> None:
        """Forget what a first attempt at the request noted (it committed nothing): it is served again."""
        fresh = RequestAudit(action=self.action, client_addr=self.client_addr, request_id=self.request_id)
        self.__dict__.update(fresh.__dict__)

    def event(self, *, outcome: str, error_code: str | None, now_ms: int) -> dict:
        details = dict(self.details)
        if self.changes:
            details["changes"] = [self._redacted(c) for c in self.changes]
        return {"event_time": now_ms, "request_id": self.request_id, "actor": _storable(self.actor),
                "actor_id": self.actor_id, "auth_method": _storable(self.auth_method),
                "client_addr": self.client_addr, "action": _storable(self.action),
                "resource_type": self.resource_type, "resource_id": _storable(self.resource_id[:600]),
                "outcome": outcome, "error_code": error_code, "details": details}


    def _redacted(self, change: dict) -> dict:
        if not self.redactions:
            return change
        return {k: self.redactions.get(v, v) if isinstance(v, str) else v for k, v in change.items()}


def _storable(text: str) -> str:
    """What a request named, as every backend can store it: PostgreSQL text cannot hold NUL, and
    one unstorable event must not cost the batch it is flushed with (U+FFFD marks the spot)."""
    return text.replace("\x00", "\ufffd")


_current: ContextVar[RequestAudit | None] = ContextVar("medflow_request_audit", default=None)


def current() -> RequestAudit | None:
    return _current.get()


@contextlib.contextmanager
def request_scope(audit: RequestAudit) -> Iterator[RequestAudit]:
    token = _current.set(audit)
    try:
        yield audit
    finally:
        _current.reset(token)


def note_change(field_name: str, old: object, new: object) -> None:
    """Record that `field_name` changed from `old` to `new` in the current request."""
    audit = _current.get()
    if audit is not None and old != new:
        audit.changes.append({"field": field_name, "old": old, "new": new})


def note_resource(resource_type: str, resource_id: str) -> None:
    audit = _current.get()
    if audit is not None:
        audit.resource_type, audit.resource_id = resource_type, str(resource_id)


def note_detail(key: str, value: object) -> None:
    """Attach a detail (never a PHI value: findings are recorded by field and kind only)."""
    audit = _current.get()
    if audit is not None:
        audit.details[key] = value


def mark_sensitive(original: str, shown_as: str) -> None:
    """Never write `original` to the audit trail: changes carrying it show `shown_as` instead."""
    audit = _current.get()
    if audit is not None:
        audit.redactions[original] = shown_as

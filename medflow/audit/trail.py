"""AuditTrail: appends request events, in the change's transaction or in small batches.

- write requests: Database.write() calls before_commit(conn) just before COMMIT, so the
  event and the change commit together (no change without its event, no event for a
  rolled-back change — also when the process dies mid-request).
- reads, denials and errors: queued and appended by a background thread every
  `flush_interval` seconds in one transaction, so auditing reads does not serialise them.
  Those events can be lost only if the process is killed within that interval.
- a signed checkpoint of the chain head every `checkpoint_interval` seconds.
"""
from __future__ import annotations

import logging
import queue
import threading
import time

from medflow.audit.context import RequestAudit, current
from medflow.audit.signing import CheckpointSigner
from medflow.auth import confirmation
from medflow.store import audit as audit_store
from medflow.store.schema import audit_events

log = logging.getLogger("medflow.audit")


def _now_ms() -> int:
    return int(time.time() * 1000)


class AuditTrail:
    def __init__(self, db, signer: CheckpointSigner, *, flush_interval: float = 0.2,
                 checkpoint_interval: float = 60.0):
        self.db = db
        self.signer = signer
        self.flush_interval = flush_interval
        self.checkpoint_interval = checkpoint_interval
        self._queue: queue.SimpleQueue[dict] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        db.before_commit.append(self.before_commit)

    # --- in the change's transaction ----------------------------------------------------
    def before_commit(self, conn) -> None:
        audit = current()
        if audit is None or audit.committed_changes == len(audit.changes):
            return  # outside a request, or nothing new since this request's last event
        claim = confirmation.unconfirmed()  # confirmed by the append itself: no round trip of its own
        seq = audit_store.append(conn, [audit.event(outcome="success", error_code=None, now_ms=_now_ms())],
                                 confirming=None if claim is None else claim.params(conn))
        if claim is not None:
            claim.settle(seq is not None)
        audit.committed_changes = len(audit.changes)

    # --- after the request ----------------------------------------------------------------
    def finish(self, audit: RequestAudit, *, outcome: str, error_code: str | None = None) -> None:
        """Queue the event of a request that committed no change (reads, denials, errors)."""
        if outcome == "success" and audit.committed_changes >= 0:
            return  # already recorded with its change
        self._queue.put(audit.event(outcome=outcome, error_code=error_code, now_ms=_now_ms()))

    def flush(self) -> int:
        events = []
        while True:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if not events:
            return 0
        try:
            with self.db.write() as conn:
                audit_store.append(conn, events)
        except Exception:  # noqa: BLE001 - one bad event must not cost the others theirs
            log.exception("audit flush of %d events failed; appending them one at a time", len(events))
            for i, event in enumerate(events):
                try:
                    self._append_alone(event)
                except Exception:
                    for rest in events[i:]:  # the database itself is failing: keep them for the next tick
                        self._queue.put(rest)
                    raise
        return len(events)

    def _append_alone(self, event: dict) -> None:
        try:
            with self.db.write() as conn:
                audit_store.append(conn, [event])
        except Exception:  # noqa: BLE001
            log.exception("audit event of request %s could not be stored; storing its outline", event["request_id"])
            with self.db.write() as conn:
                audit_store.append(conn, [_outline(event)])

    def checkpoint(self) -> int | None:
        """Sign the current chain head (if it moved since the last checkpoint)."""
        with self.db.write() as conn:
            seq, chain_hash = audit_store.locked_head(conn)
            if seq == 0 or seq <= audit_store.latest_checkpoint_seq(conn):
                return None
            audit_store.add_checkpoint(conn, seq=seq, hash_=chain_hash, created_at=_now_ms(),
                                       key_id=self.signer.key_id, signature=self.signer.sign(seq, chain_hash))
            return seq

    # --- background writer ------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="medflow-audit", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        self.flush()
        self.checkpoint()

    def _run(self) -> None:
        next_checkpoint = time.monotonic() + self.checkpoint_interval
        while not self._stop.wait(self.flush_interval):
            try:
                self.flush()
                if time.monotonic() >= next_checkpoint:
                    self.checkpoint()
                    next_checkpoint = time.monotonic() + self.checkpoint_interval
            except Exception:  # noqa: BLE001 - keep auditing; the failure is logged, retried next tick
                log.exception("audit flush or checkpoint failed; retried next tick")


def _outline(event: dict) -> dict:
    """An event that could not be stored, reduced to printable ASCII that fits every column."""
    def plain(key, value):
        size = getattr(audit_events.c[key].type, "length", None)
        if not isinstance(value, str):
            return value
        return value.encode("ascii", "backslashreplace").decode().replace("\x00", "\\x00")[:size]
    return {**{key: plain(key, value) for key, value in event.items() if key != "details"},
            "details": {"outline": "the full event could not be stored; the server log has why"}}

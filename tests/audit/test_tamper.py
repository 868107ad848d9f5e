"""Tampering with the audit tables directly is caught by `medflow audit verify`.

Each test writes a real chain through AuditTrail, then plays a database administrator who
disables the append-only triggers and edits, deletes, inserts, swaps or truncates rows;
`medflow audit verify` (the real CLI, in a subprocess) must exit 1 naming the event.
"""
from __future__ import annotations

import subprocess
import sys

import pytest
from sqlalchemy import text

from medflow.audit.context import RequestAudit, note_change, request_scope
from medflow.audit.signing import CheckpointSigner
from medflow.audit.trail import AuditTrail
from medflow.store.experiments import create as create_experiment


def write_chain(db, signer, events=8, checkpoint_at=None):
    trail = AuditTrail(db, signer)
    for i in range(events):
        audit = RequestAudit(action="POST experiments/create", actor=f"user{i % 3}")
        with request_scope(audit):
            with db.write() as conn:
                create_experiment(conn, name=f"exp-{i}", artifact_location=None, tags=[], now=1000 + i)
                note_change("name", None, f"exp-{i}")
        if checkpoint_at == i + 1:
            trail.checkpoint()
    return trail


def verify(url, key_path):
    return subprocess.run([sys.executable, "-m", "medflow", "audit", "verify", "--backend-store-uri", url,
                           "--signing-key", str(key_path)], capture_output=True, text=True, timeout=120)


def as_dba(db, *statements):
    """Run statements with the append-only triggers out of the way, as an attacker with DB rights."""
    with db.engine.connect() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            conn.execute(text("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER"))
        else:
            for trigger in ("audit_events_no_update", "audit_events_no_delete",
                            "audit_checkpoints_no_update", "audit_checkpoints_no_delete"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS {trigger}"))
        for statement in statements:
            conn.execute(text(statement))
        conn.commit()


@pytest.fixture
def signer(tmp_path):
    path = tmp_path / "audit-key.pem"
    return CheckpointSigner.load_or_create(path), path


def test_untouched_chain_verifies_clean(database, signer):
    db, url = database
    write_chain(db, signer[0], checkpoint_at=8)
    result = verify(url, signer[1])
    assert result.returncode == 0, result.stderr
    assert "intact: 8 events, 1 signed checkpoints" in result.stdout


def test_application_cannot_update_or_delete_audit_rows(database, signer):
    db, _ = database
    write_chain(db, signer[0], events=2)
    for statement in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"):
        with pytest.raises(Exception, match="append-only"):
            with db.write() as conn:
                conn.execute(text(statement))


@pytest.mark.parametrize("attack, broken_seq, words", [
    ("UPDATE audit_events SET actor = 'mallory' WHERE seq = 4", 4, "altered"),
    ("UPDATE audit_events SET details = '{}' WHERE seq = 6", 6, "altered"),
    ("DELETE FROM audit_events WHERE seq = 3", 3, "missing"),
])
def test_edit_or_delete_is_caught(database, signer, attack, broken_seq, words):
    db, url = database
    write_chain(db, signer[0])
    as_dba(db, attack)
    result = verify(url, signer[1])
    assert result.returncode == 1
    assert f"at event {broken_seq}" in result.stderr and words in result.stderr, result.stderr


def test_inserted_event_is_caught(database, signer):
    db, url = database
    write_chain(db, signer[0])
    # Make room at seq 5 and insert a forged event copied from seq 4 (with its own hashes).
    as_dba(db, "UPDATE audit_events SET seq = seq + 100 WHERE seq >= 5",
           "UPDATE audit_events SET seq = seq - 99 WHERE seq >= 105",
           "INSERT INTO audit_events SELECT 5, event_time, request_id, 'mallory', actor_id, auth_method, "
           "client_addr, action, resource_type, resource_id, outcome, error_code, details, prev_hash, hash "
           "FROM audit_events WHERE seq = 4")
    result = verify(url, signer[1])
    assert result.returncode == 1 and "at event 5" in result.stderr, result.stderr


def test_swapped_events_are_caught(database, signer):
    db, url = database
    write_chain(db, signer[0])
    as_dba(db, "UPDATE audit_events SET seq = 1000 WHERE seq = 3",
           "UPDATE audit_events SET seq = 3 WHERE seq = 4",
           "UPDATE audit_events SET seq = 4 WHERE seq = 1000")
    result = verify(url, signer[1])
    assert result.returncode == 1 and "at event 3" in result.stderr, result.stderr


def test_truncated_tail_is_caught_by_the_signed_checkpoint(database, signer):
    db, url = database
    write_chain(db, signer[0], events=8, checkpoint_at=8)
    as_dba(db, "DELETE FROM audit_events WHERE seq > 5")
    result = verify(url, signer[1])
    assert result.returncode == 1
    assert "truncated" in result.stderr and "at event 6" in result.stderr, result.stderr


def test_rewritten_chain_fails_the_checkpoint_signature_check(database, signer, tmp_path):
    """Someone recomputes every hash after an edit: the signed checkpoint no longer matches."""
    db, url = database
    write_chain(db, signer[0], events=6, checkpoint_at=6)
    from medflow.audit.chain import GENESIS_HASH, event_hash
    with db.engine.connect() as conn:
        rows = [r._asdict() for r in conn.execute(text("SELECT * FROM audit_events ORDER BY seq"))]
    rows[1]["actor"] = "mallory"
    prev, statements = GENESIS_HASH, []
    for row in rows:
        row["prev_hash"], row["hash"] = prev, event_hash(row, prev)
        prev = row["hash"]
        statements.append(f"UPDATE audit_events SET actor = '{row['actor']}', prev_hash = '{row['prev_hash']}', "
                          f"hash = '{row['hash']}' WHERE seq = {row['seq']}")
    as_dba(db, *statements)
    result = verify(url, signer[1])
    assert result.returncode == 1 and "rewritten" in result.stderr, result.stderr
    # A checkpoint forged with another key is rejected too.
    other = CheckpointSigner.load_or_create(tmp_path / "other.pem")
    as_dba(db, f"UPDATE audit_checkpoints SET hash = '{prev}', signature = '{other.sign(6, prev)}'")
    result = verify(url, signer[1])
    assert result.returncode == 1 and "invalid signature" in result.stderr, result.stderr

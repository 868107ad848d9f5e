"""Redaction, policy outcomes and client messages — none of which may carry the value."""
from __future__ import annotations

from medflow.guard import Finding, apply_policy, check, phi_message, redact, scan_text

SECRET = "KNIGHT, SARAH, DOB 1966/12/17, MRN 26126932"


def test_finding_repr_never_carries_the_value():
    findings = scan_text(SECRET, field="description")
    assert findings
    for finding in findings:
        for shown in (repr(finding), str(finding)):
            assert "KNIGHT" not in shown and "26126932" not in shown and "1966" not in shown


def test_redact_replaces_each_identifier_with_its_kind():
    findings = scan_text(SECRET, field="description")
    redacted = redact(SECRET, findings)
    assert "KNIGHT" not in redacted and "26126932" not in redacted and "1966" not in redacted
    assert "[REDACTED:name]" in redacted and "[REDACTED:mrn]" in redacted and "[REDACTED:date]" in redacted


def test_redact_merges_overlapping_findings():
    text = "abc 123 def"
    findings = [Finding("description", "mrn", 4, 7), Finding("description", "unique_id", 5, 7)]
    assert redact(text, findings) == "abc [REDACTED:mrn] def"


def test_message_names_field_and_kinds_and_never_the_value():
    findings = scan_text("Patel Brian, DOB 1962-03-14", field="tag_value", key="note")
    message = phi_message("tag 'note'", findings)
    assert message.startswith("tag 'note' looks like it contains a person's name and a date")
    assert "(PHI)" in message and "nothing was logged" in message
    assert "Patel" not in message and "1962" not in message


def test_messages_for_every_mode_mention_phi():
    findings = [Finding("param_value", "ssn", 0, 11)]
    for mode in ("block", "redact", "warn"):
        assert "PHI" in phi_message("param 'x'", findings, mode=mode)


def test_apply_policy_modes():
    text = "pt SSN 475-95-6419"
    findings = scan_text(text, field="description")
    assert apply_policy(text, [], "block").action == "allow"
    assert apply_policy(text, findings, "block").value is None
    assert apply_policy(text, findings, "redact").value == "pt SSN [REDACTED:ssn]"
    assert apply_policy(text, findings, "warn").value == text


def test_check_for_training_code():
    findings = check(params={"lr": 0.1, "patient_mrn": "12169796"},
                     tags={"reviewed_case": "Mr. Michael Cook", "team": "ml-platform"},
                     metrics=["auc", "risk_timothyromero"], run_name="gbm-v2.3",
                     description="Baseline GBM on vitals+labs.")
    where = {(f.location, f.kind) for f in findings}
    assert ("params[1] value", "mrn") in where
    assert ("tags[0] value", "name") in where
    assert ("metrics[1] key", "name") in where
    assert len(findings) == 3
    assert check(params={"lr": 0.1, "max_depth": 6}, tags={"team": "ml"}) == []

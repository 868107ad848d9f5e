"""Release gates and the approval count: what a transition still needs, phrase by phrase."""
from __future__ import annotations

import math

from medflow.governance.gates import Evidence, gate_failures
from medflow.governance.policy import ApprovalRequirement, Gates, MetricGate, Requirement, TagGate
from medflow.governance.transitions import ReviewState, SignatureState, assess

GATES = Gates(metrics=(MetricGate("auc_roc", ">=", 0.85, "0.85"), MetricGate("sensitivity", ">=", 0.8, "0.80")),
              tags=(TagGate("fda_documentation_id"), TagGate("clinical_review_status", "approved")),
              artifacts=("model_card.md",))
BOARD = Requirement(approvals=(ApprovalRequirement("clinical-reviewer", 2),))
CLINICAL = frozenset({"clinical-reviewer", "reviewer"})


def evidence(**overrides) -> Evidence:
    values = {"run_id": "r1", "metrics": {"auc_roc": 0.91, "sensitivity": 0.86},
              "run_tags": {"clinical_review_status": "approved"}, "version_tags": {"fda_documentation_id": "DOC-1"},
              "artifacts_present": frozenset({"model_card.md"})}
    return Evidence(**{**values, **overrides})


def test_gates_pass_on_good_evidence():
    assert gate_failures(GATES, evidence()) == []


def test_each_failed_gate_is_one_phrase():
    failures = gate_failures(GATES, evidence(metrics={"auc_roc": 0.83, "sensitivity": math.nan},
                                             run_tags={"clinical_review_status": "pending"}, version_tags={},
                                             artifacts_present=frozenset()))
    assert failures == ["gate auc_roc >= 0.85 failed: 0.83",
                        "gate sensitivity >= 0.80 failed: NaN",
                        "tag fda_documentation_id missing (set it on the model version or its source run)",
                        "tag clinical_review_status=approved missing: it is 'pending'",
                        "artifact model_card.md missing (log it with the model or to the source run)"]


def test_metric_gates_name_a_missing_metric_or_run():
    assert gate_failures(GATES, evidence(metrics={"auc_roc": 0.9}))[0] == \
        "gate sensitivity >= 0.80 failed: the source run has no metric sensitivity"
    assert gate_failures(Gates(metrics=GATES.metrics), evidence(run_id=None))[0] == \
        "gate auc_roc >= 0.85 failed: the version has no source run"


def test_a_tag_on_the_run_satisfies_the_gate_too():
    only_run = evidence(version_tags={}, run_tags={"fda_documentation_id": "DOC-1", "clinical_review_status": "approved"})
    assert gate_failures(GATES, only_run) == []


def sig(i, who, decision="approved", groups=CLINICAL, problem=None, comment="") -> SignatureState:
    return SignatureState(id=i, signer_id=i, signer_username=who, signer_name=who.title(), decision=decision,
                          groups=groups, signed_at=1_700_000_000_000, comment=comment, problem=problem)


def review(*signatures, status="open") -> ReviewState:
    return ReviewState(7, status, tuple(signatures))


def test_without_a_review_nothing_counts():
    assert assess(BOARD, None, {}, []).missing == [
        "needs 2 approvals from clinical-reviewer, has 0 (no review has been requested)"]


def test_two_distinct_clinical_reviewers_are_needed():
    result = assess(BOARD, review(sig(1, "ann")), {}, ["gate auc_roc >= 0.85 failed: 0.83"])
    assert result.missing == ["needs 2 approvals from clinical-reviewer, has 1", "gate auc_roc >= 0.85 failed: 0.83"]
    outsider = sig(2, "bob", groups=frozenset({"reviewer"}))
    assert assess(BOARD, review(sig(1, "ann"), outsider), {}, []).missing == [
        "needs 2 approvals from clinical-reviewer, has 1"]
    allowed = assess(BOARD, review(sig(1, "ann"), sig(3, "cy")), {}, [])
    assert allowed.allowed and allowed.counted_signature_ids == [1, 3]


def test_authors_and_changed_content_do_not_count_and_say_why():
    result = assess(BOARD, review(sig(1, "ann"), sig(2, "dee", problem="content changed since signing (artifact "
                                                                       "model.pkl changed)")),
                    {"ann": "registered this version"}, [])
    assert result.missing == ["needs 2 approvals from clinical-reviewer, has 0 (ann's approval does not count: "
                              "ann registered this version; dee's approval no longer verifies: content changed "
                              "since signing (artifact model.pkl changed))"]


def test_separation_of_duties_can_be_waived_by_the_policy():
    waived = Requirement(approvals=(ApprovalRequirement("clinical-reviewer", 1),), separation_of_duties=False)
    assert assess(waived, review(sig(1, "ann")), {"ann": "registered this version"}, []).allowed


def test_a_rejection_blocks_until_a_new_review():
    result = assess(BOARD, review(sig(1, "ann"), sig(2, "bob", "rejected", comment="Calibration drifts."),
                                  status="rejected"), {}, [])
    assert result.missing == ["review request 7 was rejected by Bob (bob) on 2023-11-14T22:13:20.000Z: "
                              "Calibration drifts.; a new review request is needed"]


def test_gates_alone_need_no_review():
    gated = Requirement(gates=GATES)
    assert assess(gated, None, {}, []).allowed

"""What a governed transition (to a stage, or onto a protected alias) still needs.

`assess()` takes the requirement from the policy, the review state of the version for that
target (its latest review request and the latest signature of each signer in it), who is
barred by separation of duties, and the failed gates; it returns the missing items as
short phrases, e.g. "needs 2 approvals from clinical-reviewer, has 1", which the service
joins into the PERMISSION_DENIED message. An approval counts when it is the signer's
latest decision in the current review, it still verifies (content unchanged, record
intact), the signer was in the required group or role when signing, and the signer did
not author the version or its source run. Each person counts once per requirement.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from medflow.governance.policy import Requirement
from medflow.governance.signatures import utc_text

OPEN, REJECTED, COMPLETED = "open", "rejected", "completed"


@dataclass(frozen=True)
class SignatureState:
    id: int
    signer_id: int | None
    signer_username: str
    signer_name: str
    decision: str
    groups: frozenset[str]   # the signer's groups and roles when signing
    signed_at: int
    comment: str
    problem: str | None = None  # why it no longer verifies; None when it does

    @property
    def valid(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class ReviewState:
    request_id: int
    status: str
    signatures: tuple[SignatureState, ...]  # latest per signer, oldest first


@dataclass
class Assessment:
    missing: list[str] = field(default_factory=list)
    counted_signature_ids: list[int] = field(default_factory=list)

    @property
    def allowed(self) -> bool:
        return not self.missing


def assess(requirement: Requirement, review: ReviewState | None, disqualified: dict[str, str],
           gate_failures: list[str]) -> Assessment:
    """`disqualified` maps a user name to why it cannot approve (e.g. "created this version")."""
    result = Assessment()
    if requirement.approvals:
        _approvals(requirement, review, disqualified, result)
    result.missing += gate_failures
    return result


def _approvals(requirement: Requirement, review: ReviewState | None, disqualified: dict[str, str],
               result: Assessment) -> None:
    if review is None:
        for need in requirement.approvals:
            result.missing.append(f"needs {need.describe()}, has 0 (no review has been requested)")
        return
    rejections = [s for s in review.signatures if s.decision == "rejected"]
    if rejections or review.status == REJECTED:
        for s in rejections:
            note = f": {s.comment[:200]}" if s.comment else ""
            result.missing.append(f"review request {review.request_id} was rejected by {s.signer_name} "
                                  f"({s.signer_username}) on {utc_text(s.signed_at)}{note}; "
                                  "a new review request is needed")
        if not rejections:
            result.missing.append(f"review request {review.request_id} was rejected; a new review request is needed")
        return
    for need in requirement.approvals:
        counted, notes = set(), []
        for s in review.signatures:
            if s.decision != "approved" or need.group not in s.groups:
                continue
            if s.problem is not None:
                notes.append(f"{s.signer_username}'s approval no longer verifies: {s.problem}")
            elif requirement.separation_of_duties and s.signer_username in disqualified:
                notes.append(f"{s.signer_username}'s approval does not count: "
                             f"{s.signer_username} {disqualified[s.signer_username]}")
            elif s.signer_username not in counted:
                counted.add(s.signer_username)
                result.counted_signature_ids.append(s.id)
        if len(counted) < need.count:
            text = f"needs {need.describe()}, has {len(counted)}"
            if notes:
                text += f" ({'; '.join(notes)})"
            result.missing.append(text)

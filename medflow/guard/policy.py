"""What happens to a write with findings: block, redact or warn — and what the client is told.

Messages name the field and the kinds of identifier, never the value, so they are safe to
return to the client, write to the server log and keep in the audit trail.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from medflow.guard.findings import KIND_DESCRIPTIONS, Finding


@dataclass(frozen=True, slots=True)
class GuardOutcome:
    """The guard's verdict on one value.

    action: "allow" (no findings), "block", "redact" or "warn".
    value: what to store — the original text (allow, warn), the redacted text (redact), or
           None (block: nothing is stored).
    """

    action: str
    findings: tuple[Finding, ...]
    value: str | None


def apply_policy(text: str, findings: Iterable[Finding], mode: str) -> GuardOutcome:
    findings = tuple(findings)
    if not findings:
        return GuardOutcome("allow", (), text)
    if mode == "block":
        return GuardOutcome("block", findings, None)
    if mode == "redact":
        return GuardOutcome("redact", findings, redact(text, findings))
    if mode == "warn":
        return GuardOutcome("warn", findings, text)
    raise ValueError(f"unknown guard mode {mode!r}; expected block, redact or warn")


def redact(text: str, findings: Iterable[Finding]) -> str:
    """`text` with each finding's span replaced by [REDACTED:<kind>] (overlaps merged)."""
    spans = sorted((f.start, f.end, f.kind) for f in findings if 0 <= f.start < f.end <= len(text))
    merged: list[list] = []
    for start, end, kind in spans:
        if merged and start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
            continue
        merged.append([start, end, kind])
    parts: list[str] = []
    cursor = 0
    for start, end, kind in merged:
        parts.append(text[cursor:start])
        parts.append(f"[REDACTED:{kind}]")
        cursor = end
    parts.append(text[cursor:])
    return "".join(parts)


def describe_kinds(findings: Iterable[Finding]) -> str:
    """"a person's name and a date tied to a person", in first-seen order, without repeats."""
    kinds: list[str] = []
    for finding in findings:
        if finding.kind not in kinds:
            kinds.append(finding.kind)
    phrases = [KIND_DESCRIPTIONS.get(k, "an identifier") for k in kinds]
    if len(phrases) <= 1:
        return phrases[0] if phrases else "an identifier"
    return ", ".join(phrases[:-1]) + " and " + phrases[-1]


def phi_message(field_description: str, findings: Iterable[Finding], mode: str = "block") -> str:
    """The client-facing explanation, e.g. for `tag 'note'`:

    "tag 'note' looks like it contains a person's name and a date tied to a person (PHI);
    nothing was logged. Remove the identifier, or ask an admin to allowlist it if it is not
    patient data."

    `field_description` is chosen by the caller and must not contain the value (nor a key
    that was itself flagged).
    """
    findings = list(findings)
    what = f"{field_description} looks like it contains {describe_kinds(findings)} (PHI)"
    if mode == "redact":
        return (f"{what}; it was stored with the identifier replaced by [REDACTED]. "
                "Remove the identifier at the source, or ask an admin to allowlist it if it is not patient data.")
    if mode == "warn":
        return (f"{what}; it was logged and the finding was recorded for review. "
                "Remove the identifier, or ask an admin to allowlist it if it is not patient data.")
    return (f"{what}; nothing was logged. "
            "Remove the identifier, or ask an admin to allowlist it if it is not patient data.")

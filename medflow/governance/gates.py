"""Release gates: metric thresholds, required tags, required artifacts and a clean PHI scan,
checked on evidence.

The evidence is what the registry holds about a version at the moment of the check: the
source run's latest metric values and tags, the version's tags, which of the required
artifact files exist, and what the PHI guard found in the version's files (the kinds of
identifier per file, never the values). Each failed gate becomes one short phrase of the refusal message
("gate auc_roc >= 0.85 failed: 0.83"), so the caller learns exactly what is missing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from medflow.governance.policy import Gates
from medflow.guard import KIND_DESCRIPTIONS

PHI_SCAN_MAX_FILES = 1000   # files scanned per version; beyond it the gate cannot pass
PHI_SCAN_MAX_REPORTED = 5   # flagged files named in the refusal; the rest are counted


@dataclass(frozen=True)
class PhiScan:
    """What the PHI guard found in a version's files."""
    flagged: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (which file, finding kinds), in scan order
    files_scanned: int = 0
    over_limit: int = 0         # the cap on files, when the version has more: the rest were not scanned
    problem: str | None = None  # why the files could not be scanned (the gate fails)


@dataclass(frozen=True)
class Evidence:
    run_id: str | None
    metrics: dict[str, float] = field(default_factory=dict)   # the source run's latest values
    run_tags: dict[str, str] = field(default_factory=dict)
    version_tags: dict[str, str] = field(default_factory=dict)
    artifacts_present: frozenset[str] = frozenset()           # required paths that exist
    phi_scan: PhiScan | None = None                           # when the gate asks for it


def show_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(value)


def gate_failures(gates: Gates, evidence: Evidence) -> list[str]:
    """One phrase per failed gate, in policy order; [] when every gate passes."""
    failures = []
    for gate in gates.metrics:
        if evidence.run_id is None:
            failures.append(f"gate {gate.describe()} failed: the version has no source run")
        elif gate.key not in evidence.metrics:
            failures.append(f"gate {gate.describe()} failed: the source run has no metric {gate.key}")
        elif not gate.passes(evidence.metrics[gate.key]):
            failures.append(f"gate {gate.describe()} failed: {show_value(evidence.metrics[gate.key])}")
    for tag in gates.tags:
        value = evidence.version_tags.get(tag.key, evidence.run_tags.get(tag.key))
        if tag.value is None and not value:
            failures.append(f"tag {tag.key} missing (set it on the model version or its source run)")
        elif tag.value is not None and value != tag.value:
            found = "not set" if value is None else f"it is '{value[:80]}'"
            failures.append(f"tag {tag.describe()} missing: {found}")
    for path in gates.artifacts:
        if path not in evidence.artifacts_present:
            failures.append(f"artifact {path} missing (log it with the model or to the source run)")
    if gates.phi_scan:
        failures += _phi_scan_failures(evidence.phi_scan)
    return failures


def describe_kinds(kinds) -> str:
    """"a person's name and a date tied to a person" (as the PHI guard's messages say it)."""
    phrases = [KIND_DESCRIPTIONS.get(k, "an identifier") for k in dict.fromkeys(kinds)] or ["an identifier"]
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _phi_scan_failures(scan: PhiScan | None) -> list[str]:
    if scan is None:
        return ["gate phi_scan failed: the version's files were not scanned"]
    failures = [f"gate phi_scan failed: {what} contains {describe_kinds(kinds)} (PHI)"
                for what, kinds in scan.flagged[:PHI_SCAN_MAX_REPORTED]]
    if len(scan.flagged) > PHI_SCAN_MAX_REPORTED:
        more = len(scan.flagged) - PHI_SCAN_MAX_REPORTED
        failures.append(f"gate phi_scan failed: {more} more file{'s' if more != 1 else ''} contain PHI")
    if scan.over_limit:
        failures.append(f"gate phi_scan failed: the version has more than {scan.over_limit} files; only the "
                        f"first {scan.over_limit} were scanned, so it cannot be shown clean")
    if scan.problem:
        failures.append(f"gate phi_scan failed: {scan.problem}")
    return failures

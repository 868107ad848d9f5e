"""Release gates: metric thresholds, required tags and required artifacts, checked on evidence.

The evidence is what the registry holds about a version at the moment of the check: the
source run's latest metric values and tags, the version's tags, and which of the required
artifact files exist. Each failed gate becomes one short phrase of the refusal message
("gate auc_roc >= 0.85 failed: 0.83"), so the caller learns exactly what is missing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from medflow.governance.policy import Gates


@dataclass(frozen=True)
class Evidence:
    run_id: str | None
    metrics: dict[str, float] = field(default_factory=dict)   # the source run's latest values
    run_tags: dict[str, str] = field(default_factory=dict)
    version_tags: dict[str, str] = field(default_factory=dict)
    artifacts_present: frozenset[str] = frozenset()           # required paths that exist


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
    return failures

"""`medflow.guard.check`: the guard, callable from training code before anything is logged.

    from medflow import guard

    findings = guard.check(params=params, tags=tags, run_name="sepsis-lgbm")
    if findings:
        raise SystemExit(guard.phi_message("this run's metadata", findings))
    mlflow.log_params(params)

It runs the same detectors as the server, so a run that passes here is not rejected there
(given the same site configuration).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from medflow.guard.config import DEFAULT_CONFIG, GuardConfig
from medflow.guard.findings import Finding
from medflow.guard.scan import scan_text


def check(params: Mapping[str, Any] | None = None, tags: Mapping[str, Any] | None = None, *,
          metrics: Iterable[str] | Mapping[str, Any] | None = None, run_name: str | None = None,
          experiment_name: str | None = None, description: str | None = None,
          config: GuardConfig | None = None) -> list[Finding]:
    """Findings in what a run is about to log. Each Finding's `location` says which entry
    ("params[2] key", "tags[0] value", ...) by position, never by copying the text."""
    config = config or DEFAULT_CONFIG
    findings: list[Finding] = []

    def scan(text: Any, field: str, where: str, key: str | None = None) -> None:
        if text is None:
            return
        for finding in scan_text(str(text), field=field, key=key, config=config):
            findings.append(finding.shifted(0, location=where))

    for label, entries, key_field, value_field in (("params", params, "param_key", "param_value"),
                                                   ("tags", tags, "tag_key", "tag_value")):
        for index, (key, value) in enumerate((entries or {}).items()):
            scan(key, key_field, f"{label}[{index}] key")
            scan(value, value_field, f"{label}[{index}] value", key=str(key))
    for index, key in enumerate(metrics or ()):
        scan(key, "metric_key", f"metrics[{index}] key")
    scan(run_name, "run_name", "run name")
    scan(experiment_name, "experiment_name", "experiment name")
    scan(description, "description", "description")
    return findings

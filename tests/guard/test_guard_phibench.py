"""The phi-bench development split, scored in process with its own scorer.

Targets: recall >= 0.98 overall, every identifier type >= 0.90, false-positive rate on
ordinary ML metadata <= 1%.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

PHI_BENCH = Path(__file__).parents[3] / "shared" / "phi-bench"


@pytest.fixture(scope="module")
def summary():
    if not (PHI_BENCH / "score.py").exists() or not (PHI_BENCH / "dev.jsonl").exists():
        pytest.skip(f"phi-bench not found at {PHI_BENCH} (it lives in the shared folder beside the repo)")
    spec = importlib.util.spec_from_file_location("phi_bench_score", PHI_BENCH / "score.py")
    scorer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scorer)
    items = scorer.load_items([str(PHI_BENCH / "dev.jsonl")])
    flagged, _throughput, _extra, errors = scorer.run_python(items, "medflow.guard.scan:contains_phi", False)
    assert not errors, errors[:3]
    return scorer.summarize(items, flagged)


def test_recall(summary):
    assert summary["recall"] >= 0.98


def test_every_identifier_type(summary):
    weak = {t: r["recall"] for t, r in summary["recall_by_type"].items() if r["recall"] < 0.90}
    assert not weak


def test_false_positive_rate(summary):
    assert summary["fpr"] <= 0.01

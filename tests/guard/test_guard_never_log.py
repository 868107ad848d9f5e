"""The seed's "What to NEVER log" list: patient names, MRNs, DOBs, SSNs, addresses, phone
numbers and emails written as params, tags or descriptions are each flagged; the seed's
own SAFE logging example is not. Synthetic values only."""
from __future__ import annotations

import pytest

from medflow.guard import scan_text

NEVER_LOG = {
    "name": ("patient_name", "Kimberly Foster"),
    "mrn": ("mrn", "26789777"),
    "date": ("dob", "1962-03-14"),
    "ssn": ("ssn", "475-95-6419"),
    "address": ("address", "717 Robert Expressway Suite 519, San Diego, CA 91951"),
    "phone": ("phone", "(548) 984-6256"),
    "email": ("email", "bmoore@gmail.com"),
}


@pytest.mark.parametrize("kind", sorted(NEVER_LOG))
@pytest.mark.parametrize("where", ["param", "tag", "description"])
def test_never_log_items_are_flagged(kind, where):
    key, value = NEVER_LOG[kind]
    if where == "description":
        findings = scan_text(f"Excluded patient: {key} {value}.", field="description")
    else:
        findings = scan_text(value, field=f"{where}_value", key=key)
    assert kind in {f.kind for f in findings}


def test_the_seeds_safe_example_passes():
    params = {"model_type": "GradientBoostingClassifier", "n_estimators": "200", "max_depth": "6",
              "learning_rate": "0.1", "data_version": "v2.3", "feature_set": "vitals+labs+demo",
              "train_size": "9643", "test_size": "2411", "positive_rate": "0.0713",
              "training_date": "2025-11-26T14:03:11.532118", "data_hash": "5b1f0c2e9a7d"}
    for key, value in params.items():
        assert not scan_text(key, field="param_key"), key
        assert not scan_text(value, field="param_value", key=key), key
    for metric in ("auc_roc", "sensitivity", "specificity", "ppv", "npv", "f1"):
        assert not scan_text(metric, field="metric_key")
    assert not scan_text("gbm-v2.3-20251126", field="run_name")
    assert not scan_text("sepsis-early-warning-system", field="experiment_name")
    assert not scan_text("GBM trained on v2.3 dataset, AUC 0.89, approved by clinical review",
                         field="description")

"""What a signature is bound to (§11.70), and how a broken binding is explained."""
from __future__ import annotations

import json

from medflow.artifacts.local import LocalArtifactStore
from medflow.governance.signatures import (artifact_digests, canonical_json, content_hash, content_manifest,
                                           describe_changes, manifestation, record_hash, signature_problem,
                                           utc_text)


def manifest(**overrides):
    values = {"version": 3, "source": "runs:/r1/model", "storage_location": "mlflow-artifacts:/1/r1/artifacts/model",
              "run_id": "r1", "model_id": None, "metrics": {"auc_roc": 0.91, "loss": float("nan")},
              "params": {"n_estimators": "200"}, "artifacts": {"MLmodel": "a" * 64, "model.pkl": "b" * 64}}
    return content_manifest(**{**values, **overrides})


def test_the_hash_covers_run_metrics_params_and_files_but_not_the_name():
    base = content_hash(manifest())
    assert base == content_hash(manifest())
    for change in ({"metrics": {"auc_roc": 0.92, "loss": float("nan")}}, {"params": {"n_estimators": "300"}},
                   {"artifacts": {"MLmodel": "a" * 64, "model.pkl": "c" * 64}}, {"run_id": "r2"},
                   {"source": "runs:/r1/other"}):
        assert content_hash(manifest(**change)) != base, change
    assert manifest()["run"]["metrics"]["loss"] == "NaN"


def test_what_changed_is_named():
    assert describe_changes(manifest(), manifest(artifacts={"MLmodel": "a" * 64, "model.pkl": "c" * 64})) == [
        "artifact model.pkl changed"]
    assert describe_changes(manifest(), manifest(metrics={"auc_roc": 0.83, "loss": float("nan")},
                                                 params={"n_estimators": "200", "seed": "1"})) == [
        "metric auc_roc changed from 0.91 to 0.83", "param seed added"]
    many = manifest(artifacts={f"f{i}": "0" * 64 for i in range(9)})
    assert describe_changes(manifest(), many)[-1] == "and 6 more"


def test_artifact_digests_read_every_file_through_the_store(tmp_path):
    store = LocalArtifactStore(str(tmp_path / "artifacts"))
    root = tmp_path / "artifacts" / "1" / "r1" / "artifacts" / "model"
    (root / "sub").mkdir(parents=True)
    (root / "MLmodel").write_text("flavors: {}\n")
    (root / "sub" / "weights.bin").write_bytes(b"\x00\x01")
    digests = artifact_digests(store, "1/r1/artifacts/model")
    assert sorted(digests) == ["MLmodel", "sub/weights.bin"]
    assert digests["sub/weights.bin"] == "b413f47d13ee2fe6c845b2ee141af81de858df4ec549a58b7970bb96645bc8d2"
    assert artifact_digests(store, "1/r1/artifacts/model/MLmodel") == {"MLmodel": digests["MLmodel"]}
    assert artifact_digests(store, None) == {}


def signed_row(current: dict, **overrides) -> dict:
    fields = {"request_id": 1, "model_pk": 1, "version": 3, "version_created": 5, "target_kind": "stage",
              "target": "Production", "decision": "approved", "meaning": "approval", "signer_id": 9,
              "signer_username": "ann", "signer_name": "Ann Example, MD", "signed_at": 1_700_000_000_000,
              "comment": "ok", "content_hash": content_hash(current)}
    fields.update(manifest=canonical_json(current), record_hash=record_hash(fields))
    return {**fields, **overrides}


def test_a_signature_verifies_until_content_or_record_changes():
    current = manifest()
    row = signed_row(current)
    assert signature_problem(row, content_hash(current), current) is None
    changed = manifest(artifacts={"MLmodel": "a" * 64, "model.pkl": "c" * 64})
    assert signature_problem(row, content_hash(changed), changed) == \
        "content changed since signing (artifact model.pkl changed)"
    forged = dict(row, signer_name="Somebody Else")
    assert signature_problem(forged, content_hash(current), current) == \
        "the stored signature record was altered after signing"
    swapped = dict(row, manifest=json.dumps({"format": "x"}))
    assert "stored manifest was altered" in signature_problem(swapped, content_hash(changed), changed)


def test_the_manifestation_shows_name_time_and_meaning():
    assert utc_text(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"
    assert manifestation("approved", "Ann Example, MD", "ann", 1_700_000_000_123, "approval") == \
        "Approved by Ann Example, MD (ann) on 2023-11-14T22:13:20.123Z - meaning: approval"

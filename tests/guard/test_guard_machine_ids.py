"""Identifiers a server generates (run ids, logged-model ids, UUIDs) are not patient identifiers.

Their random hex digits once read as dates, phone or account numbers ("…98acc822740…"), so an
MLmodel file was blocked about once in 600 uploads.
"""
import random
import uuid

from medflow.guard import scan_artifact, scan_text

SEEN_AS_PHI_BEFORE = ["92a127a8b4e04f5a98acc822740fa1c2", "8432badf789249c3932db3acc2100956",
                      "3af6acc1896045aaa48acc822740fa1c", "26f173532017488c95d5dec38ea94d11"]


def mlmodel(run_id: str, model_id: str, model_uuid: str) -> bytes:
    return (f"artifact_path: model\nmlflow_version: 3.17.2\nmodel_id: m-{model_id}\nmodel_size_bytes: 5436839\n"
            f"model_uuid: {model_uuid}\nrun_id: {run_id}\nutc_time_created: '2026-11-26 21:17:05.123456'\n").encode()


def test_known_run_ids_are_not_flagged():
    for value in SEEN_AS_PHI_BEFORE:
        assert scan_artifact("MLmodel", mlmodel(value, value, value)) == []
        assert scan_text(value, field="tag_value", key="mlflow.parentRunId") == []


def test_random_machine_ids_in_mlmodel_files_are_not_flagged():
    rng = random.Random(1234)
    for _ in range(2000):
        ids = [uuid.UUID(int=rng.getrandbits(128)).hex for _ in range(3)]
        assert scan_artifact("MLmodel", mlmodel(*ids)) == [], ids


def test_an_id_logged_under_a_patient_key_is_still_phi():
    assert scan_text(SEEN_AS_PHI_BEFORE[0], field="param_value", key="patient_id")


def test_short_hex_hashes_in_names_are_not_flagged():
    """git-style short hashes and random suffixes once read as a date ("4feb1861") or a name."""
    for name in ("registry-4feb1861", "phi-guard-abe7d59c", "phi-guard-edd6e43f", "model-3af6acc"):
        assert scan_text(name, field="run_name") == [], name
        assert scan_text(name, field="model_name") == [], name
    rng = random.Random(99)
    for _ in range(3000):
        suffix = "".join(rng.choice("0123456789abcdef") for _ in range(8))
        assert scan_text(f"sepsis-{suffix}", field="experiment_name") == [], suffix

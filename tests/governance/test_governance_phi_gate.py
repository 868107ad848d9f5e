"""The `phi_scan: clean` release gate: a version's files scanned with the PHI guard, through a real
artifact store on a temporary directory. Messages name the file and the kinds, never the value.
Synthetic values only."""
from __future__ import annotations

from pathlib import Path

import pytest

from medflow.artifacts.local import LocalArtifactStore
from medflow.governance.evidence import phi_scan
from medflow.governance.gates import Evidence, PhiScan, gate_failures
from medflow.governance.policy import Gates, PolicyError, load_policy_bytes
from medflow.guard import GuardConfig

ROOT = "1/run-abc/artifacts/model"
NAMES_CSV = b"patient_name,age,lactate\nJohn Smith,67,2.1\nMaria Garcia,54,3.4\n"
CONFIG = GuardConfig()
GATE = Gates(phi_scan=True)


@pytest.fixture
def store(tmp_path) -> LocalArtifactStore:
    return LocalArtifactStore(str(tmp_path / "artifacts"))


def write(store: LocalArtifactStore, relative: str, data: bytes) -> None:
    path = Path(store.root) / ROOT / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def failures(store, root=ROOT, **kwargs) -> list[str]:
    return gate_failures(GATE, Evidence(run_id="r1", phi_scan=phi_scan(store, root, CONFIG, **kwargs)))


def model_dir(store) -> None:
    write(store, "MLmodel", b"artifact_path: model\nflavors: {}\n")
    write(store, "requirements.txt", b"scikit-learn==1.4.2\n")
    write(store, "model.pkl", b"\x80\x04\x95 binary weights \x00\x01")


def test_the_policy_accepts_phi_scan_clean_and_nothing_else():
    text = "version: 1\nrules:\n  - models: '*'\n    stages:\n      Production:\n        gates:\n          phi_scan: {}\n"
    gates = load_policy_bytes(text.format("clean").encode()).rules[0].stages["Production"].gates
    assert gates.phi_scan is True and bool(gates)
    with pytest.raises(PolicyError, match=r"rules\[0\]\.stages\.Production\.gates\.phi_scan must be 'clean'"):
        load_policy_bytes(text.format("yes").encode())
    wire = load_policy_bytes(text.format("clean").encode()).to_wire()
    assert wire["rules"][0]["stages"]["Production"]["gates"] == {"phi_scan": "clean"}


def test_a_clean_model_directory_passes(store):
    model_dir(store)
    scan = phi_scan(store, ROOT, CONFIG)
    assert scan.flagged == () and scan.files_scanned == 3 and scan.over_limit == 0
    assert failures(store) == []


def test_a_csv_of_patient_names_fails_naming_file_and_kind_never_the_value(store):
    model_dir(store)
    write(store, "data/sample.csv", NAMES_CSV)
    message = failures(store)
    assert message == ["gate phi_scan failed: artifact data/sample.csv contains a person's name (PHI)"]
    assert "John" not in message[0] and "Garcia" not in message[0]


def test_binary_files_are_judged_by_their_name_only_and_a_flagged_name_is_not_quoted(store):
    write(store, "weights.pkl", b"John Smith\n")          # binary by suffix: content not read
    assert failures(store) == []
    write(store, "scans/John Smith.png", b"\x89PNG\x00")
    message = failures(store)
    assert message == ["gate phi_scan failed: an artifact file name in scans/ contains a person's name (PHI)"]
    assert "Smith" not in message[0]


def test_only_the_configured_head_of_each_file_is_read(store):
    write(store, "log.txt", b"epoch 1 loss 0.25\n" * 20 + b"patient John Smith seen\n")
    assert phi_scan(store, ROOT, CONFIG).flagged == (("artifact log.txt", ("name",)),)  # within the default limit
    small = GuardConfig(max_artifact_scan_bytes=64)
    assert phi_scan(store, ROOT, small).flagged == ()  # beyond the configured limit it is not read


def test_the_file_count_is_capped_and_the_cap_fails_the_gate(store):
    for i in range(4):
        write(store, f"part-{i}.txt", b"0.1 0.2 0.3\n")
    scan = phi_scan(store, ROOT, CONFIG, max_files=3)
    assert scan.files_scanned == 3 and scan.over_limit == 3
    assert failures(store, max_files=3) == [
        "gate phi_scan failed: the version has more than 3 files; only the first 3 were scanned, "
        "so it cannot be shown clean"]


def test_a_version_outside_the_artifact_store_cannot_pass(store):
    assert failures(store, root=None) == [
        "gate phi_scan failed: the version's storage location is not in MedFlow's artifact store, "
        "so its files cannot be scanned"]


def test_a_version_registered_from_a_single_file_scans_that_file(store):
    write(store, "sample.csv", NAMES_CSV)
    assert failures(store, root=f"{ROOT}/sample.csv") == [
        "gate phi_scan failed: artifact sample.csv contains a person's name (PHI)"]


def test_many_flagged_files_are_counted_after_the_first_five():
    scan = PhiScan(tuple((f"artifact f{i}.csv", ("name", "email")) for i in range(7)), files_scanned=7)
    message = gate_failures(GATE, Evidence(run_id=None, phi_scan=scan))
    assert len(message) == 6 and message[-1] == "gate phi_scan failed: 2 more files contain PHI"
    assert message[0] == ("gate phi_scan failed: artifact f0.csv contains a person's name and "
                          "an email address (PHI)")

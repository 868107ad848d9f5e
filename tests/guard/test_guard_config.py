"""GuardConfig: validation, site patterns, allowlists, per-workspace modes."""
from __future__ import annotations

import re

import pytest

from medflow.guard import GuardConfig, GuardConfigError, SitePattern, scan_text


def test_defaults_block_mode():
    config = GuardConfig()
    assert config.mode == "block" and config.max_artifact_scan_bytes > 0


def test_from_dict_full():
    config = GuardConfig.from_dict({
        "mode": "redact",
        "extra_patterns": [{"kind": "mrn", "regex": r"\bSTM\d{7}\b", "name": "St Mary MRN"}],
        "allowlist": ["Dr. Jimmy Adkins", {"regex": r"^CMIO-Dr-[A-Z][a-z]+$"}],
        "workforce_keys": ["Attending_Of_Record"],
        "max_artifact_scan_bytes": 4096,
        "workspaces": {"research-sandbox": {"mode": "warn"}},
    })
    assert config.mode == "redact"
    assert config.mode_for("research-sandbox") == "warn"
    assert config.mode_for("cardiology") == "redact"
    assert config.extra_patterns[0].kind == "mrn"
    assert "attending_of_record" in config.workforce_keys


@pytest.mark.parametrize("data,message", [
    ({"mode": "delete"}, "mode must be one of"),
    ({"extra_patterns": [{"kind": "mrn", "regex": "("}]}, "extra_patterns[0]: invalid regex"),
    ({"extra_patterns": [{"kind": "patient", "regex": "x"}]}, "unknown kind 'patient'"),
    ({"allowlist": [42]}, "allowlist[0]"),
    ({"max_artifact_scan_bytes": 0}, "max_artifact_scan_bytes"),
    ({"workspaces": {"a": {"mode": "off"}}}, "workspaces.a.mode"),
    ({"modes": "block"}, "unknown guard setting(s): modes"),
])
def test_invalid_configuration_names_the_entry(data, message):
    with pytest.raises(GuardConfigError) as excinfo:
        GuardConfig.from_dict(data)
    assert message in str(excinfo.value)


def test_from_yaml(tmp_path):
    path = tmp_path / "guard.yaml"
    path.write_text("phi_guard:\n  mode: warn\n  extra_patterns:\n    - kind: mrn\n      regex: 'STM\\d{7}'\n")
    config = GuardConfig.from_yaml(path)
    assert config.mode == "warn" and config.extra_patterns[0].regex.search("STM1234567")


def test_from_yaml_reports_bad_yaml_with_the_line(tmp_path):
    path = tmp_path / "guard.yaml"
    path.write_text("mode: block\nallowlist: [unclosed\n")
    with pytest.raises(GuardConfigError, match="not valid YAML"):
        GuardConfig.from_yaml(path)


def test_site_pattern_catches_the_hospital_format():
    config = GuardConfig(extra_patterns=(SitePattern("mrn", re.compile(r"\bSTM\d{7}\b")),))
    text = "holdout case STM1234567"
    assert not scan_text(text, field="description")
    [finding] = scan_text(text, field="description", config=config)
    assert finding.kind == "mrn" and text[finding.start:finding.end] == "STM1234567"


def test_allowlist_exact_and_regex():
    text = "Per Jimmy Adkins the labels were fixed."
    assert scan_text("Jimmy Adkins", field="tag_value", key="note")
    config = GuardConfig(allowlist=("Jimmy Adkins",))
    assert not scan_text("Jimmy Adkins", field="tag_value", key="note", config=config)
    assert not scan_text(text, field="description", config=config)
    regex_config = GuardConfig(allowlist_patterns=(r"Jimmy \w+",))
    assert not scan_text("Jimmy Adkins", field="tag_value", key="note", config=regex_config)
    # the allowlist covers only what it matches: another name is still flagged
    assert scan_text("Jimmy Adkins and Kimberly Foster", field="description", config=config)


def test_workforce_keys_from_config():
    config = GuardConfig(workforce_keys=frozenset({"Coordinator"}))
    assert scan_text("Kimberly Foster", field="tag_value", key="coordinator")
    assert not scan_text("Kimberly Foster", field="tag_value", key="coordinator", config=config)

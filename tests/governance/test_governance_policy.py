"""The policy file: the seed's policy loads as documented, and every mistake is named precisely."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from medflow.governance.policy import (ApprovalRequirement, MetricGate, PolicyError, TagGate, load_policy_bytes,
                                       load_policy_file)
from medflow.governance.policy_source import PolicySource

HERE = Path(__file__).resolve().parent
SEED_POLICY = HERE / "healthcare_policy.yaml"
DOC = HERE.parents[1] / "docs" / "users" / "approvals.md"


def policy(text: str):
    return load_policy_bytes(text.encode(), "p.yaml")


def test_the_seed_policy_says_what_the_seed_asks():
    loaded = load_policy_file(SEED_POLICY)
    rule = loaded.rule_for("sepsis-early-warning")
    production = rule.stages["Production"]
    assert production.approvals == (ApprovalRequirement("clinical-reviewer", 2),)
    assert production.gates.metrics == (MetricGate("auc_roc", ">=", 0.85, "0.85"),
                                        MetricGate("sensitivity", ">=", 0.80, "0.80"))
    assert production.gates.tags == (TagGate("fda_documentation_id"),)
    assert production.separation_of_duties is True
    assert rule.aliases["champion"] == production
    assert "Staging" not in rule.stages
    assert len(loaded.sha256) == 64


def test_the_documentation_shows_the_seed_policy_verbatim():
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    assert SEED_POLICY.read_text() in blocks


def test_first_matching_rule_wins_and_stage_names_are_canonical():
    loaded = policy("""
version: 1
rules:
  - models: ["sepsis-*", "icu-*"]
    stages: {production: {approvals: [{from: clinical-reviewer, count: 1}]}}
  - models: "*"
    stages: {Staging: {gates: {metrics: [{metric: auc_roc, op: ">", value: 0.5}]}}}
""")
    assert set(loaded.rule_for("icu-los").stages) == {"Production"}
    assert loaded.rule_for("readmission").stages["Staging"].gates.metrics[0].describe() == "auc_roc > 0.5"
    assert loaded.requirement("readmission", "stage", "Production") == (loaded.rules[1], None)


@pytest.mark.parametrize("text, message", [
    ("rules: []", "'version' must be 1"),
    ("version: 1\nrules: []", "'rules' must be a non-empty list"),
    ("version: 1\nrules:\n  - stages: {Production: {}}", "rules[0].models must be a model name pattern"),
    ("version: 1\nrules:\n  - models: '*'", "rules[0] governs nothing"),
    ("version: 1\nrules:\n  - models: '*'\n    stages: {Prod: {}}", "unknown stage 'Prod'"),
    ("version: 1\nrules:\n  - models: '*'\n    aliases: {latest: {}}", "'latest' is not a valid alias name"),
    ("version: 1\nrules:\n  - models: '*'\n    stages: {Production: {approval: []}}",
     "rules[0].stages.Production: unknown key(s) approval"),
    ("version: 1\nrules:\n  - models: '*'\n    stages: {Production: {approvals: [{from: cr, count: 0}]}}",
     "rules[0].stages.Production.approvals[0].count must be a whole number from 1 to 20, got 0"),
    ("version: 1\nrules:\n  - models: '*'\n    stages: {Production: {approvals: [{count: 2}]}}",
     "approvals[0].from must name a group or role"),
    ("version: 1\nrules:\n  - models: '*'\n    stages: {Production: {gates: {metrics: ['auc_roc => 0.85']}}}",
     "gates.metrics[0]: 'auc_roc => 0.85' is not a metric gate"),
    ("version: 1\nrules:\n  - models: '*'\n    stages: {Production: {gates: {metrics: ['auc >= high']}}}",
     "threshold 'high' is not a number"),
    ("version: 1\nrules:\n  - models: '*'\n    stages: {Production: {gates: {artifacts: ['../card.md']}}}",
     "gates.artifacts[0]: '../card.md' must be relative"),
    ("version: 1\nrules:\n  - models: '*'\n    separation_of_duties: maybe\n    stages: {Production: {}}",
     "separation_of_duties must be true or false"),
    ("version: 1\nrules: [\n", "not valid YAML at line"),
])
def test_mistakes_are_named_with_their_place(text, message):
    with pytest.raises(PolicyError) as info:
        policy(text)
    assert message in str(info.value)
    assert str(info.value).startswith("p.yaml")


def test_a_running_server_keeps_the_last_valid_policy(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(SEED_POLICY.read_text())
    source = PolicySource(str(path))
    first = source.current()
    path.write_text("version: 1\nrules: oops\n")
    assert source.current() is first and "stays in force" in source.problem
    path.write_text(SEED_POLICY.read_text().replace("count: 2", "count: 3"))
    changed = source.current()
    assert changed.sha256 != first.sha256 and source.problem is None
    assert changed.rules[0].stages["Production"].approvals[0].count == 3


def test_no_policy_file_means_no_policy_and_a_bad_one_stops_start_up(tmp_path):
    assert PolicySource("").current() is None
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\n")
    with pytest.raises(PolicyError):
        PolicySource(str(bad))

"""The lifecycle policy: YAML -> frozen dataclasses, validated when loaded.

A policy names, per registered model (glob on the name, first matching rule wins), what a
transition needs: to a stage (Staging, Production, Archived, None) or onto a protected
alias (e.g. `champion`). A requirement is any of

    approvals: [{from: clinical-reviewer, count: 2}]   # N distinct people in a group or role
    gates:
      metrics: ["auc_roc >= 0.85"]                     # on the source run's latest values
      tags: [fda_documentation_id]                     # on the version or its source run
      artifacts: [model_card.md]                       # in the version's files or the run's
      phi_scan: clean                                  # the version's files scan clean (PHI guard)

Every error names the entry (`rules[0].stages.Production.approvals[0].count`) and what to
write instead, so a typo fails at start-up, never at the first promotion. The format is
documented in docs/users/approvals.md.
"""
from __future__ import annotations

import fnmatch
import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1
STAGES = ("None", "Staging", "Production", "Archived")
OPERATORS = (">=", "<=", "==", "!=", ">", "<")
_CANONICAL_STAGES = {s.lower(): s for s in STAGES}
_ALIAS_RE = re.compile(r"^[\w\-]+$")
# A metric key as MLflow allows it (letters, digits, _ - . / : and spaces), an operator, a number.
_GATE_RE = re.compile(r"^\s*(?P<key>[\w\-./: ]+?)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?P<value>\S+)\s*$")
_PRINCIPAL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/\- ]{0,255}$")  # group or role names


class PolicyError(ValueError):
    """The policy is invalid; the message names the offending entry."""


@dataclass(frozen=True)
class ApprovalRequirement:
    """`count` approvals from distinct people who are in the group or hold the role `group`."""
    group: str
    count: int

    def describe(self) -> str:
        return f"{self.count} approval{'s' if self.count != 1 else ''} from {self.group}"


@dataclass(frozen=True)
class MetricGate:
    key: str
    op: str
    threshold: float
    written: str = ""  # the threshold as the policy spells it ("0.80" stays "0.80")

    def describe(self) -> str:
        return f"{self.key} {self.op} {self.written or _number(self.threshold)}"

    def passes(self, value: float) -> bool:
        if math.isnan(value):
            return False
        return {">=": value >= self.threshold, "<=": value <= self.threshold, ">": value > self.threshold,
                "<": value < self.threshold, "==": value == self.threshold,
                "!=": value != self.threshold}[self.op]


@dataclass(frozen=True)
class TagGate:
    key: str
    value: str | None = None  # None: any non-empty value

    def describe(self) -> str:
        return self.key if self.value is None else f"{self.key}={self.value}"


@dataclass(frozen=True)
class Gates:
    metrics: tuple[MetricGate, ...] = ()
    tags: tuple[TagGate, ...] = ()
    artifacts: tuple[str, ...] = ()
    phi_scan: bool = False  # `phi_scan: clean`: every file of the version scans clean with the PHI guard

    def __bool__(self) -> bool:
        return bool(self.metrics or self.tags or self.artifacts or self.phi_scan)


@dataclass(frozen=True)
class Requirement:
    """What one governed transition needs."""
    approvals: tuple[ApprovalRequirement, ...] = ()
    gates: Gates = field(default_factory=Gates)
    separation_of_duties: bool = True

    def approver_groups(self) -> tuple[str, ...]:
        return tuple(a.group for a in self.approvals)


@dataclass(frozen=True)
class Rule:
    patterns: tuple[str, ...]
    stages: dict[str, Requirement]
    aliases: dict[str, Requirement]
    index: int

    def matches(self, model_name: str) -> bool:
        return any(fnmatch.fnmatchcase(model_name, p) for p in self.patterns)

    def requirement(self, target_kind: str, target: str) -> Requirement | None:
        return (self.stages if target_kind == "stage" else self.aliases).get(target)


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    sha256: str = ""   # of the file's bytes: the policy's version
    source: str = ""   # where it was read from
    text: str = ""

    def rule_for(self, model_name: str) -> Rule | None:
        return next((r for r in self.rules if r.matches(model_name)), None)

    def requirement(self, model_name: str, target_kind: str, target: str) -> tuple[Rule | None, Requirement | None]:
        rule = self.rule_for(model_name)
        return rule, (rule.requirement(target_kind, target) if rule else None)

    def to_wire(self) -> dict:
        return {"version": FORMAT_VERSION, "sha256": self.sha256, "source": self.source,
                "rules": [_rule_to_wire(r) for r in self.rules]}


# --- loading ---------------------------------------------------------------------------------

def load_policy_file(path: str | Path) -> Policy:
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise PolicyError(f"cannot read the governance policy {path}: {e.strerror}") from None
    return load_policy_bytes(raw, str(path))


def load_policy_bytes(raw: bytes, source: str = "<policy>") -> Policy:
    import yaml

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PolicyError(f"{source} is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise PolicyError(f"{source} is not valid YAML{where}") from None
    try:
        rules = parse_policy(data)
    except PolicyError as e:
        raise PolicyError(f"{source}: {e}") from None
    return Policy(rules=rules, sha256=hashlib.sha256(raw).hexdigest(), source=source, text=text)


def parse_policy(data: Any) -> tuple[Rule, ...]:
    if not isinstance(data, dict):
        raise PolicyError("expected a mapping with 'version: 1' and 'rules' at the top level")
    _only(data, {"version", "rules"}, "the top level")
    if data.get("version") != FORMAT_VERSION:
        raise PolicyError(f"'version' must be {FORMAT_VERSION} (the policy format version), got "
                          f"{data.get('version')!r}")
    rules = data.get("rules")
    if not isinstance(rules, list) or not rules:
        raise PolicyError("'rules' must be a non-empty list of rules ({models, stages, aliases})")
    return tuple(_rule(entry, i) for i, entry in enumerate(rules))


def _rule(entry: Any, index: int) -> Rule:
    where = f"rules[{index}]"
    if not isinstance(entry, dict):
        raise PolicyError(f"{where} must be a mapping with 'models' and 'stages' and/or 'aliases'")
    _only(entry, {"models", "stages", "aliases", "separation_of_duties"}, where)
    models = entry.get("models")
    patterns = [models] if isinstance(models, str) else models
    if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) and p for p in patterns):
        raise PolicyError(f"{where}.models must be a model name pattern such as 'sepsis-*' (or a list of them)")
    separation = entry.get("separation_of_duties", True)
    if not isinstance(separation, bool):
        raise PolicyError(f"{where}.separation_of_duties must be true or false")
    stages_raw, aliases_raw = entry.get("stages") or {}, entry.get("aliases") or {}
    if not stages_raw and not aliases_raw:
        raise PolicyError(f"{where} governs nothing: give 'stages' and/or 'aliases'")
    if not isinstance(stages_raw, dict):
        raise PolicyError(f"{where}.stages must be a mapping of stage name to requirement")
    if not isinstance(aliases_raw, dict):
        raise PolicyError(f"{where}.aliases must be a mapping of alias name to requirement")
    stages = {}
    for name, body in stages_raw.items():
        stage = _CANONICAL_STAGES.get(str(name).lower())
        if stage is None:
            raise PolicyError(f"{where}.stages: unknown stage {name!r}; use one of {', '.join(STAGES)}")
        stages[stage] = _requirement(body, f"{where}.stages.{stage}", separation)
    aliases = {}
    for name, body in aliases_raw.items():
        alias = str(name)
        if not _ALIAS_RE.match(alias) or alias.lower() == "latest":
            raise PolicyError(f"{where}.aliases: {alias!r} is not a valid alias name (letters, digits, _ and -; "
                              "'latest' is reserved)")
        aliases[alias] = _requirement(body, f"{where}.aliases.{alias}", separation)
    return Rule(tuple(patterns), stages, aliases, index)


def _requirement(body: Any, where: str, separation: bool) -> Requirement:
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise PolicyError(f"{where} must be a mapping with 'approvals' and/or 'gates'")
    _only(body, {"approvals", "gates"}, where)
    approvals_raw = body.get("approvals") or []
    if not isinstance(approvals_raw, list):
        raise PolicyError(f"{where}.approvals must be a list of {{from: <group or role>, count: N}}")
    approvals, seen = [], set()
    for i, item in enumerate(approvals_raw):
        at = f"{where}.approvals[{i}]"
        if not isinstance(item, dict):
            raise PolicyError(f"{at} must be a mapping {{from: <group or role>, count: N}}")
        _only(item, {"from", "count"}, at)
        group, count = item.get("from"), item.get("count", 1)
        if not isinstance(group, str) or not _PRINCIPAL_NAME_RE.match(group):
            raise PolicyError(f"{at}.from must name a group or role, e.g. clinical-reviewer")
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 20:
            raise PolicyError(f"{at}.count must be a whole number from 1 to 20, got {count!r}")
        if group in seen:
            raise PolicyError(f"{at}: {group} is listed twice; give one entry with the total count")
        seen.add(group)
        approvals.append(ApprovalRequirement(group, count))
    return Requirement(tuple(approvals), _gates(body.get("gates"), f"{where}.gates"), separation)


def _gates(body: Any, where: str) -> Gates:
    if body is None:
        return Gates()
    if not isinstance(body, dict):
        raise PolicyError(f"{where} must be a mapping with 'metrics', 'tags', 'artifacts' and/or 'phi_scan'")
    _only(body, {"metrics", "tags", "artifacts", "phi_scan"}, where)
    metrics = tuple(_metric_gate(item, f"{where}.metrics[{i}]")
                    for i, item in enumerate(_list(body.get("metrics"), f"{where}.metrics")))
    tags = tuple(_tag_gate(item, f"{where}.tags[{i}]")
                 for i, item in enumerate(_list(body.get("tags"), f"{where}.tags")))
    artifacts = tuple(_artifact_path(item, f"{where}.artifacts[{i}]")
                      for i, item in enumerate(_list(body.get("artifacts"), f"{where}.artifacts")))
    phi_scan = body.get("phi_scan")
    if phi_scan not in (None, "clean"):
        raise PolicyError(f"{where}.phi_scan must be 'clean' (every file of the version scans clean with the "
                          f"PHI guard), got {phi_scan!r}")
    return Gates(metrics, tags, artifacts, phi_scan == "clean")


def _metric_gate(item: Any, where: str) -> MetricGate:
    if isinstance(item, str):
        match = _GATE_RE.match(item)
        if not match:
            raise PolicyError(f"{where}: {item!r} is not a metric gate; write '<metric> <op> <number>', "
                              f"e.g. 'auc_roc >= 0.85' (operators {' '.join(OPERATORS)})")
        key, op, value = match.group("key"), match.group("op"), match.group("value")
    elif isinstance(item, dict):
        _only(item, {"metric", "op", "value"}, where)
        key, op, value = item.get("metric"), item.get("op"), item.get("value")
        if not isinstance(key, str) or not key:
            raise PolicyError(f"{where}.metric must be a metric name")
        if op not in OPERATORS:
            raise PolicyError(f"{where}.op must be one of {' '.join(OPERATORS)}")
    else:
        raise PolicyError(f"{where} must be a string such as 'auc_roc >= 0.85'")
    try:
        threshold = float(value)
    except (TypeError, ValueError):
        raise PolicyError(f"{where}: threshold {value!r} is not a number") from None
    if not math.isfinite(threshold):
        raise PolicyError(f"{where}: threshold must be a finite number")
    return MetricGate(key, op, threshold, str(value))


def _tag_gate(item: Any, where: str) -> TagGate:
    if isinstance(item, str) and item:
        return TagGate(item)
    if isinstance(item, dict):
        _only(item, {"key", "value"}, where)
        key, value = item.get("key"), item.get("value")
        if isinstance(key, str) and key and (value is None or isinstance(value, str)):
            return TagGate(key, value)
    raise PolicyError(f"{where} must be a tag key (e.g. fda_documentation_id) or {{key: ..., value: ...}}")


def _artifact_path(item: Any, where: str) -> str:
    if not isinstance(item, str) or not item.strip("/"):
        raise PolicyError(f"{where} must be a relative artifact path such as model_card.md")
    path = item.strip("/")
    if item.startswith("/") or any(seg in ("", ".", "..") for seg in path.split("/")):
        raise PolicyError(f"{where}: {item!r} must be relative, without '.', '..' or empty segments")
    return path


def _list(value: Any, where: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PolicyError(f"{where} must be a list")
    return value


def _only(mapping: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in set(mapping) - allowed)
    if unknown:
        raise PolicyError(f"{where}: unknown key(s) {', '.join(unknown)}; expected some of "
                          f"{', '.join(sorted(allowed))}")


# --- the wire form ---------------------------------------------------------------------------

def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def requirement_to_wire(req: Requirement) -> dict:
    out: dict = {"separation_of_duties": req.separation_of_duties}
    if req.approvals:
        out["approvals"] = [{"from": a.group, "count": a.count} for a in req.approvals]
    gates = {}
    if req.gates.metrics:
        gates["metrics"] = [g.describe() for g in req.gates.metrics]
    if req.gates.tags:
        gates["tags"] = [g.describe() for g in req.gates.tags]
    if req.gates.artifacts:
        gates["artifacts"] = list(req.gates.artifacts)
    if req.gates.phi_scan:
        gates["phi_scan"] = "clean"
    if gates:
        out["gates"] = gates
    return out


def _rule_to_wire(rule: Rule) -> dict:
    out: dict = {"models": list(rule.patterns)}
    if rule.stages:
        out["stages"] = {k: requirement_to_wire(v) for k, v in rule.stages.items()}
    if rule.aliases:
        out["aliases"] = {k: requirement_to_wire(v) for k, v in rule.aliases.items()}
    return out

"""Site configuration of the PHI guard: mode, site patterns, allowlist, limits.

Built from a dict or a YAML file and validated up front, so a typo in a site's guard file
fails at startup with a message naming the entry, not at the first request.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from medflow.guard.findings import KINDS

MODES = ("block", "redact", "warn")
DEFAULT_MAX_ARTIFACT_SCAN_BYTES = 1024 * 1024


class GuardConfigError(ValueError):
    """The guard configuration is invalid; the message names the offending entry."""


@dataclass(frozen=True, slots=True)
class SitePattern:
    """A site-specific identifier format, e.g. the hospital's MRN, reported as `kind`."""

    kind: str
    regex: re.Pattern
    name: str = ""


@dataclass(frozen=True)
class GuardConfig:
    """How the guard behaves. Immutable: build a new one to change it.

    mode: what the server does on a finding — "block" (reject the write, the default),
          "redact" (store the value with identifiers replaced) or "warn" (store as is, audit).
    extra_patterns: site formats detected in every field, whatever the context.
    allowlist: exact strings, and regexes, whose matches are never flagged (e.g. the
          names of workforce members that appear in reviewer tags).
    workforce_keys: extra param/tag keys whose values name staff, not patients: names and
          email addresses under them are not flagged (other identifiers still are).
    max_artifact_scan_bytes: how much of each text artifact is scanned.
    workspace_modes: per-workspace override of `mode`.
    """

    mode: str = "block"
    extra_patterns: tuple[SitePattern, ...] = ()
    allowlist: tuple[str, ...] = ()
    allowlist_patterns: tuple[re.Pattern, ...] = ()
    workforce_keys: frozenset[str] = frozenset()
    max_artifact_scan_bytes: int = DEFAULT_MAX_ARTIFACT_SCAN_BYTES
    workspace_modes: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        # Accept plain regex strings from Python callers; store compiled patterns.
        compiled = tuple(p if isinstance(p, re.Pattern) else _compile(p, "allowlist_patterns")
                         for p in self.allowlist_patterns)
        object.__setattr__(self, "allowlist_patterns", compiled)
        object.__setattr__(self, "allowlist", tuple(self.allowlist))
        object.__setattr__(self, "workforce_keys", frozenset(k.lower() for k in self.workforce_keys))
        _check_mode(self.mode, "mode")
        if not isinstance(self.max_artifact_scan_bytes, int) or self.max_artifact_scan_bytes <= 0:
            raise GuardConfigError("max_artifact_scan_bytes must be a positive integer")
        for pattern in self.extra_patterns:
            if pattern.kind not in KINDS:
                raise GuardConfigError(_unknown_kind(pattern.kind, "extra_patterns"))
        for workspace, mode in self.workspace_modes:
            _check_mode(mode, f"workspaces.{workspace}.mode")

    def mode_for(self, workspace: str | None) -> str:
        """The mode that applies to writes in `workspace` (the global mode when not overridden)."""
        for name, mode in self.workspace_modes:
            if name == workspace:
                return mode
        return self.mode

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "GuardConfig":
        """Build from plain data (a parsed YAML/JSON document); see docs/operators/phi-guard.md."""
        data = dict(data or {})
        known = {"mode", "extra_patterns", "allowlist", "workforce_keys",
                 "max_artifact_scan_bytes", "workspaces"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise GuardConfigError(f"unknown guard setting(s): {', '.join(unknown)}; "
                                   f"expected some of: {', '.join(sorted(known))}")
        exact, patterns = _parse_allowlist(data.get("allowlist") or [])
        return cls(
            mode=data.get("mode", "block"),
            extra_patterns=tuple(_parse_patterns(data.get("extra_patterns") or [])),
            allowlist=exact,
            allowlist_patterns=patterns,
            workforce_keys=frozenset(k.lower() for k in _strings(data.get("workforce_keys") or [],
                                                                   "workforce_keys")),
            max_artifact_scan_bytes=data.get("max_artifact_scan_bytes", DEFAULT_MAX_ARTIFACT_SCAN_BYTES),
            workspace_modes=tuple(_parse_workspaces(data.get("workspaces") or {})),
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> "GuardConfig":
        """Load a site guard file. The top level may be the settings or `{phi_guard: settings}`."""
        import yaml  # only needed by sites that configure the guard from a file

        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise GuardConfigError(f"cannot read guard configuration {path}: {e.strerror}") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise GuardConfigError(f"{path} is not valid YAML{where}") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise GuardConfigError(f"{path}: expected a mapping of guard settings at the top level")
        if set(data) == {"phi_guard"}:
            data = data["phi_guard"] or {}
        try:
            return cls.from_dict(data)
        except GuardConfigError as e:
            raise GuardConfigError(f"{path}: {e}") from None


def _check_mode(mode: object, where: str) -> None:
    if mode not in MODES:
        raise GuardConfigError(f"{where} must be one of {', '.join(MODES)}, got {mode!r}")


def _unknown_kind(kind: object, where: str) -> str:
    return f"{where}: unknown kind {kind!r}; expected one of {', '.join(sorted(KINDS))}"


def _compile(regex: object, where: str) -> re.Pattern:
    if not isinstance(regex, str) or not regex:
        raise GuardConfigError(f"{where}: regex must be a non-empty string")
    try:
        return re.compile(regex)
    except re.error as e:
        raise GuardConfigError(f"{where}: invalid regex ({e})") from None


def _strings(values: object, where: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise GuardConfigError(f"{where} must be a list of strings")
    return values


def _parse_patterns(entries: object) -> Iterable[SitePattern]:
    if not isinstance(entries, list):
        raise GuardConfigError("extra_patterns must be a list of {kind, regex} mappings")
    for i, entry in enumerate(entries):
        where = f"extra_patterns[{i}]"
        if not isinstance(entry, dict):
            raise GuardConfigError(f"{where} must be a mapping with 'kind' and 'regex'")
        extra = set(entry) - {"kind", "regex", "name"}
        if extra:
            raise GuardConfigError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        kind = entry.get("kind")
        if kind not in KINDS:
            raise GuardConfigError(_unknown_kind(kind, where))
        yield SitePattern(kind=kind, regex=_compile(entry.get("regex"), where),
                          name=str(entry.get("name", "")))


def _parse_allowlist(entries: object) -> tuple[tuple[str, ...], tuple[re.Pattern, ...]]:
    if not isinstance(entries, list):
        raise GuardConfigError("allowlist must be a list of strings or {regex: ...} mappings")
    exact: list[str] = []
    patterns: list[re.Pattern] = []
    for i, entry in enumerate(entries):
        where = f"allowlist[{i}]"
        if isinstance(entry, str) and entry:
            exact.append(entry)
        elif isinstance(entry, dict) and set(entry) == {"regex"}:
            patterns.append(_compile(entry["regex"], where))
        else:
            raise GuardConfigError(f"{where} must be a non-empty string or a mapping {{regex: ...}}")
    return tuple(exact), tuple(patterns)


def _parse_workspaces(entries: object) -> Iterable[tuple[str, str]]:
    if not isinstance(entries, dict):
        raise GuardConfigError("workspaces must be a mapping of workspace name to {mode: ...}")
    for name, settings in entries.items():
        if not isinstance(settings, dict) or set(settings) != {"mode"}:
            raise GuardConfigError(f"workspaces.{name} must be a mapping with only 'mode'")
        _check_mode(settings["mode"], f"workspaces.{name}.mode")
        yield str(name), settings["mode"]


DEFAULT_CONFIG = GuardConfig()

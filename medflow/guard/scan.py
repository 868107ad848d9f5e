"""Scanning one logged string: the public entry points `scan_text` and `contains_phi`.

Detectors (identifiers.py, dates.py, names.py) propose spans; the key a value is logged
under (context.py, keyed.py) and cue words around a span decide whether a span that is
not proof by its form alone — a bare 8-digit number, a date — is PHI. Spans that are
only plausible become findings when the same record (the value, or one line or row of an
artifact) also holds a definite identifier: "ecg-18986494-19340205" is an MRN next to a
1934 birth date, while "bytes_read=9008079118" is a byte count.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from medflow.guard import identifiers as ids
from medflow.guard.config import DEFAULT_CONFIG, GuardConfig
from medflow.guard.context import EMPTY, PERSON_CUE, KeyContext, cue_before, key_context
from medflow.guard.dates import AGE_IN_TEXT, age_over_89, find_dates
from medflow.guard.findings import Finding
from medflow.guard.keyed import id_kind_for_key, keyed_kind
from medflow.guard.spans import SpanIndex
from medflow.guard.names import PERSON_NEARBY, PERSON_NONE, PERSON_VALUE, find_names, name_finder

# Fields whose text is an identifier (snake_case, kebab-case), not prose.
IDENTIFIER_FIELDS = frozenset({"param_key", "tag_key", "metric_key", "run_name", "experiment_name",
                               "model_name", "dataset", "alias", "artifact_path"})
KV_FIELDS = frozenset({"param_value", "tag_value"})
ARTIFACT_FIELDS = {"artifact_csv": "data.csv", "artifact_json": "data.json", "artifact_text": "notes.txt"}

OLD_DATE_YEAR = 1990  # a day-precise date before this is a birth date, not an ML data window
BIRTH_LIKE_YEAR = 2010  # a date run into a name-like token ("mgibson_1999-01-04")

_DELETE_DIGITS = str.maketrans("", "", "0123456789")
_LETTER = re.compile(r"[^\W\d_]")
# Lowercase identifiers and numbers with at most 3 digits, none of the cue words that
# make a neighbouring name or number personal.
_PLAIN = re.compile(r"^(?!.*(?:pt|pts|patient|subject|mrn|dob|case|member|mr|dr|ms|mrs|yo|yrs?|years?|old)(?![a-z]))"
                    r"(?=(?:[^0-9]*[0-9]){0,3}[^0-9]*$)[a-z0-9_.+/-]{1,48}$")
BARE_ID = re.compile(r"(?<![A-Za-z0-9./+])(?<!\d-)(?P<id>[A-Z]{1,3}\d{7,10}|\d{7,12})(?![A-Za-z0-9]|\.\d|-\d)")
LIST_OF_IDS = re.compile(r"^[\s\[\]\"',;|]*(?:[A-Z]{0,3}\d{6,12}[\s\[\]\"',;|]+)+[A-Z]{0,3}\d{6,12}[\s\[\]\"',;|]*$")
NOT_PERSON_LIST_WORDS = frozenset({"seed", "seeds", "run", "runs", "job", "jobs", "commit", "build",
                                   "step", "steps", "epoch", "epochs", "size", "sizes", "shape",
                                   "dims", "layers", "units", "version", "versions", "port", "ports",
                                   "pid", "pids", "timestamp", "timestamps", "ts", "time", "bytes",
                                   "tokens", "experiment", "experiments", "trial", "trials"})
DATE_CUE_AFTER = re.compile(r"\s*[-–(,]?\s*(?:admission|admit(?:ted)?|discharge[d]?|dob|birth|death|"
                            r"visit|encounter|surgery|delivery|born)\b", re.I)
PATIENT_FOLLOW = re.compile(r"(?i)(?<![A-Za-z])(?:patient|pt|subject)[ :=#]+(?P<w>[A-Za-z][A-Za-z'-]{3,})")
NAME_BEFORE_DATE = re.compile(r"(?<![A-Za-z])(?P<w>[a-z]{4,14})[\s_-]$")
_KIND_PRIORITY = {kind: rank for rank, kind in enumerate((
    "ssn", "email", "url", "ip", "fax", "phone", "vehicle", "health_plan", "license", "biometric", "photo",
    "device_id", "account", "mrn", "date", "age", "zip", "address", "name", "unique_id"))}


class Collector:
    """Spans of one record (a value, or one line or row of an artifact): the definite ones,
    and the plausible ones that count only when the record also has a definite one."""

    __slots__ = ("certain", "pending")

    def __init__(self) -> None:
        self.certain: list[tuple[int, int, str]] = []
        self.pending: list[tuple[int, int, str]] = []

    def add(self, start: int, end: int, kind: str, certain: bool = True) -> None:
        (self.certain if certain else self.pending).append((start, end, kind))

    def resolve(self) -> list[tuple[int, int, str]]:
        if self.certain and self.pending:
            return self.certain + self.pending
        return self.certain


# Run and model ids, UUIDs, git-style short hashes: hex with both digits and letters.
_MACHINE_ID = re.compile(r"(?i)(?<![0-9a-z])(?:m-)?[0-9a-f]{32}(?![0-9a-z])"
                         r"|(?<![0-9a-z])[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?![0-9a-z])"
                         r"|(?<![0-9a-z])(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}(?![0-9a-z])")

def scan_value(text: str, ctx: KeyContext, *, identifier: bool, config: GuardConfig,
               person_level: int | None = None) -> list[tuple[int, int, str]]:
    """Spans (start, end, kind) of identifiers in one value."""
    out = Collector()
    collect(text, ctx, out, identifier=identifier, config=config, person_level=person_level)
    return out.resolve()


def collect(text: str, ctx: KeyContext, out: Collector, *, identifier: bool, config: GuardConfig,
            person_level: int | None = None, offset: int = 0) -> None:
    """Add the spans of `text` (shifted by `offset`) to a record's collector."""
    if offset:
        inner = Collector()
        collect(text, ctx, inner, identifier=identifier, config=config, person_level=person_level)
        out.certain.extend((s + offset, e + offset, k) for s, e, k in inner.certain)
        out.pending.extend((s + offset, e + offset, k) for s, e, k in inner.pending)
        return
    original = text
    if not ctx.person and _MACHINE_ID.search(text):
        # Run ids, model ids, UUIDs, short hashes: random hex a machine generated, not a person's
        # identifier; their digits and letters would otherwise read as dates ("4feb1861") or names.
        text = _MACHINE_ID.sub(lambda m: "x" * len(m.group()), text)
    if _PLAIN.match(text) and not (ctx.kinds or ctx.person):
        # Fast path: a short lowercase identifier or number ("max_depth", "0.1", "v2.3")
        # under an ordinary key can only hold a run-together or snake_case name.
        for start, end in find_names(text, person=PERSON_NONE):
            out.add(start, end, "name")
        _site_patterns(text, out, config)
        return
    whole = keyed_kind(original, ctx)
    if whole is not None:
        out.add(0, len(text), whole)
    cue_text = text.replace("_", " ") if "_" in text else text
    short = len(text) <= 96
    if person_level is None:
        if ctx.person or (ctx.person_name and not ctx.config):
            person_level = PERSON_VALUE
        elif ctx.names("name"):
            person_level = PERSON_NEARBY
        elif short and PERSON_CUE.search(cue_text):
            person_level = PERSON_NEARBY
        else:
            person_level = PERSON_NONE
    workforce = ctx.workforce and not ctx.person

    lowered = text.lower()
    if not workforce and (lowered != text.upper() or _LETTER.search(text)):
        for start, end in find_names(text, person=person_level):
            out.add(start, end, "name")
        for m in PATIENT_FOLLOW.finditer(cue_text):
            finder = name_finder()
            word = m.group("w").lower()
            if finder.initial_surname(word, relaxed=False) or (finder.known(word) and not finder.weak_word(word)):
                out.add(m.start("w"), m.end("w"), "name")

    digits = len(text) - len(text.translate(_DELETE_DIGITS))
    if digits:
        _scan_numbers(text, cue_text, ctx, out, identifier=identifier, digits=digits)
    if "@" in text and not workforce:
        for c in ids.email(text):
            out.add(c.start, c.end, c.kind)
    if "://" in text or "www." in text:
        for c in ids.url(text, person_context=ctx.person and not ctx.config):
            out.add(c.start, c.end, c.kind)
    if "face" in lowered or "photo" in lowered or "shot" in lowered or "portrait" in lowered \
            or "selfie" in lowered or "picture" in lowered:
        for c in ids.photo(text):
            out.add(c.start, c.end, c.kind)
    _site_patterns(text, out, config)


def _site_patterns(text: str, out: Collector, config: GuardConfig) -> None:
    for pattern in config.extra_patterns:
        for m in pattern.regex.finditer(text):
            if m.end() > m.start():
                out.add(m.start(), m.end(), pattern.kind)


def _scan_numbers(text: str, cue_text: str, ctx: KeyContext, out: Collector, *,
                  identifier: bool, digits: int) -> None:
    # Gate each detector on how many digits its identifier needs: most ML values ("0.1",
    # "32", "2.16.0") have too few for any of them, and skipping is the fast path.
    detectors = []
    if digits >= 9:
        detectors.append(ids.ssn(text))
    if digits >= 10:
        detectors.append(ids.phone(text, cue_text))
    lowered = text.lower()
    if digits >= 4:
        detectors.append(ids.forms(text, lowered))
        if "(01)" in text:
            detectors.append(ids.udi(text))
    if lowered != text:  # addresses and "ST 12345" need capitals
        detectors.append(ids.geography(text, lowered))
    if digits >= 3:
        detectors.append(ids.labelled(text, lowered))
    for detector in detectors:
        for c in detector:
            out.add(c.start, c.end, c.kind, c.certain)
    if digits >= 4 and ("." in text or ":" in text) and not ctx.infra:
        for c in ids.ip(text):
            out.add(c.start, c.end, c.kind)
    if digits >= 2:
        _ages(text, out)
    if digits < 4:
        return

    dates = find_dates(text)
    date_key = ctx.names("date") or (ctx.person and not ctx.config)
    for d in dates:
        cued = cue_before("date", cue_text, d.start) or DATE_CUE_AFTER.match(text, d.end) is not None
        if d.precision == "month":
            if date_key or cued:
                out.add(d.start, d.end, "date")
            continue
        if d.form == "compact" and not (date_key or cued or d.year < OLD_DATE_YEAR):
            continue  # "20231217" in a run name is a timestamp
        if date_key or cued or d.year < OLD_DATE_YEAR:
            out.add(d.start, d.end, "date")
        elif identifier and d.year < BIRTH_LIKE_YEAR and _name_like_before(cue_text, d.start):
            out.add(d.start, d.end, "date")  # "mgibson_1999-01-04": a person's initials + birth date
            m = NAME_BEFORE_DATE.search(cue_text, 0, d.start)
            out.add(m.start("w"), m.end("w"), "name")
        else:
            out.add(d.start, d.end, "date", certain=False)

    if digits < 7:
        return
    key_kind = id_kind_for_key(ctx)
    is_list = LIST_OF_IDS.match(text) is not None and not (ctx.words & NOT_PERSON_LIST_WORDS) and not ctx.config
    claimed = None
    for m in BARE_ID.finditer(text):
        start, end = m.span("id")
        if claimed is None:  # built on first use: most strings have no bare ID
            claimed = SpanIndex([(d.start, d.end) for d in dates] + [(s, e) for s, e, _ in out.certain])
        if claimed.overlaps(start, end):
            continue  # part of a date, or already reported as a labelled identifier
        value = m.group("id")
        digits = sum(c.isdigit() for c in value)
        kind, certain = _bare_id_kind(cue_text, start, value, digits, key_kind, is_list)
        out.add(start, end, kind, certain)


_AGE_NUMBER = re.compile(r"(?<!\d)(?:9\d|1[0-2]\d)(?!\d)")


def _ages(text: str, out: Collector) -> None:
    if _AGE_NUMBER.search(text) is None:
        return
    for m in AGE_IN_TEXT.finditer(text):
        if age_over_89(m):
            out.add(m.start(), m.end(), "age")


def _bare_id_kind(cue_text: str, start: int, value: str, digits: int, key_kind: str | None,
                  is_list: bool) -> tuple[str, bool]:
    if key_kind is not None:
        return key_kind, True
    if digits in (10, 11) and value.isdigit():
        if cue_before("fax", cue_text, start):
            return "fax", True
        if cue_before("phone", cue_text, start):
            return "phone", True
    if digits == 9 and value.isdigit() and cue_before("ssn", cue_text, start):
        return "ssn", True
    if cue_before("account", cue_text, start):
        return "account", True
    if cue_before("mrn", cue_text, start) or is_list:
        return "mrn", True
    if digits in (10, 11) and value.isdigit() and value[-10] in "23456789":
        return "phone", False
    return "unique_id", False


def _name_like_before(cue_text: str, start: int) -> bool:
    m = NAME_BEFORE_DATE.search(cue_text, 0, start)
    return m is not None and name_finder().initial_surname(m.group("w"), relaxed=False)


# ----------------------------------------------------------------------------- public API
def scan_text(text: str, *, field: str, key: str | None = None,
              config: GuardConfig | None = None) -> list[Finding]:
    """Identifiers in `text` as written to `field` (for param/tag values, under `key`)."""
    config = config or DEFAULT_CONFIG
    if not text or text.isspace():
        return []
    if field in ARTIFACT_FIELDS:
        from medflow.guard.artifacts import scan_artifact  # artifacts imports this module

        return scan_artifact(ARTIFACT_FIELDS[field], text.encode("utf-8"), config, field=field)
    if text in config.allowlist:
        return []
    ctx = key_context(key, config.workforce_keys) if key else EMPTY
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[") and len(text) > 2 and not LIST_OF_IDS.match(text):
        from medflow.guard.artifacts import scan_json_text

        found = scan_json_text(text, field=field, parent=key, config=config)
        if found is not None:
            return found
    spans = scan_value(text, ctx, identifier=field in IDENTIFIER_FIELDS, config=config)
    return finalize(text, spans, field=field, config=config)


def finalize(text: str, spans: Iterable[tuple[int, int, str]], *, field: str, config: GuardConfig,
             offset: int = 0, location: str = "") -> list[Finding]:
    """Drop allowlisted and nested spans; return Findings in text order."""
    # Longest span first; on a tie, the kind proven by the value's form wins over the kind
    # its key suggested (an IP under "device_ip" is an IP) and over the generic "unique_id".
    spans = sorted(set(spans), key=lambda s: (s[0], -(s[1] - s[0]), _KIND_PRIORITY.get(s[2], 99)))
    if not spans:
        return []
    allowed = _allowlisted_spans(text, config)
    findings: list[Finding] = []
    last_end = -1
    for start, end, kind in spans:
        if end <= last_end:
            continue  # inside a span already reported (an MRN inside a patient URL)
        if any(a <= start and end <= b for a, b in allowed):
            continue
        findings.append(Finding(field, kind, start + offset, end + offset, location))
        last_end = max(last_end, end)
    return findings


def _allowlisted_spans(text: str, config: GuardConfig) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for exact in config.allowlist:
        start = text.find(exact)
        while start != -1:
            spans.append((start, start + len(exact)))
            start = text.find(exact, start + 1)
    for pattern in config.allowlist_patterns:
        spans.extend(m.span() for m in pattern.finditer(text) if m.end() > m.start())
    return spans


def contains_phi(text: str, field: str | None = None, key: str | None = None,
                 item: dict[str, Any] | None = None) -> bool:
    """True when `text` holds PHI. Compatible with phi-bench's score.py `--python` mode,
    which passes param/tag values as "<key>=<value>"."""
    field = field or "description"
    if field in ARTIFACT_FIELDS:
        from medflow.guard.artifacts import scan_artifact

        filename = (item or {}).get("filename") or ARTIFACT_FIELDS[field]
        return bool(scan_artifact(filename, text.encode("utf-8"), DEFAULT_CONFIG, field=field))
    if field in KV_FIELDS:
        if key is not None and text.startswith(key + "="):
            text = text[len(key) + 1:]
        elif key is None and "=" in text:
            key, text = text.split("=", 1)
    return bool(scan_text(text, field=field, key=key))

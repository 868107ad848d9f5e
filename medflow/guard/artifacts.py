"""Scanning uploaded artifacts: CSV/TSV, JSON, notebooks and other text files.

Structure is context: a CSV column header or a JSON key is to its cells what a param key
is to its value, so an `mrn` column of 8-digit numbers is PHI while an `n_test` field is
not. Each CSV row, JSON object and text line is one record: plausible spans in it (a
bare number, an undated-context date) count when the record also holds a definite
identifier. PNG and JPEG images are checked for frontal faces (medflow.guard.faces; a
finding of kind "photo"); other images and binary files are not scanned
(docs/operators/phi-guard.md).
"""
from __future__ import annotations

import csv
import json
import re
from bisect import bisect_right
from pathlib import PurePosixPath

from medflow.guard.config import DEFAULT_CONFIG, GuardConfig
from medflow.guard.context import EMPTY, KeyContext, key_context
from medflow.guard.faces import FACE_SCAN_SUFFIXES, contains_face
from medflow.guard.findings import Finding
from medflow.guard.keyed import keyed_kind
from medflow.guard.scan import Collector, collect, finalize

TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".json", ".txt", ".md", ".yaml", ".yml", ".html", ".htm",
                           ".log", ".ipynb", ".jsonl", ".ndjson", ".xml", ".ini", ".cfg", ".toml",
                           ".py", ".r", ".sql", ".rst", ".tex", ".out", ".err", ".text"})
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp",
                            ".heic", ".svg", ".dcm", ".nii", ".gz", ".zip", ".pkl", ".pt", ".onnx",
                            ".parquet", ".npy", ".npz", ".h5", ".bin", ".safetensors", ".joblib"})
PERSON_RESOURCES = frozenset({"Patient", "Person", "RelatedPerson"})
_NUMBER = re.compile(r"^-?\d{1,6}(?:\.\d+)?(?:[eE][+-]?\d+)?$")
_KV_IN_LINE = re.compile(r"(?<![\w.-])(?P<key>[A-Za-z][\w.-]{0,40})(?:=|:[ \t]+)[ \t]*"
                         r"(?P<value>\"[^\"\n]*\"|'[^'\n]*'|[^\s,;]+(?:[ \t]+[^\s,;=:]+){0,3})")
_NEWLINE = re.compile("\n")
_JSON_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|[{}\[\]:,]')


def scan_artifact(filename: str, data: bytes, config: GuardConfig | None = None, *,
                  field: str | None = None) -> list[Finding]:
    """Findings in an uploaded file; offsets index the decoded (and possibly truncated) text."""
    config = config or DEFAULT_CONFIG
    suffix = PurePosixPath(filename.lower()).suffix
    if suffix in FACE_SCAN_SUFFIXES:
        # The whole image is needed: a cut image does not decode (then no finding).
        return [Finding(field or "artifact_image", "photo", 0, 0, "image")] if contains_face(data) else []
    if suffix in IMAGE_SUFFIXES or b"\x00" in data[:4096]:
        return []
    text = decode_for_scan(data, config.max_artifact_scan_bytes)
    if suffix in (".csv", ".tsv") or field == "artifact_csv":
        return scan_csv(text, field=field or "artifact_csv", config=config,
                        delimiter="\t" if suffix == ".tsv" else None)
    if suffix == ".ipynb":
        return scan_notebook(text, field=field or "artifact_notebook", config=config)
    if suffix == ".json" or field == "artifact_json":
        found = scan_json_text(text, field=field or "artifact_json", parent=None, config=config)
        if found is not None:
            return found
    return scan_lines(text, field=field or "artifact_text", config=config)


def decode_for_scan(data: bytes, limit: int) -> str:
    if len(data) > limit:
        data = data[:limit]
        cut = data.rfind(b"\n")
        if cut > 0:
            data = data[:cut]  # do not scan half a line
    return data.decode("utf-8", errors="replace")


# ----------------------------------------------------------------------------- text
def scan_lines(text: str, *, field: str, config: GuardConfig, location_prefix: str = "") -> list[Finding]:
    """Plain text, logs, Markdown, YAML: each line is a record; `key: value` and `key=value`
    pairs in a line give their value the key's meaning."""
    record = Collector()
    # One pass of the detectors over the whole text is far cheaper than one per line;
    # spans are grouped into their lines afterwards.
    collect(text, EMPTY, record, identifier=False, config=config)
    for m in _KV_IN_LINE.finditer(text):
        ctx = key_context(m.group("key"), config.workforce_keys)
        if ctx.kinds or ctx.person:
            raw = m.group("value")
            quoted = raw[:1] in "\"'"
            collect(raw.strip("\"'"), ctx, record, identifier=False, config=config,
                    offset=m.start("value") + (1 if quoted else 0))
    return _findings_by_line(text, record, field=field, config=config, location_prefix=location_prefix)


def _findings_by_line(text: str, record: Collector, *, field: str, config: GuardConfig,
                      location_prefix: str = "") -> list[Finding]:
    if not record.certain:
        return []
    starts = [0]
    starts.extend(m.end() for m in _NEWLINE.finditer(text))
    certain: dict[int, list] = {}
    pending: dict[int, list] = {}
    for target, spans in ((certain, record.certain), (pending, record.pending)):
        for span in spans:
            target.setdefault(bisect_right(starts, span[0]) - 1, []).append(span)
    findings: list[Finding] = []
    for index in sorted(certain):
        line_start = starts[index]
        line_end = starts[index + 1] - 1 if index + 1 < len(starts) else len(text)
        spans = [(s - line_start, min(e, line_end) - line_start, k)
                 for s, e, k in certain[index] + pending.get(index, [])]
        findings.extend(finalize(text[line_start:line_end], spans, field=field, config=config,
                                 offset=line_start, location=f"{location_prefix}line {index + 1}"))
    return findings


# ----------------------------------------------------------------------------- CSV
def scan_csv(text: str, *, field: str, config: GuardConfig, delimiter: str | None = None) -> list[Finding]:
    """CSV/TSV: header cells are keys for their columns; each row is a record."""
    lines = text.split("\n")
    header_line = lines[0].rstrip("\r")
    if delimiter is None:
        delimiter = max(",\t;|", key=header_line.count)
    header = _split(header_line, delimiter)
    # In a table, a "name" column holds people's names (a bare JSON "name" key may not).
    contexts = [key_context("person_name" if h.strip().lower() in ("name", "names") else h.strip(),
                            config.workforce_keys) for h in header]
    context_columns = [i for i, ctx in enumerate(contexts) if ctx.kinds or ctx.person]
    record = Collector()
    for cell, start in _cells(header_line, header):
        collect(cell, EMPTY, record, identifier=True, config=config, offset=start)
    masked: list[str] = [header_line.replace(delimiter, "\x1f") + "\n"]
    offset = len(lines[0]) + 1
    for raw in lines[1:]:
        line = raw.rstrip("\r")
        cells = list(_cells(line, _split(line, delimiter))) if line.strip() else []
        # Delimiters are masked so that no rule reads two cells as one phrase.
        masked.append(_mask_delimiters(line, cells) + raw[len(line):] + "\n")
        for index in context_columns:
            if index < len(cells) and cells[index][0]:
                cell, start = cells[index]
                kind = keyed_kind(cell, contexts[index])
                if kind is not None:  # the header already says what the whole cell is
                    record.add(offset + start, offset + start + len(cell), kind)
                else:
                    collect(cell, contexts[index], record, identifier=False, config=config,
                            offset=offset + start)
        offset += len(raw) + 1
    collect("".join(masked)[:len(text)], EMPTY, record, identifier=False, config=config)
    return _findings_by_line(text, record, field=field, config=config)


def _split(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:  # a stray carriage return or quote: fall back to a plain split
        return line.split(delimiter)


def _mask_delimiters(line: str, cells: list[tuple[str, int]]) -> str:
    chars = ["\x1f"] * len(line)
    for cell, start in cells:
        chars[start:start + len(cell)] = cell
    return "".join(chars)


def _cells(line: str, cells: list[str]):
    """Each parsed cell with its offset in the raw line (quotes and escapes make them differ)."""
    cursor = 0
    for cell in cells:
        found = line.find(cell, cursor) if cell else -1
        if found == -1:
            yield cell, cursor
            continue
        yield cell, found
        cursor = found + len(cell)


# ----------------------------------------------------------------------------- JSON
class _Frame:
    __slots__ = ("kind", "key", "expect_key", "record", "owns_record", "person", "parent_key")

    def __init__(self, kind: str, key: str | None, record: Collector | None, parent_key: str | None):
        self.kind, self.key, self.parent_key = kind, key, parent_key
        self.owns_record = record is None
        self.record = record if record is not None else Collector()
        self.expect_key = kind == "obj"
        self.person = False


def scan_json_text(text: str, *, field: str, parent: str | None, config: GuardConfig) -> list[Finding] | None:
    """Findings in a JSON document, or None when `text` is not JSON (scan it as text then)."""
    tokens = _json_tokens(text)
    if tokens is None:
        return None
    spans: list[tuple[int, int, str]] = []
    key_cache: dict[str, list[tuple[int, int, str]]] = {}
    stack: list[_Frame] = []
    pending_key: str | None = parent
    for m in tokens:
        tok = m.group()
        top = stack[-1] if stack else None
        if tok in ("{", "["):
            record = top.record if (top is not None and tok == "[") else None
            key = pending_key if top is None or top.kind == "obj" else top.key
            frame = _Frame("obj" if tok == "{" else "arr", key, record, top.key if top else parent)
            frame.person = bool(top and top.person and tok == "[")
            stack.append(frame)
            continue
        if tok in ("}", "]"):
            frame = stack.pop() if stack else None
            if frame is not None and frame.owns_record:
                spans.extend(frame.record.resolve())
            continue
        if tok == ":":
            continue
        if tok == ",":
            if top is not None and top.kind == "obj":
                top.expect_key = True
            continue
        if top is not None and top.kind == "obj" and top.expect_key:
            pending_key = _string_value(tok) if tok[0] == '"' else tok
            top.expect_key = False
            if pending_key not in key_cache:
                inner = Collector()
                collect(pending_key, EMPTY, inner, identifier=True, config=config)
                key_cache[pending_key] = inner.certain
            if key_cache[pending_key]:
                shift = m.start() + 1
                top.record.certain.extend((s + shift, e + shift, k) for s, e, k in key_cache[pending_key])
            continue
        _json_value(m, tok, top, pending_key, parent, config, spans)
    if stack:
        return None
    return finalize(text, spans, field=field, config=config)


def _json_value(m: re.Match, tok: str, top: _Frame | None, pending_key: str | None, parent: str | None,
                config: GuardConfig, spans: list[tuple[int, int, str]]) -> None:
    key = (pending_key if top is None or top.kind == "obj" else top.key) or parent
    if tok[0] == '"':
        # Offsets must index the raw text, so escaped strings are scanned as written.
        value, start = (tok[1:-1] if "\\" in tok else _string_value(tok)), m.start() + 1
    elif tok in ("true", "false", "null"):
        return
    else:
        value, start = tok, m.start()
    if top is not None and top.kind == "obj" and key == "resourceType" and value in PERSON_RESOURCES:
        top.person = True
        return
    ctx = key_context(key, config.workforce_keys) if key else EMPTY
    if not (ctx.kinds or ctx.person) and top is not None:
        ctx = _parent_context(top, config) or ctx
    if top is not None and top.person and key in ("id", "identifier", "value"):
        ctx = key_context("patient_mrn")
    if not value or (_NUMBER.match(value) and not ctx.kinds and not ctx.person):
        return
    record = top.record if top is not None else Collector()
    collect(value, ctx, record, identifier=False, config=config, offset=start)
    if top is None:
        spans.extend(record.resolve())


def _string_value(token: str) -> str:
    try:
        return json.loads(token)
    except ValueError:  # an invalid escape: scan the raw text rather than fail the write
        return token[1:-1]


def _parent_context(top: _Frame, config: GuardConfig) -> KeyContext | None:
    # {"address": [{"line": [...]}]}: "line" means nothing alone, its parent says address
    for key in (top.key, top.parent_key):
        if key:
            ctx = key_context(key, config.workforce_keys)
            if ctx.kinds or ctx.person:
                return ctx
    return None


def _json_tokens(text: str) -> list[re.Match] | None:
    tokens = []
    pos = 0
    for m in _JSON_TOKEN.finditer(text):
        if text[pos:m.start()].strip():
            return None
        tokens.append(m)
        pos = m.end()
    if text[pos:].strip() or not tokens or tokens[0].group() not in ("{", "["):
        return None
    return tokens


# ----------------------------------------------------------------------------- notebooks
def scan_notebook(text: str, *, field: str, config: GuardConfig) -> list[Finding]:
    """Jupyter notebooks: each cell's source and text outputs, located as "cell N line M"
    or "cell N output line M"."""
    try:
        notebook = json.loads(text)
    except ValueError:
        return scan_lines(text, field=field, config=config)
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):  # not a notebook after all: scan it as text
        return scan_lines(text, field=field, config=config)
    findings: list[Finding] = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            continue
        parts = [("", cell.get("source", ""))]
        outputs = cell.get("outputs")
        for output in outputs if isinstance(outputs, list) else []:
            if isinstance(output, dict):
                data = output.get("data")
                parts.append(("output ", output.get("text", "")))
                parts.append(("output ", data.get("text/plain", "") if isinstance(data, dict) else ""))
        for label, body in parts:
            body = "".join(map(str, body)) if isinstance(body, list) else str(body or "")
            if body.strip():
                findings.extend(scan_lines(body, field=field, config=config,
                                           location_prefix=f"cell {number} {label}"))
    return findings

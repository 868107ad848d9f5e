"""Parse MLflow filter strings and order_by clauses into plain data.

The grammar is MLflow's: conditions joined by AND, each `<entity>.<key> <comparator>
<value>`, keys optionally quoted with backticks or double quotes, string values in single
or double quotes, tuples for IN / NOT IN, and NULL for IS [NOT] NULL. Parsing knows no
SQL; each searchable resource translates the conditions with its own column map.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from medflow.errors import MedflowError

# prefix spelled by the client -> canonical entity type
ENTITY_PREFIXES = {
    "metric": "metric", "metrics": "metric",
    "param": "param", "params": "param", "parameter": "param", "parameters": "param",
    "tag": "tag", "tags": "tag",
    "attribute": "attribute", "attributes": "attribute", "attr": "attribute", "run": "attribute",
    "dataset": "dataset", "datasets": "dataset",
}
COMPARATORS = ("=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN", "IS", "IS NOT")

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
    | (?P<number>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?))(?![\w.])
    | (?P<op>[<>=!]+)  # a run, so '>>>' is reported as one bad comparator
    | (?P<lparen>\()
    | (?P<rparen>\))
    | (?P<comma>,)
    | (?P<ident>(?:[A-Za-z_][\w]*)(?:\.(?:`[^`]+`|"[^"]+"|[\w\-./:]+|[\w]+))?(?:[\w\-./: ]*?(?=\s|$|[=<>!(]))?)
    )""", re.VERBOSE)


@dataclass(frozen=True)
class Condition:
    entity: str      # metric | param | tag | attribute | dataset
    key: str         # e.g. "auc", "status", "mlflow.runName"
    comparator: str  # one of COMPARATORS (upper case)
    value: object    # str | float | tuple[str, ...] | None (for IS NULL)


@dataclass(frozen=True)
class OrderBy:
    entity: str
    key: str
    ascending: bool


def _bad_filter(filter_string: str, why: str) -> MedflowError:
    shown = filter_string if len(filter_string) <= 200 else filter_string[:200] + "..."
    return MedflowError.invalid(f"Invalid filter '{shown}': {why}. Filters look like "
                                "\"metrics.auc > 0.8 and params.model = 'gbm' and tags.team = 'icu'\".")


def _split_identifier(text: str, default_entity: str, valid_entities: set[str], source: str) -> tuple[str, str]:
    text = text.strip()
    if "." in text:
        prefix, rest = text.split(".", 1)
        entity = ENTITY_PREFIXES.get(prefix.lower())
        if entity is None:
            entity, rest = default_entity, text
    else:
        entity, rest = default_entity, text
    rest = rest.strip()
    if len(rest) >= 2 and rest[0] == rest[-1] and rest[0] in "`\"":
        rest = rest[1:-1]
    if entity not in valid_entities:
        raise _bad_filter(source, f"'{text}' is not searchable here (allowed: "
                                  f"{', '.join(sorted(valid_entities))})")
    if not rest:
        raise _bad_filter(source, f"'{text}' names no key")
    return entity, rest


def _unquote(token: str) -> str:
    quote = token[0]
    body = token[1:-1]
    if quote == "'":
        body = body.replace("''", "'")
    return re.sub(r"\\(.)", r"\1", body)


def _tokens(filter_string: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = filter_string.rstrip()
    while pos < len(text):
        # identifiers with quoted keys: prefix.`key with spaces` / prefix."key"
        m = re.compile(r'\s*([A-Za-z_]\w*\.(?:`[^`]*`|"[^"]*"))').match(text, pos)
        if m:
            out.append(("ident", m.group(1)))
            pos = m.end()
            continue
        m = re.compile(r"\s*(?P<kw>(?i:and|not\s+in|in|is\s+not|is|like|ilike|null))(?![\w.])").match(text, pos)
        if m:
            out.append(("kw", " ".join(m.group("kw").upper().split())))
            pos = m.end()
            continue
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _bad_filter(filter_string, f"unexpected text at position {pos}: '{text[pos:pos + 20]}'")
        kind = m.lastgroup
        value = m.group(kind)
        out.append((kind, value.strip() if kind == "ident" else value))
        pos = m.end()
    return out


def parse_filter(filter_string: str | None, *, valid_entities: set[str],
                 default_entity: str = "attribute") -> list[Condition]:
    """Conditions of an AND-only MLflow filter; [] for an empty filter."""
    if not filter_string or not filter_string.strip():
        return []
    tokens = _tokens(filter_string)
    conditions: list[Condition] = []
    i = 0

    def expect(ok: bool, why: str) -> None:
        if not ok:
            raise _bad_filter(filter_string, why)

    while i < len(tokens):
        expect(tokens[i][0] == "ident", f"expected a key such as metrics.auc, got '{tokens[i][1]}'")
        entity, key = _split_identifier(tokens[i][1], default_entity, valid_entities, filter_string)
        i += 1
        expect(i < len(tokens), f"'{key}' has no comparator")
        kind, comparator = tokens[i]
        if kind == "op" and comparator in ("=", "!=", "<>", "<", "<=", ">", ">="):
            comparator = "!=" if comparator == "<>" else comparator
        elif kind == "kw" and comparator in ("LIKE", "ILIKE", "IN", "NOT IN", "IS", "IS NOT"):
            pass
        else:
            raise MedflowError.invalid(
                f"Invalid comparator '{comparator}' not one of {list(COMPARATORS)} in filter "
                f"'{filter_string[:200]}'.")
        i += 1
        expect(i < len(tokens), f"'{key} {comparator}' has no value")
        kind, raw = tokens[i]
        if comparator in ("IS", "IS NOT"):
            expect(kind == "kw" and raw == "NULL", f"'{comparator}' must be followed by NULL")
            value: object = None
            i += 1
        elif comparator in ("IN", "NOT IN"):
            expect(kind == "lparen", f"'{comparator}' needs a list such as ('a', 'b')")
            items, i = [], i + 1
            while True:
                expect(i < len(tokens) and tokens[i][0] == "string", "list items must be quoted strings")
                items.append(_unquote(tokens[i][1]))
                i += 1
                expect(i < len(tokens), "unclosed list")
                if tokens[i][0] == "rparen":
                    i += 1
                    break
                expect(tokens[i][0] == "comma", "list items are separated by commas")
                i += 1
            value = tuple(items)
        elif kind == "string":
            value = _unquote(raw)
            i += 1
        elif kind == "number":
            value = float(raw)
            i += 1
        else:
            raise _bad_filter(filter_string, f"'{raw}' is not a value: quote strings, e.g. '{raw}'")
        conditions.append(Condition(entity, key, comparator, value))
        if i < len(tokens):
            expect(tokens[i] == ("kw", "AND"), f"conditions must be joined with AND, got '{tokens[i][1]}'")
            i += 1
            expect(i < len(tokens), "nothing after AND")
    return conditions


_ORDER_RE = re.compile(r"^\s*(?P<ident>.+?)(?:\s+(?P<dir>ASC|DESC))?\s*$", re.IGNORECASE)


def parse_order_by(clauses: list[str], *, valid_entities: set[str],
                   default_entity: str = "attribute") -> list[OrderBy]:
    out = []
    for clause in clauses:
        m = _ORDER_RE.match(clause or "")
        if not m:
            raise MedflowError.invalid(f"Invalid order_by clause '{clause}': use e.g. 'metrics.auc DESC'.")
        entity, key = _split_identifier(m.group("ident"), default_entity, valid_entities, clause)
        out.append(OrderBy(entity, key, (m.group("dir") or "ASC").upper() == "ASC"))
    return out

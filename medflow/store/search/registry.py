"""search for registered models and model versions: MLflow's filters, orderings and pages.

Prompts (MLflow 3 stores them as registered models tagged mlflow.prompt.is_prompt = 'true') are
left out unless the filter asks for them, as MLflow does; the 3.x client appends
tag.`mlflow.prompt.is_prompt` != 'true' to every search, which must match models that have no
such tag at all.
"""
from __future__ import annotations

from sqlalchemy import Connection, and_, exists, select

from medflow.errors import MedflowError
from medflow.store import page_tokens
from medflow.store import model_versions as versions
from medflow.store import registered_models as models
from medflow.store.schema import (model_version_tags, model_versions, registered_model_tags,
                                  registered_models)
from medflow.store.search.grammar import Condition, parse_filter, parse_order_by
from medflow.store.search.sql import compare

PROMPT_TAG = "mlflow.prompt.is_prompt"
TAG_COMPARATORS = ("=", "!=", "LIKE", "ILIKE")

_MODEL_ORDER = {"name": registered_models.c.name,
                "timestamp": registered_models.c.last_updated_timestamp,
                "last_updated_timestamp": registered_models.c.last_updated_timestamp,
                "creation_timestamp": registered_models.c.creation_timestamp}
_VERSION_FILTER = {"name": registered_models.c.name, "run_id": model_versions.c.run_id,
                   "source_path": model_versions.c.source, "version_number": model_versions.c.version}
_VERSION_LISTS = ("name", "run_id")  # the attributes MLflow lets IN / NOT IN take
_VERSION_ORDER = {"name": registered_models.c.name, "version_number": model_versions.c.version,
                  "creation_timestamp": model_versions.c.creation_timestamp,
                  "last_updated_timestamp": model_versions.c.last_updated_timestamp}
_VERSION_DEFAULT_ORDER = ["last_updated_timestamp DESC", "name ASC", "version_number DESC"]


def _split_prompt_conditions(conditions: list[Condition]) -> tuple[list[Condition], bool]:
    """(conditions without the prompt test unless it selects prompts, whether prompts are wanted)."""
    prompt = [c for c in conditions if c.entity == "tag" and c.key == PROMPT_TAG]
    if not prompt:
        return conditions, False
    first, value = prompt[0], str(prompt[0].value).lower()
    wants_prompts = (first.comparator == "=" and value == "true") or (first.comparator == "!=" and value == "false")
    if wants_prompts:
        return conditions, True
    return [c for c in conditions if not (c.entity == "tag" and c.key == PROMPT_TAG)], False


def _is_prompt(model_pk_column):
    return exists().where(registered_model_tags.c.model_pk == model_pk_column,
                          registered_model_tags.c.key == PROMPT_TAG,
                          registered_model_tags.c.value == "true")


def _tag_condition(tag_table, owner_match, cond: Condition):
    if cond.comparator not in TAG_COMPARATORS:
        raise MedflowError.invalid(f"Invalid comparator for tag: '{cond.comparator}'. Tags are compared "
                                   f"with one of {list(TAG_COMPARATORS)}.")
    return exists().where(owner_match, tag_table.c.key == cond.key,
                          compare(tag_table.c.value, cond.comparator, cond.value, what=f"tag '{cond.key}'"))


def _ordering(order_by: list[str], columns: dict, defaults: list) -> list:
    clauses, seen = [], set()
    for clause in parse_order_by(order_by, valid_entities={"attribute"}):
        if clause.key not in columns:
            raise MedflowError.invalid(f"Invalid order by key '{clause.key}' specified. Valid keys are "
                                       f"{sorted(columns)}.")
        column = columns[clause.key]
        if column.key in seen:
            raise MedflowError.invalid(f"`order_by` contains duplicate fields: {order_by}. "
                                       "Name each field once.")
        seen.add(column.key)
        clauses.append(column.asc() if clause.ascending else column.desc())
    clauses += [c for column, c in defaults if column.key not in seen]
    return clauses


def _page(conn: Connection, query, *, fingerprint: str, max_results: int, page_token: str | None):
    offset = page_tokens.decode(page_token, fingerprint)
    rows = conn.execute(query.offset(offset).limit(max_results + 1)).all()
    return rows[:max_results], page_tokens.next_token(offset, max_results, len(rows), fingerprint)


def search_registered_models(conn: Connection, *, filter_string: str | None, order_by: list[str],
                             max_results: int, page_token: str | None, visible) -> tuple[list[dict], str | None]:
    """`visible`: the WHERE clause of the models the caller may see (workspace and grants)."""
    conditions, wants_prompts = _split_prompt_conditions(
        parse_filter(filter_string, valid_entities={"attribute", "tag"}))
    query = select(registered_models).where(visible)
    if not wants_prompts:
        query = query.where(~_is_prompt(registered_models.c.id))
    for cond in conditions:
        if cond.entity == "tag":
            query = query.where(_tag_condition(
                registered_model_tags, registered_model_tags.c.model_pk == registered_models.c.id, cond))
        elif cond.key == "name":
            query = query.where(compare(registered_models.c.name, cond.comparator, cond.value, what="name"))
        else:
            raise MedflowError.invalid(f"Invalid attribute key '{cond.key}' specified. Registered models "
                                       "are filtered on name and tags.<key>.")
    ordering = _ordering(order_by, _MODEL_ORDER, [(registered_models.c.name, registered_models.c.name.asc())])
    rows, token = _page(conn, query.order_by(*ordering, registered_models.c.id),
                        fingerprint=page_tokens.fingerprint("registered-models", filter_string, order_by),
                        max_results=max_results, page_token=page_token)
    return models.to_wire_many(conn, rows), token


def _version_condition(cond: Condition):
    column = _VERSION_FILTER.get(cond.key)
    if column is None:
        raise MedflowError.invalid(f"Invalid attribute key '{cond.key}' specified. Valid keys are "
                                   f"{sorted(_VERSION_FILTER)} and tags.<key>.")
    if cond.key == "version_number":
        value = cond.value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise MedflowError.invalid(f"Invalid value for numeric attribute 'version_number': {cond.value!r}; "
                                       "compare it with a whole number, e.g. version_number > 2.")
        return compare(column, cond.comparator, value, what="version_number", numeric=True)
    if cond.comparator in ("IN", "NOT IN") and cond.key not in _VERSION_LISTS:
        raise MedflowError.invalid(f"Invalid comparator for attribute '{cond.key}': {cond.comparator} "
                                   f"works only on {list(_VERSION_LISTS)}.")
    return compare(column, cond.comparator, cond.value, what=cond.key)


def search_model_versions(conn: Connection, *, filter_string: str | None, order_by: list[str],
                          max_results: int, page_token: str | None, visible) -> tuple[list[dict], str | None]:
    """`visible`: the WHERE clause of the models whose versions the caller may see (CVE-2026-2734)."""
    conditions, wants_prompts = _split_prompt_conditions(
        parse_filter(filter_string, valid_entities={"attribute", "tag"}))
    query = versions.select_versions().where(visible,
                                             model_versions.c.deleted.is_(False))
    if not wants_prompts:
        query = query.where(~_is_prompt(model_versions.c.model_pk))
    version_tag_owner = and_(model_version_tags.c.model_pk == model_versions.c.model_pk,
                             model_version_tags.c.version == model_versions.c.version)
    for cond in conditions:
        if cond.entity == "tag":
            query = query.where(_tag_condition(model_version_tags, version_tag_owner, cond))
        else:
            query = query.where(_version_condition(cond))
    ordering = _ordering(order_by or _VERSION_DEFAULT_ORDER, _VERSION_ORDER,
                         [(registered_models.c.name, registered_models.c.name.asc()),
                          (model_versions.c.version, model_versions.c.version.desc())])
    rows, token = _page(conn, query.order_by(*ordering, model_versions.c.model_pk),
                        fingerprint=page_tokens.fingerprint("model-versions", filter_string, order_by),
                        max_results=max_results, page_token=page_token)
    # as MLflow: search results carry tags but not aliases
    return versions.to_wire_many(conn, rows, with_aliases=False), token

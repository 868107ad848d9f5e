"""search-runs: MLflow's filter grammar and order_by over runs, in one SQL statement per page.

Filters on metrics (latest value), params and tags join their table once per condition;
datasets and IS [NOT] NULL use EXISTS. The order is total — the requested keys, then
start_time DESC (MLflow's default), then run_uuid — so offset pages never repeat or skip a
run. As in MLflow, runs without the sort key come last in either direction, and a NaN
metric sorts after every number but before a missing one.
"""
from __future__ import annotations

from sqlalchemy import (Connection, and_, case, cast, exists, false, func, literal, or_, select,
                        true)
from sqlalchemy.dialects.postgresql import JSONB

from medflow.errors import MedflowError
from medflow.store import page_tokens
from medflow.store.runs import rows_in_order, runs_to_wire
from medflow.store.schema import datasets, latest_metrics, params, run_inputs, runs, tags
from medflow.store.search.grammar import Condition, OrderBy, parse_filter, parse_order_by
from medflow.store.search.sql import compare

ENTITIES = {"metric", "param", "tag", "attribute", "dataset"}
_STRING_ATTRIBUTES = {"run_id": runs.c.run_uuid, "run_name": runs.c.name, "status": runs.c.status,
                      "user_id": runs.c.user_id, "artifact_uri": runs.c.artifact_uri}
_NUMERIC_ATTRIBUTES = {"start_time": runs.c.start_time, "end_time": runs.c.end_time}
_ALIASES = {"created": "start_time", "Created": "start_time",
            "run name": "run_name", "Run name": "run_name", "Run Name": "run_name"}
_VALID_ATTRIBUTE_KEYS = sorted(set(_STRING_ATTRIBUTES) | set(_NUMERIC_ATTRIBUTES) | set(_ALIASES))
_METRIC_COMPARATORS = {"=", "!=", "<", "<=", ">", ">="}
_KEYED_COMPARATORS = {"=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"}
_STRING_COMPARATORS = {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}
_DATASET_KEYS = {"name", "digest", "context"}
_TABLES = {"metric": latest_metrics, "param": params, "tag": tags}
_VIEW_STAGES = {"ACTIVE_ONLY": ("active",), "DELETED_ONLY": ("deleted",), "ALL": ("active", "deleted")}
DATASET_CONTEXT_TAG = "mlflow.data.context"


def _comparator(cond: Condition) -> str:
    return {"IS": "IS NULL", "IS NOT": "IS NOT NULL"}.get(cond.comparator, cond.comparator)


def _check_comparator(comparator: str, allowed: set[str], what: str) -> None:
    if comparator not in allowed:
        raise MedflowError.invalid(f"Invalid comparator '{comparator}' for {what}: not one of "
                                   f"{sorted(allowed)}.")


def _attribute_key(key: str) -> str:
    key = _ALIASES.get(key, key)
    if key not in _STRING_ATTRIBUTES and key not in _NUMERIC_ATTRIBUTES:
        raise MedflowError.invalid(f"Invalid attribute key '{key}' specified. Valid keys are "
                                   f"{_VALID_ATTRIBUTE_KEYS}.")
    return key


def _number(value, what: str):
    if not isinstance(value, (int, float)):
        raise MedflowError.invalid(f"Expected numeric value type for {what}. Found '{value}'; "
                                   "compare with an unquoted number, e.g. > 0.5.")
    return int(value) if isinstance(value, float) and value.is_integer() and abs(value) < 2**63 else value


def _string(value, what: str):
    if isinstance(value, (int, float)):
        raise MedflowError.invalid(f"Expected a quoted string value for {what} (e.g. 'my-value'). "
                                   f"Got value {value:g}.")
    return value


class _Query:
    """Accumulates the joins, WHERE clauses and ORDER BY of one search."""

    def __init__(self, dialect: str):
        self.dialect = dialect
        self.source = runs
        self.where: list = []
        self.joined: dict[tuple[str, str], tuple[object, bool]] = {}  # (entity, key) -> (alias, NaN possible)

    def add_condition(self, cond: Condition) -> None:
        comparator = _comparator(cond)
        if cond.entity == "attribute":
            self._attribute_condition(cond, comparator)
        elif cond.entity == "dataset":
            self._dataset_condition(cond, comparator)
        else:
            self._keyed_condition(cond, comparator)

    def _attribute_condition(self, cond: Condition, comparator: str) -> None:
        key = _attribute_key(cond.key)
        if key in _NUMERIC_ATTRIBUTES:
            _check_comparator(comparator, _METRIC_COMPARATORS, f"numeric attribute '{key}'")
            value = _number(cond.value, f"numeric attribute: {key}")
            self.where.append(compare(_NUMERIC_ATTRIBUTES[key], comparator, value, what=key, numeric=True))
            return
        _check_comparator(comparator, _STRING_COMPARATORS, f"attribute '{key}'")
        if comparator in ("IN", "NOT IN") and key != "run_id":
            raise MedflowError.invalid("Only ['run_id'] attributes support comparison with a list of "
                                       "quoted string values.")
        value = cond.value if comparator in ("IN", "NOT IN") else _string(cond.value, "attributes")
        self.where.append(compare(_STRING_ATTRIBUTES[key], comparator, value, what=key))

    def _keyed_condition(self, cond: Condition, comparator: str) -> None:
        table = _TABLES[cond.entity]
        what = {"metric": "metric", "param": "parameter", "tag": "tag"}[cond.entity]
        if cond.entity == "metric":
            if comparator in ("IS NULL", "IS NOT NULL"):
                raise MedflowError.invalid(f"IS NULL / IS NOT NULL is only supported for tags and params, "
                                           f"not for 'metric' '{cond.key}'.")
            _check_comparator(comparator, _METRIC_COMPARATORS, f"metric '{cond.key}'")
        else:
            _check_comparator(comparator, _KEYED_COMPARATORS, f"{what} '{cond.key}'")
        if comparator in ("IS NULL", "IS NOT NULL"):
            present = exists().where(table.c.run_uuid == runs.c.run_uuid, table.c.key == cond.key)
            self.where.append(~present if comparator == "IS NULL" else present)
            return
        alias = table.alias(f"f{len(self.joined)}_{cond.entity}")
        if cond.entity == "metric":
            value = _number(cond.value, "metric")
            test = compare(alias.c.value, comparator, value, what=f"metric '{cond.key}'", numeric=True)
            # NaN is stored as 0 + is_nan: it satisfies only "!=", as in MLflow
            test = or_(test, alias.c.is_nan == true()) if comparator == "!=" else and_(
                test, alias.c.is_nan == false())
            nan_possible = comparator == "!="
        else:
            test = compare(alias.c.value, comparator, _string(cond.value, what), what=f"{what} '{cond.key}'")
            nan_possible = False
        self.source = self.source.join(alias, and_(alias.c.run_uuid == runs.c.run_uuid,
                                                   alias.c.key == cond.key, test))
        self.joined.setdefault((cond.entity, cond.key), (alias, nan_possible))

    def _dataset_condition(self, cond: Condition, comparator: str) -> None:
        if cond.key not in _DATASET_KEYS:
            raise MedflowError.invalid(f"Invalid dataset key '{cond.key}' specified. Valid keys are "
                                       f"{sorted(_DATASET_KEYS)}.")
        _check_comparator(comparator, _STRING_COMPARATORS, f"dataset '{cond.key}'")
        value = cond.value if comparator in ("IN", "NOT IN") else _string(cond.value, "dataset attributes")
        if cond.key != "context":
            self.where.append(exists().where(
                run_inputs.c.run_uuid == runs.c.run_uuid,
                datasets.c.dataset_uuid == run_inputs.c.dataset_uuid,
                compare(datasets.c[cond.key], comparator, value, what=f"dataset {cond.key}")))
            return
        # input tags are a JSON list on the link row: unnest it with the dialect's JSON functions
        if self.dialect == "postgresql":
            element = func.jsonb_array_elements(cast(run_inputs.c.tags, JSONB)).table_valued("value").alias("tag")
            tag_key, tag_value = element.c.value.op("->>")(literal("key")), element.c.value.op("->>")(literal("value"))
        else:
            element = func.json_each(run_inputs.c.tags).table_valued("value").alias("tag")
            tag_key = func.json_extract(element.c.value, "$.key")
            tag_value = func.json_extract(element.c.value, "$.value")
        self.where.append(exists(select(literal(1)).select_from(run_inputs).join(element, true()).where(
            run_inputs.c.run_uuid == runs.c.run_uuid, tag_key == DATASET_CONTEXT_TAG,
            compare(tag_value, comparator, value, what="dataset context"))))

    def ordering(self, clauses: list[OrderBy]) -> list:
        order, seen = [], set()
        for clause in clauses:
            entity, key = clause.entity, clause.key
            if entity == "attribute":
                key = _attribute_key(key)
            if (entity, key) in seen:
                raise MedflowError.invalid(f"`order_by` contains duplicate fields: "
                                           f"{[f'{c.entity}.{c.key}' for c in clauses]}")
            seen.add((entity, key))
            if entity == "dataset":
                raise MedflowError.invalid("Invalid order_by entity type 'dataset': order by metrics, "
                                           "params, tags or attributes.")
            if entity == "attribute":
                column = _STRING_ATTRIBUTES.get(key, _NUMERIC_ATTRIBUTES.get(key))
                if column.nullable:
                    order.append(column.is_(None))
                order.append(column.asc() if clause.ascending else column.desc())
                continue
            alias, nan_possible = self.joined.get((entity, key), (None, True))
            if alias is None:  # not filtered on: runs without the key stay, sorted last
                table = _TABLES[entity]
                alias = table.alias(f"o{len(order)}_{entity}")
                self.source = self.source.outerjoin(alias, and_(alias.c.run_uuid == runs.c.run_uuid,
                                                                alias.c.key == key))
                order.append(case((alias.c.is_nan == true(), 1), (alias.c.value.is_(None), 2), else_=0)
                             if entity == "metric" else case((alias.c.value.is_(None), 1), else_=0))
            elif nan_possible and entity == "metric":
                order.append(case((alias.c.is_nan == true(), 1), else_=0))
            order.append(alias.c.value.asc() if clause.ascending else alias.c.value.desc())
        if ("attribute", "start_time") not in seen:
            order.append(runs.c.start_time.desc())
        order.append(runs.c.run_uuid.asc())
        return order


def search(conn: Connection, *, experiment_ids: list[int], filter_string: str | None, view_type: str,
           max_results: int, order_by: list[str], page_token: str | None) -> tuple[list[dict], str | None]:
    query = _Query(conn.dialect.name)
    for cond in parse_filter(filter_string, valid_entities=ENTITIES):
        query.add_condition(cond)
    ordering = query.ordering(parse_order_by(order_by, valid_entities=ENTITIES))
    fingerprint = page_tokens.fingerprint(sorted(experiment_ids), filter_string or "", order_by, view_type)
    offset = page_tokens.decode(page_token, fingerprint)
    if not experiment_ids:
        return [], None
    # Sort and page run ids only (narrow rows sort several times faster), then read the page.
    stmt = (select(runs.c.run_uuid).select_from(query.source)
            .where(runs.c.experiment_id.in_(experiment_ids),
                   runs.c.lifecycle_stage.in_(_VIEW_STAGES[view_type]), *query.where)
            .order_by(*ordering).offset(offset).limit(max_results + 1))
    run_ids = [r[0] for r in conn.execute(stmt).all()]
    token = page_tokens.next_token(offset, max_results, len(run_ids), fingerprint)
    return runs_to_wire(conn, rows_in_order(conn, run_ids[:max_results])), token

"""search-experiments: filter on name, tags and times; order by name or times; offset pages."""
from __future__ import annotations

from sqlalchemy import Connection, and_, exists, select

from medflow.errors import MedflowError
from medflow.store import page_tokens
from medflow.store.experiments import to_wire_many
from medflow.store.schema import experiment_tags, experiments
from medflow.store.search.grammar import parse_filter, parse_order_by
from medflow.store.search.sql import compare

_ATTRIBUTES = {"name": (experiments.c.name, False),
               "creation_time": (experiments.c.creation_time, True),
               "last_update_time": (experiments.c.last_update_time, True),
               "experiment_id": (experiments.c.experiment_id, True)}
_VIEW = {"ACTIVE_ONLY": ("active",), "DELETED_ONLY": ("deleted",), "ALL": ("active", "deleted")}


def search(conn: Connection, *, filter_string: str | None, order_by: list[str], view_type: str,
           max_results: int, page_token: str | None, visible) -> tuple[list[dict], str | None]:
    """`visible`: the WHERE clause of what the caller may see (workspace and grants)."""
    if view_type not in _VIEW:
        raise MedflowError.invalid(f"Invalid view_type '{view_type}': use ACTIVE_ONLY, DELETED_ONLY or ALL.")
    query = select(experiments).where(visible, experiments.c.lifecycle_stage.in_(_VIEW[view_type]))
    for cond in parse_filter(filter_string, valid_entities={"attribute", "tag"}):
        if cond.entity == "tag":
            query = query.where(exists().where(and_(
                experiment_tags.c.experiment_id == experiments.c.experiment_id,
                experiment_tags.c.key == cond.key,
                compare(experiment_tags.c.value, cond.comparator, cond.value, what=f"tag '{cond.key}'"))))
            continue
        if cond.key not in _ATTRIBUTES:
            raise MedflowError.invalid(f"Invalid attribute '{cond.key}' in experiment filter: use one of "
                                       f"{sorted(_ATTRIBUTES)} or tags.<key>.")
        column, numeric = _ATTRIBUTES[cond.key]
        query = query.where(compare(column, cond.comparator, cond.value, what=cond.key, numeric=numeric))
    ordering = []
    for clause in parse_order_by(order_by, valid_entities={"attribute"}):
        if clause.key not in _ATTRIBUTES:
            raise MedflowError.invalid(f"Invalid order_by '{clause.key}' for experiments: use one of "
                                       f"{sorted(_ATTRIBUTES)}.")
        column = _ATTRIBUTES[clause.key][0]
        ordering.append(column.asc() if clause.ascending else column.desc())
    if not ordering:
        ordering = [experiments.c.creation_time.desc()]
    ordering.append(experiments.c.experiment_id.asc())  # stable pages
    fingerprint = page_tokens.fingerprint(filter_string, order_by, view_type)
    offset = page_tokens.decode(page_token, fingerprint)
    rows = conn.execute(query.order_by(*ordering).offset(offset).limit(max_results + 1)).all()
    token = page_tokens.next_token(offset, max_results, len(rows), fingerprint)
    return to_wire_many(conn, rows[:max_results]), token

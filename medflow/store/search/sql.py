"""Comparisons of the MLflow grammar as SQLAlchemy expressions, shared by every search."""
from __future__ import annotations

from sqlalchemy import ColumnElement, func

from medflow.errors import MedflowError

STRING_COMPARATORS = {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}
NUMERIC_COMPARATORS = {"=", "!=", "<", "<=", ">", ">="}


def compare(column, comparator: str, value: object, *, what: str, numeric: bool = False) -> ColumnElement:
    """`column <comparator> value`, rejecting comparators that make no sense for the type.

    SQLite connections run with case_sensitive_like=ON (store/engine.py), so LIKE is case
    sensitive on both backends, as in MLflow; ILIKE lowers both sides.
    """
    allowed = NUMERIC_COMPARATORS if numeric else STRING_COMPARATORS
    if comparator not in allowed:
        raise MedflowError.invalid(
            f"Invalid comparator '{comparator}' for {what}: use one of {sorted(allowed)}.")
    if numeric:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise MedflowError.invalid(f"{what} is compared with a number, got '{value}'.") from None
        if not isinstance(value, (int, float)):
            raise MedflowError.invalid(f"{what} is compared with a number.")
    elif comparator in ("IN", "NOT IN"):
        if not isinstance(value, tuple):
            raise MedflowError.invalid(f"'{comparator}' on {what} needs a list such as ('a', 'b').")
    elif not isinstance(value, str):
        raise MedflowError.invalid(f"{what} is compared with a quoted string, e.g. '{value}'.")
    if comparator == "=":
        return column == value
    if comparator == "!=":
        return column != value
    if comparator == "<":
        return column < value
    if comparator == "<=":
        return column <= value
    if comparator == ">":
        return column > value
    if comparator == ">=":
        return column >= value
    if comparator == "LIKE":
        return column.like(value)
    if comparator == "ILIKE":
        return func.lower(column).like(func.lower(value))
    if comparator == "IN":
        return column.in_(value)
    return column.not_in(value)

"""Numbers as MLflow's JSON carries them: int64 fields (also as strings, from query strings)
and doubles (NaN and ±Infinity also as strings). Shared by request parsing and the services
that read nested fields (e.g. each metric of a log-batch)."""
from __future__ import annotations

import math
from typing import Any

from medflow.errors import MedflowError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def type_error(name: str, value: Any, expected: str) -> MedflowError:
    shown = repr(value) if not isinstance(value, str) or len(value) <= 40 else repr(value[:40] + "...")
    return MedflowError.invalid(
        f"Invalid value {shown} for parameter '{name}' supplied: expected {expected}, "
        f"got {type(value).__name__}.")


def parse_int64(name: str, value: Any, *, required: bool = False, default: int | None = None) -> int | None:
    if value is None or value == "":
        if required:
            raise MedflowError.missing(name)
        return default
    if isinstance(value, bool):
        raise type_error(name, value, "an integer")
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise type_error(name, value, "an integer") from None
    elif isinstance(value, float):
        if not value.is_integer():
            raise type_error(name, value, "an integer")
        value = int(value)
    elif not isinstance(value, int):
        raise type_error(name, value, "an integer")
    if not INT64_MIN <= value <= INT64_MAX:
        raise MedflowError.invalid(
            f"Invalid value for parameter '{name}': {value} does not fit a 64-bit integer.")
    return value


def parse_double(name: str, value: Any) -> float:
    """MLflow metric values: JSON numbers, or the strings "NaN", "Infinity", "-Infinity"."""
    if isinstance(value, bool):
        raise type_error(name, value, "a number")
    if isinstance(value, (int, float)):
        try:
            result = float(value)
        except OverflowError:
            raise MedflowError.invalid(f"Invalid value for parameter '{name}': too large for a double.") from None
    elif isinstance(value, str) and value.strip() in ("NaN", "Infinity", "-Infinity", "nan", "inf", "-inf"):
        result = float(value.strip().replace("Infinity", "inf"))
    elif isinstance(value, str):
        try:
            result = float(value)
        except ValueError:
            raise type_error(name, value, "a number") from None
    else:
        raise type_error(name, value, "a number")
    if isinstance(value, int) and not math.isfinite(result):
        raise MedflowError.invalid(f"Invalid value for parameter '{name}': too large for a double.")
    return result

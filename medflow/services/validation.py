"""MLflow's validation rules and limits, enforced without MLflow's silent truncation.

A value over a limit is rejected with a message naming the field, the limit and what to
do — never cut short and stored altered.
"""
from __future__ import annotations

import posixpath
import re

from medflow.errors import MedflowError

MAX_ENTITY_KEY_LENGTH = 250
MAX_PARAM_VAL_LENGTH = 6000
MAX_TAG_VAL_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_VAL_LENGTH = 20000
MAX_MODEL_REGISTRY_TAG_VAL_LENGTH = 100000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000
MAX_RUN_NAME_LENGTH = 250
MAX_DESCRIPTION_LENGTH = 100000

_KEY_RE = re.compile(r"^[/\w.\- :]*$")
_RUN_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
_EXPERIMENT_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,63}$")


def check_length(what: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise MedflowError.invalid(
            f"'{what}' exceeds the maximum length of {limit} characters (got {len(value)}). "
            "MedFlow does not truncate values: shorten it, or log long text as an artifact.")


def check_key(kind: str, key: str | None) -> str:
    """Param, tag and metric names: MLflow's character set, no path tricks, ≤ 250 chars."""
    if key is None or key == "":
        raise MedflowError.missing("key")
    if not isinstance(key, str):
        raise MedflowError.invalid(f"{kind} key must be a string.")
    check_length(f"{kind} key", key, MAX_ENTITY_KEY_LENGTH)
    if not _KEY_RE.match(key):
        raise MedflowError.invalid(
            f"Invalid value \"{key}\" for parameter 'key' supplied: Names may only contain "
            "alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).")
    normalized = posixpath.normpath(key)
    if normalized != key or normalized == "." or normalized.startswith(("..", "/")):
        raise MedflowError.invalid(
            f"Invalid value \"{key}\" for parameter 'key' supplied: Names may be treated as files "
            "in certain cases, and must not resolve to other names when treated as such "
            f"(this name would resolve to '{normalized}').")
    return key


def check_run_id(run_id: str | None) -> str:
    if not run_id:
        raise MedflowError.missing("run_id")
    if not _RUN_ID_RE.match(run_id):
        raise MedflowError.invalid(f"Invalid run ID: '{run_id[:80]}'.")
    return run_id


MAX_EXPERIMENT_ID = 2**31 - 1  # experiments.experiment_id is a 32-bit integer


def check_experiment_id(experiment_id: str | None) -> int:
    """Experiment ids are decimal integers on the wire ("0", "1", ...)."""
    if experiment_id is None or experiment_id == "":
        raise MedflowError.missing("experiment_id")
    if not isinstance(experiment_id, str) or not experiment_id.isdigit() or len(experiment_id) > 18:
        raise MedflowError.not_found(f"No Experiment with id={str(experiment_id)[:80]} exists")
    if int(experiment_id) > MAX_EXPERIMENT_ID:  # beyond the id column: it names nothing (PostgreSQL would fail)
        raise MedflowError.not_found(f"No Experiment with id={int(experiment_id)} exists")
    return int(experiment_id)


def check_timestamp(name: str, value: int | None) -> None:
    if value is not None and value < 0:
        raise MedflowError.invalid(
            f"Invalid value {value} for parameter '{name}' supplied: "
            "Timestamp must be a nonnegative long (64-bit integer).")


def check_max_results(value: int, limit: int, name: str = "max_results") -> int:
    if value < 1 or value > limit:
        raise MedflowError.invalid(
            f"Invalid value {value} for parameter '{name}' supplied. It must be between 1 and {limit}.")
    return value

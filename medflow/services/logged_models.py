"""3.x logged models: create, read, finalize, delete, tags, params, search, artifact listing.

A logged model lives in an experiment and keeps its files under
`<experiment artifact_location>/models/<model_id>/artifacts`, reached through the artifact proxy.
"""
from __future__ import annotations

import random
import re
import uuid

from medflow.audit.context import note_change, note_resource
from medflow.errors import MedflowError
from medflow.services.clock import now_ms
from medflow.services.phi import Text, pair_texts, stored_pairs
from medflow.services.validation import (MAX_ENTITIES_PER_BATCH, MAX_EXPERIMENT_ID, MAX_PARAM_VAL_LENGTH,
                                         MAX_MODEL_REGISTRY_TAG_VAL_LENGTH, check_experiment_id,
                                         check_key, check_length, check_run_id)
from medflow.store import logged_models as store

MAX_NAME_LENGTH = 500
MAX_MODEL_TYPE_LENGTH = 500
DEFAULT_PAGE = 100
# Bigger requests are answered a page at a time (with next_page_token), never unbounded;
# the fluent client keeps paging until it has what it asked for.
MAX_PAGE = 1000
# Logged-model tags carry registry bookkeeping (mlflow.modelVersions grows with every
# registration), so they get the registry's tag limit rather than the run-tag one.
MAX_TAG_VALUE_LENGTH = MAX_MODEL_REGISTRY_TAG_VAL_LENGTH
STATUSES = {"LOGGED_MODEL_PENDING": 1, "LOGGED_MODEL_READY": 2, "LOGGED_MODEL_UPLOAD_FAILED": 3}
_BAD_NAME_CHARS = ("/", ":", ".", "%", '"', "'")
_MODEL_ID_RE = re.compile(r"^[A-Za-z0-9][\w\-]{0,63}$")
_ADJECTIVES = ("brave", "calm", "bright", "clever", "gentle", "keen", "lucid", "nimble", "quiet",
               "steady", "swift", "vivid", "wise", "bold", "crisp", "polite")
_NOUNS = ("heron", "otter", "lynx", "finch", "stork", "ibis", "koala", "panda", "raven", "seal",
          "tern", "wren", "yak", "zebra", "crane", "gecko")


def random_name() -> str:
    """A readable default name (MLflow generates one when the client sends none)."""
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(1, 999)}"


def check_name(name: str) -> str:
    check_length("name", name, MAX_NAME_LENGTH)
    if not name.strip() or any(c in name for c in _BAD_NAME_CHARS):
        raise MedflowError.invalid(
            f"Invalid model name ({name!r}) provided. Model name must be a non-empty string and "
            f"cannot contain the following characters: {_BAD_NAME_CHARS}")
    return name


def check_model_id(model_id: str | None) -> str:
    if not model_id:
        raise MedflowError.missing("model_id")
    if not _MODEL_ID_RE.match(model_id):
        raise store.not_found(model_id[:80])
    return model_id


def _pairs(kind: str, items: list[dict], value_limit: int, *, unique: bool) -> dict[str, str]:
    if len(items) > MAX_ENTITIES_PER_BATCH:
        raise MedflowError.invalid(f"A request can carry at most {MAX_ENTITIES_PER_BATCH} {kind}s; "
                                   f"got {len(items)}. Split them across several requests.")
    out: dict[str, str] = {}
    for item in items:
        key = check_key(kind, item.get("key"))
        value = item.get("value")
        value = "" if value is None else value
        if not isinstance(value, str):
            raise MedflowError.invalid(f"{kind} '{key}' must have a string value.")
        check_length(f"{kind} value", value, value_limit)
        if unique and key in out and out[key] != value:
            raise MedflowError.invalid(f"Duplicate {kind} key '{key}' with different values in one "
                                       "request; send each key once.")
        out[key] = value
    return out


def check_status(status) -> str:
    if isinstance(status, str) and status in STATUSES:
        return status
    if isinstance(status, int) and not isinstance(status, bool):
        for name, number in STATUSES.items():
            if number == status:
                return name
    raise MedflowError.invalid(f"Invalid logged model status {status!r}: use one of {sorted(STATUSES)}.")


def _check_order_by(order_by: list[dict]) -> list[dict]:
    out = []
    for ob in order_by:
        field = ob.get("field_name")
        if not isinstance(field, str) or not field:
            raise MedflowError.invalid("Each order_by entry needs a field_name, e.g. "
                                       "{\"field_name\": \"metrics.auc\", \"ascending\": false}.")
        ascending = ob.get("ascending", True)
        if not isinstance(ascending, bool):
            raise MedflowError.invalid(f"order_by '{field}': ascending must be true or false.")
        out.append({"field_name": field, "ascending": ascending,
                    "dataset_name": ob.get("dataset_name") or None,
                    "dataset_digest": ob.get("dataset_digest") or None})
    return out


class LoggedModelService:
    def __init__(self, services):
        self.db = services.db
        self.services = services
        self.phi = services.phi

    def _existing(self, conn, model_id: str | None):
        model_id = check_model_id(model_id)
        row = store.get_row(conn, model_id)
        if row is None or row.lifecycle_stage == store.DELETED:
            raise store.not_found(model_id)
        return row

    def create(self, *, experiment_id: str | None, name: str | None, model_type: str | None,
               source_run_id: str | None, params: list[dict], tags: list[dict]) -> dict:
        eid = check_experiment_id(experiment_id)
        name = check_name(name) if name else None
        if model_type:
            check_length("model_type", model_type, MAX_MODEL_TYPE_LENGTH)
        if source_run_id:
            check_run_id(source_run_id)
        param_map = _pairs("param", params, MAX_PARAM_VAL_LENGTH, unique=True)
        tag_map = _pairs("tag", tags, MAX_TAG_VALUE_LENGTH, unique=False)
        param_texts = pair_texts("param", param_map, where="logged model ")
        screened = self.phi.screen([Text("model_name", "logged model name", name),
                                    Text("tag_value", "logged model model_type", model_type, "model_type"),
                                    *param_texts, *pair_texts("tag", tag_map, where="logged model ")])
        name, model_type = screened[0] or random_name(), screened[1]  # a generated name is not screened
        param_map = stored_pairs(param_map, screened[2:2 + len(param_texts)])
        tag_map = stored_pairs(tag_map, screened[2 + len(param_texts):])
        model_id = f"m-{uuid.uuid4().hex}"
        with self.db.write() as conn:
            experiment = self.services.experiments.require_active(conn, eid)
            if source_run_id:
                missing = MedflowError.not_found(f"Run with id={source_run_id} not found (source_run_id).")
                if store.run_experiment(conn, source_run_id) is None:
                    raise missing
                # naming a source run exposes it: another workspace's run answers as a missing one
                self.services.access.require(conn, "run-read", run_id=source_run_id, missing=missing)
            location = f"{experiment.artifact_location.rstrip('/')}/models/{model_id}/artifacts"
            store.create(conn, model_id=model_id, experiment_id=eid, name=name, artifact_location=location,
                         model_type=model_type or None, source_run_id=source_run_id or None,
                         params=param_map, tags=tag_map, now=now_ms())
            note_resource("logged_model", model_id)
            note_change("name", None, name)
            return store.get(conn, model_id)

    def get(self, model_id: str | None, *, allow_deleted: bool = False) -> dict:
        model_id = check_model_id(model_id)
        with self.db.read() as conn:
            return store.get(conn, model_id, allow_deleted=allow_deleted)

    def finalize(self, model_id: str | None, status) -> dict:
        if status is None or status == "":
            raise MedflowError.missing("status")
        status = check_status(status)
        with self.db.write() as conn:
            row = self._existing(conn, model_id)
            store.set_fields(conn, row.model_id, now_ms(), status=status)
            note_change("status", row.status, status)
            return store.get(conn, row.model_id)

    def delete(self, model_id: str | None) -> None:
        with self.db.write() as conn:
            row = self._existing(conn, model_id)
            store.set_fields(conn, row.model_id, now_ms(), lifecycle_stage=store.DELETED)
            note_change("lifecycle_stage", row.lifecycle_stage, store.DELETED)

    def set_tags(self, model_id: str | None, tags: list[dict]) -> None:
        tag_map = _pairs("tag", tags, MAX_TAG_VALUE_LENGTH, unique=False)
        tag_map = stored_pairs(tag_map, self.phi.screen(pair_texts("tag", tag_map, where="logged model ")))
        with self.db.write() as conn:
            row = self._existing(conn, model_id)
            old = store.tags_of(conn, row.model_id, list(tag_map))
            for key, value in tag_map.items():
                note_change(f"tags.{key}", old.get(key), value)
            store.set_tags(conn, row.model_id, tag_map)

    def delete_tag(self, model_id: str | None, key: str | None) -> None:
        check_key("tag", key)
        with self.db.write() as conn:
            row = self._existing(conn, model_id)
            note_change(f"tags.{key}", store.tags_of(conn, row.model_id, [key]).get(key), None)
            if not store.delete_tag(conn, row.model_id, key):
                raise MedflowError.not_found(f"No tag with key {key!r} found for model with ID "
                                             f"{row.model_id!r}.")

    def log_params(self, model_id: str | None, params: list[dict]) -> None:
        param_map = _pairs("param", params, MAX_PARAM_VAL_LENGTH, unique=True)
        param_map = stored_pairs(param_map, self.phi.screen(pair_texts("param", param_map,
                                                                       where="logged model ")))
        with self.db.write() as conn:
            row = self._existing(conn, model_id)
            stored = store.params_of(conn, row.model_id, list(param_map))
            changed = sorted(k for k, v in stored.items() if param_map[k] != v)
            if changed:
                key = changed[0]
                raise MedflowError.invalid(
                    f"Changing param values is not allowed. Param with key='{key}' was already logged "
                    f"with value='{stored[key]}' for logged model ID='{row.model_id}'. Attempted "
                    f"logging new value '{param_map[key]}'.")
            new = {k: v for k, v in param_map.items() if k not in stored}
            for key, value in new.items():
                note_change(f"params.{key}", None, value)
            store.insert_params(conn, row.model_id, new)

    def search(self, *, experiment_ids: list[str], filter_string: str | None, datasets: list[dict],
               order_by: list[dict], max_results: int | None, page_token: str | None):
        if not experiment_ids:
            raise MedflowError.missing("experiment_ids")
        ids = []
        for experiment_id in experiment_ids:
            if not isinstance(experiment_id, str) or not experiment_id.isdigit() or len(experiment_id) > 18:
                raise MedflowError.invalid(f"Invalid experiment id {str(experiment_id)[:40]!r} in "
                                           "experiment_ids: ids are decimal strings such as \"1\".")
            if int(experiment_id) <= MAX_EXPERIMENT_ID:  # a larger id names nothing (PostgreSQL would refuse it)
                ids.append(int(experiment_id))
        for d in datasets:
            if not d.get("dataset_name"):
                raise MedflowError.invalid("`dataset_name` in the `datasets` clause must be specified.")
        if max_results is not None and max_results < 0:
            raise MedflowError.invalid(f"Invalid value {max_results} for parameter 'max_results': "
                                       "it must be a positive number.")
        page = min(max_results or DEFAULT_PAGE, MAX_PAGE)
        datasets = [{"dataset_name": d["dataset_name"], "dataset_digest": d.get("dataset_digest") or None}
                    for d in datasets]
        with self.db.read() as conn:
            return store.search(conn, experiment_ids=ids, filter_string=filter_string, datasets=datasets,
                                order_by=_check_order_by(order_by), max_results=page,
                                page_token=page_token)

    def open_artifact(self, model_id: str | None, file_path: str | None):
        """(store path, OpenedFile) of one file of the model (the web UI's file viewer)."""
        if not file_path:
            raise MedflowError.invalid('Request must include the "artifact_file_path" query parameter.')
        with self.db.read() as conn:
            row = self._existing(conn, model_id)
        return self.services.artifacts.open_download_under(row.artifact_location, file_path)

    def list_artifacts(self, model_id: str | None, directory: str | None) -> tuple[str, list[dict]]:
        with self.db.read() as conn:
            row = self._existing(conn, model_id)
        return row.artifact_location, self.services.artifacts.list_under(row.artifact_location, directory)

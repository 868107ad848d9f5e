"""Runs: create, read, update, delete/restore, tags, params, inputs/outputs, search.

Every write validates the whole request first, then opens one transaction, so a rejected
request writes nothing. Metrics and log-batch live in services/metrics.py.
"""
from __future__ import annotations

import json
import random
import uuid

from medflow.audit.context import note_change, note_detail, note_resource
from medflow.errors import MedflowError
from medflow.services.clock import now_ms
from medflow.services.phi import RUN_TAG_FIELDS, Text, pair_texts, stored_pairs
from medflow.services.validation import (MAX_EXPERIMENT_ID, MAX_PARAM_VAL_LENGTH, MAX_RUN_NAME_LENGTH, MAX_TAG_VAL_LENGTH,
                                         check_experiment_id, check_key, check_length,
                                         check_max_results, check_run_id, check_timestamp)
from medflow.store import datasets as dataset_store
from medflow.store import runs as store
from medflow.store.search import runs as search_store

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
VIEW_TYPES = ("ACTIVE_ONLY", "DELETED_ONLY", "ALL")
MAX_RUNS_PER_PAGE = 50000
LOGGED_MODELS_TAG = "mlflow.log-model.history"
DEFAULT_EXPERIMENT_ID = "0"
# MLflow's dataset limits (mlflow/utils/validation.py)
MAX_DATASET_NAME, MAX_DATASET_DIGEST, MAX_DATASET_SOURCE = 500, 36, 65535
MAX_DATASET_SCHEMA, MAX_DATASET_PROFILE = 1048575, 16777215
MAX_INPUT_TAG_KEY, MAX_INPUT_TAG_VALUE = 255, 500

# Every client string of a dataset input (the digest is a hash the client computes).
_SCREENED_DATASET_FIELDS = ("name", "source_type", "source", "schema", "profile")

_ADJECTIVES = ("able", "bold", "brave", "bright", "calm", "clever", "crisp", "eager", "fair", "gentle",
               "keen", "kind", "lucid", "merry", "nimble", "quick", "quiet", "sharp", "steady", "swift")
_NOUNS = ("ant", "bear", "crane", "deer", "eagle", "finch", "fox", "hare", "heron", "lark", "lynx",
          "moth", "newt", "otter", "owl", "panda", "robin", "seal", "swan", "wren")


def random_run_name() -> str:
    """A readable default name, as MLflow gives runs created without one (e.g. 'calm-otter-42')."""
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randrange(1000)}"


def _string(value, path: str, *, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise MedflowError.invalid(f"Invalid value {json.dumps(value)[:80]} for parameter '{path}' "
                                   "supplied: expected a string.")
    return value


def check_param(key, value, path: str = "") -> tuple[str, str]:
    check_key("Param", _string(key, f"{path}key") or None)
    value = _string(value, f"{path}value")
    check_length(f"{path}value" if path else "Param value", value, MAX_PARAM_VAL_LENGTH)
    return key, value


def check_tag(key, value, path: str = "") -> tuple[str, str]:
    check_key("Tag", _string(key, f"{path}key") or None)
    value = _string(value, f"{path}value")
    check_length(f"{path}value" if path else "Tag value", value, MAX_TAG_VAL_LENGTH)
    if key == store.RUN_NAME_TAG:
        check_length("run_name (tag mlflow.runName)", value, MAX_RUN_NAME_LENGTH)
    return key, value


def write_params(conn, run_id: str, values: dict[str, str]) -> None:
    """Params are immutable: an identical value is accepted, a different one rejects the request."""
    stored = store.params_for_keys(conn, run_id, list(values))
    conflicts = [{"key": k, "old_value": stored[k], "new_value": v}
                 for k, v in values.items() if k in stored and stored[k] != v]
    if len(conflicts) == 1:
        c = conflicts[0]
        raise MedflowError.invalid(
            f"Changing param values is not allowed. Param with key='{c['key']}' was already logged "
            f"with value='{c['old_value']}' for run ID='{run_id}'. Attempted logging new value "
            f"'{c['new_value']}'.")
    if conflicts:
        raise MedflowError.invalid(
            f"Changing param values is not allowed. Params were already logged='{conflicts}' for "
            f"run ID='{run_id}'.")
    new = {k: v for k, v in values.items() if k not in stored}
    store.insert_params(conn, run_id, new)
    for key, value in new.items():
        note_change(f"params.{key}", None, value)


def write_tags(conn, row, values: dict[str, str]) -> None:
    """Upsert tags; the mlflow.runName tag and the run's name are kept equal, as in MLflow."""
    old = store.tags_for_keys(conn, row.run_uuid, list(values))
    store.set_tags(conn, row.run_uuid, values)
    if store.RUN_NAME_TAG in values and values[store.RUN_NAME_TAG] != row.name:
        store.set_fields(conn, row.run_uuid, name=values[store.RUN_NAME_TAG])
    for key, value in values.items():
        note_change(f"tags.{key}", old.get(key), value)


class RunService:
    def __init__(self, services):
        self.services = services
        self.db = services.db
        self.phi = services.phi

    # --- lifecycle ----------------------------------------------------------------------
    def create(self, *, experiment_id: str | None, user_id, run_name, start_time: int | None,
               tags: list[dict]) -> dict:
        eid = check_experiment_id(experiment_id or DEFAULT_EXPERIMENT_ID)
        user_id = _string(user_id, "user_id")
        run_name = _string(run_name, "run_name")
        check_timestamp("start_time", start_time)
        run_tags: dict[str, str] = {}
        for i, tag in enumerate(tags):
            key, value = check_tag(tag.get("key"), tag.get("value"), f"tags[{i}].")
            run_tags[key] = value
        name_tag = run_tags.get(store.RUN_NAME_TAG)
        if run_name and name_tag and run_name != name_tag:
            raise MedflowError.invalid(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different "
                f"values (run_name='{run_name}', mlflow.runName='{name_tag}'). Send one, or the same "
                "value in both.")
        client_name = run_name or name_tag
        if client_name:
            check_length("run_name", client_name, MAX_RUN_NAME_LENGTH)
        # The name is screened once, as the run's name, whether it came as run_name or as the tag.
        other_tags = {k: v for k, v in run_tags.items() if k != store.RUN_NAME_TAG}
        screened = self.phi.screen(pair_texts("tag", other_tags, RUN_TAG_FIELDS)
                                   + [Text("run_name", "run name", client_name)])
        run_name = screened[-1] or random_run_name()  # a generated name is ours, not screened
        run_tags = {**stored_pairs(other_tags, screened[:-1]), store.RUN_NAME_TAG: run_name}
        run_id = uuid.uuid4().hex
        with self.db.write() as conn:
            experiment = self.services.experiments.require_active(conn, eid)
            store.insert_run(conn, run_id=run_id, experiment_id=eid, name=run_name, user_id=user_id,
                             start_time=now_ms() if start_time is None else start_time,
                             artifact_uri=f"{experiment.artifact_location.rstrip('/')}/{run_id}/artifacts",
                             run_tags=[{"key": k, "value": v} for k, v in run_tags.items()])
            note_resource("run", run_id)
            return store.run_to_wire(conn, run_id, with_outputs=False)

    def get(self, run_id: str | None) -> dict:
        run_id = check_run_id(run_id)
        with self.db.read() as conn:
            return store.run_to_wire(conn, run_id)

    def update(self, run_id: str | None, *, status: str | None, end_time: int | None,
               run_name: str | None) -> dict:
        run_id = check_run_id(run_id)
        if status is not None and status not in RUN_STATUSES:
            raise MedflowError.invalid(f"Invalid value '{status}' for parameter 'status': use one of "
                                       f"{', '.join(RUN_STATUSES)}.")
        check_timestamp("end_time", end_time)
        run_name = _string(run_name, "run_name")
        if run_name:
            check_length("run_name", run_name, MAX_RUN_NAME_LENGTH)
            run_name = self.phi.screen([Text("run_name", "run name", run_name)])[0]
        with self.db.write() as conn:
            row = store.require_active(conn, run_id)
            changes = {}
            if status is not None:
                changes["status"] = status
            if end_time is not None:
                changes["end_time"] = end_time
            if changes:
                store.set_fields(conn, run_id, **changes)
                for field, value in changes.items():
                    note_change(field, getattr(row, field), value)
            if run_name:
                write_tags(conn, row, {store.RUN_NAME_TAG: run_name})
                note_change("run_name", row.name, run_name)
            return store.info_to_wire(store.require_row(conn, run_id))

    def set_lifecycle(self, run_id: str | None, stage: str) -> None:
        run_id = check_run_id(run_id)
        with self.db.write() as conn:
            row = store.require_row(conn, run_id)
            store.set_lifecycle(conn, run_id, stage, now_ms())
            note_change("lifecycle_stage", row.lifecycle_stage, stage)

    # --- tags and params ----------------------------------------------------------------
    def set_tag(self, run_id: str | None, key, value) -> None:
        run_id = check_run_id(run_id)
        key, value = check_tag(key, value)
        value = self.phi.screen(pair_texts("tag", {key: value}, RUN_TAG_FIELDS))[1]
        with self.db.write() as conn:
            write_tags(conn, store.require_active(conn, run_id), {key: value})

    def delete_tag(self, run_id: str | None, key) -> None:
        run_id = check_run_id(run_id)
        check_key("Tag", _string(key, "key") or None)
        with self.db.write() as conn:
            store.require_active(conn, run_id)
            old = store.tags_for_keys(conn, run_id, [key]).get(key)
            if not store.delete_tag(conn, run_id, key):
                raise MedflowError.not_found(f"No tag with name: {key} in run with id {run_id}")
            note_change(f"tags.{key}", old, None)

    def log_param(self, run_id: str | None, key, value) -> None:
        run_id = check_run_id(run_id)
        key, value = check_param(key, value)
        value = self.phi.screen(pair_texts("param", {key: value}))[1]
        with self.db.write() as conn:
            store.require_active(conn, run_id)
            write_params(conn, run_id, {key: value})

    # --- inputs, outputs, models --------------------------------------------------------
    def log_inputs(self, run_id: str | None, datasets: list[dict], models: list[dict]) -> None:
        run_id = check_run_id(run_id)
        inputs: dict[tuple, dict] = {}
        for i, item in enumerate(datasets):
            parsed = _check_dataset_input(item, f"datasets[{i}]")
            inputs.setdefault((parsed["dataset"]["name"], parsed["dataset"]["digest"]), parsed)
        model_ids = [_string(m.get("model_id"), f"models[{i}].model_id") for i, m in enumerate(models)]
        if any(not m for m in model_ids):
            raise MedflowError.missing("models.model_id")
        self._screen_dataset_inputs(list(inputs.values()))
        with self.db.write() as conn:
            row = store.require_active(conn, run_id)
            dataset_store.log_dataset_inputs(conn, row.experiment_id, run_id, list(inputs.values()))
            dataset_store.log_model_inputs(conn, run_id, model_ids)
            note_detail("datasets", [{"name": n, "digest": d} for n, d in inputs])

    def log_outputs(self, run_id: str | None, models: list[dict]) -> None:
        run_id = check_run_id(run_id)
        if not models:
            raise MedflowError.missing("models")
        outputs = []
        for i, m in enumerate(models):
            model_id = _string(m.get("model_id"), f"models[{i}].model_id")
            if not model_id:
                raise MedflowError.missing(f"models[{i}].model_id")
            step = m.get("step", 0)
            if isinstance(step, str) and step.lstrip("-").isdigit():
                step = int(step)
            if not isinstance(step, int) or isinstance(step, bool) or not -2**63 <= step < 2**63:
                raise MedflowError.invalid(f"Invalid value for parameter 'models[{i}].step': "
                                           "expected a 64-bit integer.")
            outputs.append({"model_id": model_id, "step": step})
        with self.db.write() as conn:
            store.require_active(conn, run_id)
            missing = _missing_models(conn, outputs)
            if missing:
                raise _missing_model(missing[0])
            for model_id in dict.fromkeys(o["model_id"] for o in outputs):  # linking a model shows it
                self.services.access.require(conn, "logged-model-read", model_id=model_id,
                                             missing=_missing_model(model_id))
            store.add_outputs(conn, run_id, outputs)

    def log_model(self, run_id: str | None, model_json: str | None) -> None:
        """2.x clients: append the model's summary to the run tag mlflow.log-model.history."""
        run_id = check_run_id(run_id)
        if not model_json:
            raise MedflowError.missing("model_json")
        try:
            model = json.loads(_string(model_json, "model_json"))
        except ValueError:
            raise MedflowError.invalid("Malformed model info: model_json is not valid JSON.") from None
        if not isinstance(model, dict):
            raise MedflowError.invalid("Malformed model info: model_json must be a JSON object.")
        missing = {"artifact_path", "flavors", "utc_time_created", "run_id"} - set(model)
        if missing:
            raise MedflowError.invalid(f"Model json is missing mandatory fields: {sorted(missing)}")
        summary = {k: model[k] for k in model if k in ("run_id", "artifact_path", "utc_time_created",
                                                         "model_uuid")}
        summary.setdefault("model_uuid", uuid.uuid4().hex)
        if isinstance(summary.get("artifact_path"), str):
            summary["artifact_path"] = self.phi.screen(
                [Text("artifact_path", "model artifact_path", summary["artifact_path"])])[0]
        flavors = model.get("flavors") or {}
        summary["flavors"] = {name: ({k: v for k, v in conf.items() if k != "config"}
                                     if isinstance(conf, dict) else conf)
                              for name, conf in (flavors.items() if isinstance(flavors, dict) else [])}
        with self.db.write() as conn:
            row = store.require_active(conn, run_id)
            previous = store.tags_for_keys(conn, run_id, [LOGGED_MODELS_TAG]).get(LOGGED_MODELS_TAG)
            history = json.loads(previous) if previous else []
            value = json.dumps(history + [summary])
            if len(value) > MAX_TAG_VAL_LENGTH:
                raise MedflowError.invalid(
                    f"The run {run_id} records too many logged models for its "
                    f"'{LOGGED_MODELS_TAG}' tag ({MAX_TAG_VAL_LENGTH} characters); log further "
                    "models to a new run.")
            write_tags(conn, row, {LOGGED_MODELS_TAG: value})

    def _screen_dataset_inputs(self, inputs: list[dict]) -> None:
        """Screen every string of the dataset inputs in one call; store what screen() returns.
        Fields are described by position: a dataset's name may be the identifier."""
        texts, slots = [], []
        for i, parsed in enumerate(inputs):
            dataset = parsed["dataset"]
            for field in _SCREENED_DATASET_FIELDS:
                if field in dataset:
                    texts.append(Text("dataset" if field == "name" else f"dataset_{field}",
                                      f"datasets[{i}].dataset.{field}", dataset[field],
                                      None if field == "name" else field))
                    slots.append((dataset, field))
            for tag in parsed["tags"]:
                texts.extend(pair_texts("tag", {tag["key"]: tag["value"]}, where=f"datasets[{i}] input "))
                slots.extend([(tag, "key"), (tag, "value")])
        for (target, field), value in zip(slots, self.phi.screen(texts)):
            target[field] = value

    # --- search -------------------------------------------------------------------------
    def search(self, *, experiment_ids: list, filter_string: str | None, run_view_type: str | None,
               max_results: int, order_by: list, page_token: str | None) -> tuple[list[dict], str | None]:
        check_max_results(max_results, MAX_RUNS_PER_PAGE)
        view = run_view_type or "ACTIVE_ONLY"
        if view not in VIEW_TYPES:
            raise MedflowError.invalid(f"Invalid value '{view}' for parameter 'run_view_type': use one "
                                       f"of {', '.join(VIEW_TYPES)}.")
        ids = []
        for eid in experiment_ids:
            text = str(eid)
            if not text.isdigit() or len(text) > 18:
                raise MedflowError.invalid(f"Invalid experiment ID '{text[:80]}'. Experiment ID must be "
                                           "a valid integer.")
            if int(text) <= MAX_EXPERIMENT_ID:  # a larger id names nothing (and PostgreSQL would refuse it)
                ids.append(int(text))
        with self.db.read() as conn:
            return search_store.search(conn, experiment_ids=ids, filter_string=filter_string,
                                       view_type=view, max_results=max_results, order_by=order_by,
                                       page_token=page_token)


def _missing_model(model_id: str) -> MedflowError:
    return MedflowError.not_found(f"Logged model with id={model_id} not found. Create it "
                                  "(POST logged-models) before linking it to a run.")


def _missing_models(conn, outputs: list[dict]) -> list[str]:
    wanted = list(dict.fromkeys(o["model_id"] for o in outputs))
    found = store.existing_logged_models(conn, wanted)
    return [m for m in wanted if m not in found]


def _check_dataset_input(item: dict, path: str) -> dict:
    dataset = item.get("dataset")
    if not isinstance(dataset, dict):
        raise MedflowError.missing(f"{path}.dataset")
    limits = {"name": MAX_DATASET_NAME, "digest": MAX_DATASET_DIGEST, "source_type": 36,
              "source": MAX_DATASET_SOURCE, "schema": MAX_DATASET_SCHEMA, "profile": MAX_DATASET_PROFILE}
    out = {}
    for field, limit in limits.items():
        value = dataset.get(field)
        if value is None or value == "":
            if field in ("name", "digest", "source_type", "source"):
                raise MedflowError.missing(f"{path}.dataset.{field}")
            continue
        value = _string(value, f"{path}.dataset.{field}")
        check_length(f"{path}.dataset.{field}", value, limit)
        out[field] = value
    tags = item.get("tags") or []
    if not isinstance(tags, list):
        raise MedflowError.invalid(f"Invalid value for parameter '{path}.tags': expected a list.")
    input_tags = []
    for j, tag in enumerate(tags):
        if not isinstance(tag, dict) or not tag.get("key"):
            raise MedflowError.missing(f"{path}.tags[{j}].key")
        key = _string(tag.get("key"), f"{path}.tags[{j}].key")
        value = _string(tag.get("value"), f"{path}.tags[{j}].value")
        check_length(f"{path}.tags[{j}].key", key, MAX_INPUT_TAG_KEY)
        check_length(f"{path}.tags[{j}].value", value, MAX_INPUT_TAG_VALUE)
        input_tags.append({"key": key, "value": value})
    return {"dataset": out, "tags": input_tags}

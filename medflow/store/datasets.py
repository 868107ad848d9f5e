"""SQL for datasets (one row per experiment, name and digest) and the run inputs that use them.

A dataset logged by several runs of an experiment is stored once; each run links to it with
its own input tags (e.g. mlflow.data.context = training), kept as a JSON list on the link.
"""
from __future__ import annotations

import json
import uuid

from sqlalchemy import Connection, insert, select

from medflow.store import schema
from medflow.store.schema import datasets, run_inputs

# Model inputs (3.x: a metric logged against a logged model the run did not produce) need
# the run_model_inputs table; until the schema has it they are validated but not stored.
run_model_inputs = getattr(schema, "run_model_inputs", None)


def log_dataset_inputs(conn: Connection, experiment_id: int, run_id: str, inputs: list[dict]) -> None:
    """Link `inputs` ({dataset: {...}, tags: [...]}, already validated and de-duplicated by
    name and digest) to the run, creating the experiment's datasets that do not exist yet."""
    if not inputs:
        return
    names = list({i["dataset"]["name"] for i in inputs})
    existing = {(r.name, r.digest): r.dataset_uuid for r in conn.execute(
        select(datasets.c.dataset_uuid, datasets.c.name, datasets.c.digest)
        .where(datasets.c.experiment_id == experiment_id, datasets.c.name.in_(names)))}
    new_datasets = []
    for item in inputs:
        ds = item["dataset"]
        ident = (ds["name"], ds["digest"])
        if ident not in existing:
            existing[ident] = uuid.uuid4().hex
            new_datasets.append({"dataset_uuid": existing[ident], "experiment_id": experiment_id,
                                 "name": ds["name"], "digest": ds["digest"],
                                 "source_type": ds["source_type"], "source": ds["source"],
                                 "schema": ds.get("schema"), "profile": ds.get("profile")})
    if new_datasets:
        conn.execute(insert(datasets), new_datasets)
    wanted = {existing[(i["dataset"]["name"], i["dataset"]["digest"])]: i for i in inputs}
    linked = {r.dataset_uuid for r in conn.execute(
        select(run_inputs.c.dataset_uuid).where(run_inputs.c.run_uuid == run_id,
                                                run_inputs.c.dataset_uuid.in_(list(wanted))))}
    links = [{"run_uuid": run_id, "dataset_uuid": ds_uuid, "tags": json.dumps(item["tags"])}
             for ds_uuid, item in wanted.items() if ds_uuid not in linked]
    if links:  # an input already linked keeps its first tags, as in MLflow
        conn.execute(insert(run_inputs), links)


def log_model_inputs(conn: Connection, run_id: str, model_ids: list[str]) -> None:
    if not model_ids or run_model_inputs is None:
        return
    linked = {r.model_id for r in conn.execute(
        select(run_model_inputs.c.model_id).where(run_model_inputs.c.run_uuid == run_id,
                                                  run_model_inputs.c.model_id.in_(model_ids)))}
    rows = [{"run_uuid": run_id, "model_id": m} for m in dict.fromkeys(model_ids) if m not in linked]
    if rows:
        conn.execute(insert(run_model_inputs), rows)


_INPUTS_SQL = ("SELECT run_inputs.run_uuid, run_inputs.tags, datasets.name, datasets.digest, "
               "datasets.source_type, datasets.source, datasets.schema, datasets.profile FROM run_inputs "
               "JOIN datasets ON datasets.dataset_uuid = run_inputs.dataset_uuid")


def inputs_for_runs(conn: Connection, run_ids: list[str]) -> dict[str, dict]:
    """{run_id: {"dataset_inputs": [...], "model_inputs": [...]}} for the runs that have inputs."""
    from medflow.store.runs import fetch_for_runs  # runs builds documents from this module

    out: dict[str, dict] = {}
    for run_uuid, tags, name, digest, source_type, source, schema_, profile in fetch_for_runs(
            conn, _INPUTS_SQL, "run_inputs.run_uuid", run_ids):
        dataset = {"name": name, "digest": digest, "source_type": source_type, "source": source}
        if schema_ is not None:
            dataset["schema"] = schema_
        if profile is not None:
            dataset["profile"] = profile
        input_tags = json.loads(tags) if tags else []
        item = {"tags": input_tags, "dataset": dataset} if input_tags else {"dataset": dataset}
        out.setdefault(run_uuid, {}).setdefault("dataset_inputs", []).append(item)
    if run_model_inputs is not None:
        for run_uuid, model_id in fetch_for_runs(conn, "SELECT run_uuid, model_id FROM run_model_inputs",
                                                 "run_uuid", run_ids):
            out.setdefault(run_uuid, {}).setdefault("model_inputs", []).append({"model_id": model_id})
    return out

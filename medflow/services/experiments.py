"""Experiments: create, read, rename, delete/restore, tags, search."""
from __future__ import annotations

import re

from medflow.audit.context import note_change, note_resource
from medflow.errors import MedflowError
from medflow.services.access import current_principal, current_workspace, readable
from medflow.services.clock import now_ms
from medflow.store.accounts_grants import grant_creator
from medflow.services.phi import Text
from medflow.services.validation import (MAX_EXPERIMENT_NAME_LENGTH, MAX_EXPERIMENT_TAG_VAL_LENGTH,
                                         check_experiment_id, check_key, check_length,
                                         check_max_results)
from medflow.store import experiments as store
from medflow.store import runs as run_store
from medflow.store.schema import experiments
from medflow.store.search import experiments as search_store

MAX_EXPERIMENTS_PER_PAGE = 50000
# An experiment may only store its artifacts under the server's own artifact root.
# A first folder of digits only is reserved: it is the default location of the experiment with that id.
_ARTIFACT_LOCATION_RE = re.compile(r"^mlflow-artifacts:/(?!\d+(?:/|$))(?:[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-]+)*)?/?$")


def check_artifact_location(location: str | None) -> str | None:
    if not location:
        return None
    if not _ARTIFACT_LOCATION_RE.match(location) or ".." in location:
        raise MedflowError.invalid(
            "Invalid artifact_location: MedFlow keeps every artifact under its own artifact root and "
            "proxies all artifact traffic, so only 'mlflow-artifacts:/<folder>' locations (letters, "
            "digits, '-', '_' and '/'; not a first folder of digits only, which is an experiment id's) are "
            "accepted. Omit artifact_location to use the default.")
    return location.rstrip("/")


def check_name(name: str | None) -> str:
    if name is None or name.strip() == "":
        raise MedflowError.missing("name")
    check_length("name", name, MAX_EXPERIMENT_NAME_LENGTH)
    return name


class ExperimentService:
    def __init__(self, services):
        self.db = services.db
        self.phi = services.phi

    def create(self, name: str | None, artifact_location: str | None, tags: list[dict]) -> str:
        name = check_name(name)
        location = check_artifact_location(artifact_location)
        for tag in tags:
            check_key("tag", tag.get("key"))
            check_length("value", tag.get("value") or "", MAX_EXPERIMENT_TAG_VAL_LENGTH)
            tag["value"] = tag.get("value") or ""
        screened = self.phi.screen([Text("experiment_name", "experiment name", name)]
                                   + [Text("tag_key", f"tag '{t['key']}'", t["key"]) for t in tags]
                                   + [Text("tag_value", f"tag '{t['key']}'", t["value"], t["key"]) for t in tags])
        name = screened[0]
        for tag, value in zip(tags, screened[1 + len(tags):]):
            tag["value"] = value
        with self.db.write() as conn:
            experiment_id = str(store.create(conn, name=name, artifact_location=location, tags=tags,
                                             now=now_ms(), workspace=current_workspace()))
            if current_principal() is not None:
                grant_creator(conn, "experiment", experiment_id, current_principal())
            note_resource("experiment", experiment_id)
            note_change("name", None, name)
            return experiment_id

    def get(self, experiment_id: str | None) -> dict:
        with self.db.read() as conn:
            return store.get(conn, check_experiment_id(experiment_id))

    def get_by_name(self, name: str | None) -> dict:
        if not name:
            raise MedflowError.missing("experiment_name")
        with self.db.read() as conn:
            return store.get_by_name(conn, name, current_workspace())

    def require_active(self, conn, experiment_id: int):
        row = store.get_row(conn, experiment_id)
        if row is None:
            raise MedflowError.not_found(f"No Experiment with id={experiment_id} exists")
        if row.lifecycle_stage != store.ACTIVE:
            raise MedflowError.invalid(
                f"The experiment {experiment_id} must be in the 'active' state. Current state is "
                f"{row.lifecycle_stage}; restore it first.")
        return row

    def _existing(self, conn, experiment_id: str | None):
        eid = check_experiment_id(experiment_id)
        row = store.get_row(conn, eid)
        if row is None:
            raise MedflowError.not_found(f"No Experiment with id={eid} exists")
        return row

    def rename(self, experiment_id: str | None, new_name: str | None) -> None:
        if new_name:
            new_name = self.phi.screen([Text("experiment_name", "experiment name", check_name(new_name))])[0]
        with self.db.write() as conn:
            row = self._existing(conn, experiment_id)
            if new_name:
                store.set_fields(conn, row.experiment_id, now_ms(), name=new_name)
                note_change("name", row.name, new_name)

    def set_lifecycle(self, experiment_id: str | None, stage: str) -> None:
        with self.db.write() as conn:
            row = self._existing(conn, experiment_id)
            if row.experiment_id == 0 and stage == store.DELETED:
                raise MedflowError.invalid("The default experiment '0' cannot be deleted.")
            store.set_fields(conn, row.experiment_id, now_ms(), lifecycle_stage=stage)
            note_change("lifecycle_stage", row.lifecycle_stage, stage)
            run_store.set_lifecycle_for_experiment(conn, row.experiment_id, stage, now_ms())

    def set_tag(self, experiment_id: str | None, key: str | None, value: str | None) -> None:
        check_key("tag", key)
        value = value or ""
        check_length("value", value, MAX_EXPERIMENT_TAG_VAL_LENGTH)
        value = self.phi.screen([Text("tag_key", f"tag '{key}'", key),
                                 Text("tag_value", f"tag '{key}'", value, key)])[1]
        with self.db.write() as conn:
            row = self.require_active(conn, self._existing(conn, experiment_id).experiment_id)
            note_change(f"tags.{key}", store.get_tag(conn, row.experiment_id, key), value)
            store.set_tag(conn, row.experiment_id, key, value)

    def delete_tag(self, experiment_id: str | None, key: str | None) -> None:
        check_key("tag", key)
        with self.db.write() as conn:
            row = self.require_active(conn, self._existing(conn, experiment_id).experiment_id)
            note_change(f"tags.{key}", store.get_tag(conn, row.experiment_id, key), None)
            if not store.delete_tag(conn, row.experiment_id, key):
                raise MedflowError.not_found(f"No tag with key '{key}' on experiment {row.experiment_id}.")

    def search(self, *, filter_string, order_by, view_type, max_results, page_token):
        check_max_results(max_results, MAX_EXPERIMENTS_PER_PAGE)
        with self.db.read() as conn:
            return search_store.search(conn, filter_string=filter_string, order_by=order_by,
                                       view_type=view_type, max_results=max_results, page_token=page_token,
                                       visible=readable("experiment", experiments.c.experiment_id,
                                                        experiments.c.workspace))

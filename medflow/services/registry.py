"""The model registry: registered models, versions, stages, tags and aliases.

Every method validates its whole input first, then runs one transaction, so a rejected
request writes nothing. Names, aliases, stages and limits follow MLflow's rules
(mlflow/utils/validation.py), except that over-long values are rejected, never truncated.
"""
from __future__ import annotations

import posixpath
import re
import urllib.parse

from medflow.audit.context import note_change, note_resource
from medflow.errors import MedflowError
from medflow.services import model_sources
from medflow.services.access import current_principal, current_workspace, readable
from medflow.services.clock import now_ms
from medflow.services.phi import Text, pair_texts, stored_pairs
from medflow.store.accounts_grants import drop_resource_grants, grant_creator
from medflow.store.schema import registered_models
from medflow.services.validation import (MAX_DESCRIPTION_LENGTH, MAX_MODEL_REGISTRY_TAG_VAL_LENGTH,
                                         check_key, check_length, check_max_results, check_run_id)
from medflow.store import model_versions as version_store
from medflow.store import registered_models as model_store
from medflow.store.search import registry as search_store

MAX_MODEL_NAME_LENGTH = 256
MAX_ALIAS_LENGTH = 255
MAX_RUN_LINK_LENGTH = 1000
MAX_MODELS_PER_PAGE, MAX_VERSIONS_PER_PAGE = 1000, 200_000
_MAX_VERSION = 2**31 - 1  # model_versions.version is a 32-bit integer
_ALIAS_RE = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS_RE = re.compile(r"^[vV]\d+$")
_MODEL_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,63}$")
_CANONICAL_STAGES = {stage.lower(): stage for stage in version_store.STAGES}


# --- validation ------------------------------------------------------------------------------

def check_model_name(name, field: str = "name") -> str:
    if name is None or (isinstance(name, str) and name.strip() == ""):
        raise MedflowError.missing(field)
    if not isinstance(name, str):
        raise MedflowError.invalid(f"Parameter '{field}' must be a string.")
    check_length(field, name, MAX_MODEL_NAME_LENGTH)
    if "/" in name or ":" in name:
        raise MedflowError.invalid(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise MedflowError.invalid("Invalid model name: it contains control characters.")
    # CVE-2024-3099: names that differ only by URL encoding must not be two models
    if urllib.parse.unquote(name) != name:
        raise MedflowError.invalid(
            f"Invalid model name '{name}': it contains a percent-encoded sequence (it would read as "
            f"'{urllib.parse.unquote(name)}'). Use the plain characters; '%' may only appear when "
            "not followed by two hex digits.")
    norm = posixpath.normpath(name)
    if norm != name or norm == "." or norm.startswith(".."):
        raise MedflowError.invalid(
            f"Invalid value \"{name}\" for parameter '{field}' supplied: Names may be treated as files "
            f"in certain cases, and must not resolve to other names when treated as such (this name "
            f"would resolve to '{norm}').")
    return name


def check_version(version) -> int:
    if version is None or version == "":
        raise MedflowError.missing("version")
    if isinstance(version, bool) or not isinstance(version, (str, int)):
        raise MedflowError.invalid(f"Parameter 'version' must be an integer, got {version!r}.")
    try:
        return int(str(version).strip())
    except ValueError:
        raise MedflowError.invalid(f"Invalid value '{str(version)[:40]}' for parameter 'version' "
                                   "supplied: it must be an integer version number such as '3'.") from None


def check_alias(alias, *, for_write: bool) -> str:
    if alias is None or alias == "":
        raise MedflowError.invalid("Registered model alias name cannot be empty.")
    if not isinstance(alias, str) or not _ALIAS_RE.match(alias):
        raise MedflowError.invalid(f"Invalid alias name: '{str(alias)[:80]}'. Names may only contain "
                                   "alphanumerics, underscores (_), and dashes (-).")
    check_length("Registered model alias name", alias, MAX_ALIAS_LENGTH)
    if for_write and alias.lower() == "latest":
        raise MedflowError.invalid("'latest' alias name (case insensitive) is reserved.")
    if for_write and _VERSION_ALIAS_RE.match(alias):
        raise MedflowError.invalid(f"Version alias name '{alias}' is reserved.")
    return alias


def check_stage(stage) -> str:
    canonical = _CANONICAL_STAGES.get(stage.lower()) if isinstance(stage, str) else None
    if canonical is None:
        raise MedflowError.invalid(f"Invalid Model Version stage: {stage}. Value must be one of "
                                   f"{', '.join(version_store.STAGES)}.")
    return canonical


def check_tag_key(key) -> str:
    return check_key("tag", key)


def check_tag(key, value) -> tuple[str, str]:
    check_tag_key(key)
    value = "" if value is None else value
    if not isinstance(value, str):
        raise MedflowError.invalid(f"Tag '{key}': the value must be a string.")
    check_length("value", value, MAX_MODEL_REGISTRY_TAG_VAL_LENGTH)
    return key, value


def check_tags(tags: list[dict]) -> dict[str, str]:
    checked = dict(check_tag(t.get("key"), t.get("value")) for t in tags)
    return checked  # a repeated key keeps its last value, as in MLflow


def check_description(description) -> str | None:
    if description is not None:
        if not isinstance(description, str):
            raise MedflowError.invalid("Parameter 'description' must be a string.")
        check_length("description", description, MAX_DESCRIPTION_LENGTH)
    return description


# --- the service -----------------------------------------------------------------------------

class RegistryService:
    def __init__(self, services):
        self.db = services.db
        self.artifact_store = services.artifact_store
        self.access = services.access
        self.phi = services.phi
        self.approvals = services.approvals  # governance: approval gates and stage/alias history

    @staticmethod
    def _version_row(conn, model_row, version: int):
        if not 1 <= version <= _MAX_VERSION:
            raise version_store.not_found(model_row.name, version)
        return version_store.require(conn, model_row, version)

    # registered models ---------------------------------------------------------------------
    def create_model(self, name, tags: list[dict], description) -> dict:
        name, tags = check_model_name(name), check_tags(tags)
        description = check_description(description)
        screened = self.phi.screen([Text("model_name", "registered model name", name),
                                    Text("description", "registered model description", description),
                                    *pair_texts("tag", tags, where="registered model ")])
        name, description, tags = screened[0], screened[1], stored_pairs(tags, screened[2:])
        with self.db.write() as conn:
            row = model_store.create(conn, name=name, description=description, tags=tags, now=now_ms(),
                                     workspace=current_workspace())
            if current_principal() is not None:
                grant_creator(conn, "registered_model", row.id, current_principal())
            note_resource("registered_model", name)
            note_change("name", None, name)
            note_change("description", None, description)
            for key, value in tags.items():
                note_change(f"tags.{key}", None, value)
            return model_store.to_wire(conn, row)

    def get_model(self, name) -> dict:
        name = check_model_name(name)
        with self.db.read() as conn:
            return model_store.to_wire(conn, model_store.require(conn, name, current_workspace()))

    def rename_model(self, name, new_name) -> dict:
        name, new_name = check_model_name(name), check_model_name(new_name, "new_name")
        new_name = self.phi.screen([Text("model_name", "registered model new_name", new_name)])[0]
        with self.db.write() as conn:
            row = model_store.lock(conn, name, current_workspace())
            model_store.rename(conn, row.id, new_name, now_ms())
            note_change("name", name, new_name)
            return model_store.to_wire(conn, model_store.require(conn, new_name, current_workspace()))

    def update_model(self, name, description) -> dict:
        name, description = check_model_name(name), check_description(description)
        description = self.phi.screen([Text("description", "registered model description", description)])[0]
        with self.db.write() as conn:
            row = model_store.require(conn, name, current_workspace())
            model_store.set_description(conn, row.id, description, now_ms())
            note_change("description", row.description, description)
            return model_store.to_wire(conn, model_store.require(conn, name, current_workspace()))

    def delete_model(self, name) -> None:
        name = check_model_name(name)
        with self.db.write() as conn:
            pk = model_store.lock(conn, name, current_workspace()).id
            model_store.delete_model(conn, pk)
            drop_resource_grants(conn, "registered_model", pk)
            note_change("name", name, None)

    def search_models(self, *, filter_string, order_by, max_results, page_token):
        check_max_results(max_results, MAX_MODELS_PER_PAGE)
        with self.db.read() as conn:
            return search_store.search_registered_models(
                conn, filter_string=filter_string, order_by=order_by, max_results=max_results,
                page_token=page_token, visible=readable("registered_model", registered_models.c.id,
                                                        registered_models.c.workspace))

    def latest_versions(self, name, stages: list[str]) -> list[dict]:
        name = check_model_name(name)
        wanted = {check_stage(s) for s in stages} or set(version_store.STAGES)
        with self.db.read() as conn:
            row = model_store.require(conn, name, current_workspace())
            latest = version_store.latest_per_stage(conn, [row.id], with_aliases=True).get(row.id, [])
        return [mv for mv in latest if mv["current_stage"] in wanted]

    def set_model_tag(self, name, key, value) -> None:
        name, (key, value) = check_model_name(name), check_tag(key, value)
        value = self.phi.screen(pair_texts("tag", {key: value}, where="registered model "))[1]
        with self.db.write() as conn:
            pk = model_store.require(conn, name, current_workspace()).id
            note_change(f"tags.{key}", model_store.tag_value(conn, pk, key), value)
            model_store.set_tag(conn, pk, key, value)

    def delete_model_tag(self, name, key) -> None:
        name, key = check_model_name(name), check_tag_key(key)
        with self.db.write() as conn:
            pk = model_store.require(conn, name, current_workspace()).id
            note_change(f"tags.{key}", model_store.tag_value(conn, pk, key), None)
            model_store.delete_tag(conn, pk, key)

    # aliases -------------------------------------------------------------------------------
    def set_alias(self, name, alias, version) -> None:
        name, alias = check_model_name(name), check_alias(alias, for_write=True)
        version = check_version(version)
        self.phi.screen([Text("alias", "alias", alias)])  # an alias is a name: never redacted
        with self.db.write() as conn:
            row = model_store.lock(conn, name, current_workspace())  # the version cannot be deleted meanwhile
            version_row = self._version_row(conn, row, version)
            clearance = self.approvals.check_alias(conn, row, version_row, alias)
            previous = model_store.alias_version(conn, row.id, alias)
            note_change(f"aliases.{alias}", previous, version)
            model_store.set_alias(conn, row.id, alias, version)
            self.approvals.record_alias(conn, row, version_row, alias, previous, clearance)

    def delete_alias(self, name, alias) -> None:
        name, alias = check_model_name(name), check_alias(alias, for_write=False)
        with self.db.write() as conn:
            model = model_store.require(conn, name, current_workspace())
            pk, previous = model.id, model_store.alias_version(conn, model.id, alias)
            note_change(f"aliases.{alias}", previous, None)
            model_store.delete_alias(conn, pk, alias)
            self.approvals.record_alias_removed(conn, model, alias, previous)

    def version_by_alias(self, name, alias) -> dict:
        name, alias = check_model_name(name), check_alias(alias, for_write=False)
        if alias.lower() == "latest":
            latest = self.latest_versions(name, [])
            if not latest:
                raise MedflowError.not_found(f"Latest version not found for model {name}.")
            return max(latest, key=lambda mv: int(mv["version"]))
        with self.db.read() as conn:
            row = model_store.require(conn, name, current_workspace())
            version = model_store.alias_version(conn, row.id, alias)
            if version is None:
                # MLflow answers INVALID_PARAMETER_VALUE here, and clients expect that code
                raise MedflowError.invalid(f"Registered model alias {alias} not found.")
            return version_store.to_wire(conn, self._version_row(conn, row, version))

    # model versions ------------------------------------------------------------------------
    def create_version(self, *, name, source, run_id, tags: list[dict], run_link, description,
                       model_id) -> dict:
        name = check_model_name(name)
        parsed = model_sources.parse(source)
        run_id = check_run_id(run_id) if run_id else None
        if model_id and (not isinstance(model_id, str) or not _MODEL_ID_RE.match(model_id)):
            raise MedflowError.invalid(f"Invalid model_id '{str(model_id)[:80]}'.")
        model_id = model_id or None
        tags, description = check_tags(tags), check_description(description)
        if run_link is not None:
            check_length("run_link", run_link, MAX_RUN_LINK_LENGTH)
        screened = self.phi.screen([Text("description", "model version description", description),
                                    *pair_texts("tag", tags, where="model version ")])
        description, tags = screened[0], stored_pairs(tags, screened[1:])
        with self.db.write() as conn:
            # what the source points at (the artifact store is asked too), then the insert
            resolved = model_sources.resolve(conn, self.artifact_store, source, parsed, run_id, model_id)
            # Registering exposes the logged model and run the source names: the caller must be able to read
            # them, and another workspace's answer exactly as missing ones do.
            if resolved.model_id:
                self.access.require(conn, "logged-model-read", model_id=resolved.model_id,
                                    missing=model_sources.missing_logged_model(resolved.model_id))
            if resolved.run_id:
                self.access.require(conn, "run-read", run_id=resolved.run_id,
                                    missing=model_sources.missing_run(resolved.run_id, source))
            if len(resolved.storage_location) > model_sources.MAX_SOURCE_LENGTH:
                raise MedflowError.invalid("The model's storage location would exceed "
                                           f"{model_sources.MAX_SOURCE_LENGTH} characters; use a shorter "
                                           "artifact path.")
            principal = current_principal()
            created = version_store.create(
                conn, name=name, workspace=current_workspace(), now=now_ms(), source=source,
                storage_location=resolved.storage_location, run_id=resolved.run_id, run_link=run_link,
                model_id=resolved.model_id, description=description, tags=tags,
                creator=principal.username if principal else None)
            if created is None:
                raise model_store.not_found(name)
            note_resource("model_version", f"{name}/{created['version']}")
            note_change("source", None, source)
            note_change("storage_location", None, resolved.storage_location)
            note_change("run_id", None, resolved.run_id)
            note_change("model_id", None, resolved.model_id)
            for key, value in tags.items():
                note_change(f"tags.{key}", None, value)
            return created

    def get_version(self, name, version) -> dict:
        name, version = check_model_name(name), check_version(version)
        with self.db.read() as conn:
            row = self._version_row(conn, model_store.require(conn, name, current_workspace()), version)
            return version_store.to_wire(conn, row)

    def update_version(self, name, version, description) -> dict:
        name, version = check_model_name(name), check_version(version)
        description = check_description(description)
        description = self.phi.screen([Text("description", "model version description", description)])[0]
        with self.db.write() as conn:
            model = model_store.require(conn, name, current_workspace())
            old = self._version_row(conn, model, version).description
            version_store.set_description(conn, model.id, version, description, now_ms())
            note_change("description", old, description)
            return version_store.to_wire(conn, version_store.get_row(conn, model.id, version))

    def transition_stage(self, name, version, stage, archive_existing_versions: bool) -> dict:
        name, version, stage = check_model_name(name), check_version(version), check_stage(stage)
        if archive_existing_versions and stage not in version_store.ACTIVE_STAGES:
            raise MedflowError.invalid(
                f"Model version transition cannot archive existing model versions because '{stage}' "
                f"is not an Active stage. Valid stages are {list(version_store.ACTIVE_STAGES)}; "
                "send archive_existing_versions=false.")
        with self.db.write() as conn:
            model = model_store.lock(conn, name, current_workspace())
            version_row = self._version_row(conn, model, version)
            old = version_row.current_stage
            clearance = self.approvals.check_transition(conn, model, version_row, stage)
            now = now_ms()
            model_store.touch(conn, model.id, now)
            archived = version_store.transition(conn, model.id, version, stage, archive_existing_versions, now)
            self.approvals.record_transition(conn, model, version_row, old, stage, archived, clearance)
            note_change("current_stage", old, stage)
            for other in archived:
                note_change(f"versions.{other}.current_stage", stage, "Archived")
            return version_store.to_wire(conn, version_store.get_row(conn, model.id, version))

    def delete_version(self, name, version) -> None:
        name, version = check_model_name(name), check_version(version)
        with self.db.write() as conn:
            model = model_store.lock(conn, name, current_workspace())
            self._version_row(conn, model, version)
            now = now_ms()
            model_store.touch(conn, model.id, now)
            removed_aliases = version_store.mark_deleted(conn, model.id, version, now)
            note_change("deleted", False, True)
            for alias in removed_aliases:
                note_change(f"aliases.{alias}", version, None)

    def search_versions(self, *, filter_string, order_by, max_results, page_token):
        check_max_results(max_results, MAX_VERSIONS_PER_PAGE)
        with self.db.read() as conn:
            return search_store.search_model_versions(
                conn, filter_string=filter_string, order_by=order_by, max_results=max_results,
                page_token=page_token, visible=readable("registered_model", registered_models.c.id,
                                                        registered_models.c.workspace))

    def set_version_tag(self, name, version, key, value) -> None:
        name, version = check_model_name(name), check_version(version)
        key, value = check_tag(key, value)
        value = self.phi.screen(pair_texts("tag", {key: value}, where="model version "))[1]
        with self.db.write() as conn:
            model = model_store.require(conn, name, current_workspace())
            self._version_row(conn, model, version)
            note_change(f"tags.{key}", version_store.tag_value(conn, model.id, version, key), value)
            version_store.set_tag(conn, model.id, version, key, value)

    def delete_version_tag(self, name, version, key) -> None:
        name, version, key = check_model_name(name), check_version(version), check_tag_key(key)
        with self.db.write() as conn:
            model = model_store.require(conn, name, current_workspace())
            self._version_row(conn, model, version)
            note_change(f"tags.{key}", version_store.tag_value(conn, model.id, version, key), None)
            version_store.delete_tag(conn, model.id, version, key)

    def download_uri(self, name, version) -> str:
        name, version = check_model_name(name), check_version(version)
        with self.db.read() as conn:
            row = self._version_row(conn, model_store.require(conn, name, current_workspace()), version)
            return row.storage_location or row.source

"""Where a model version may come from (its `source`), and where its files really are.

Security (research/mlflow-vulnerabilities.md, class LFI-MV-SOURCE): MLflow has shipped a long
line of fixes for sources that make the server read files it should not (file:///etc,
file://./etc, //proc/self/root, '..' hidden behind percent-encoding, '#' fragments). MedFlow
does not try to recognise bad sources; it accepts exactly three shapes and refuses the rest:

    runs:/<run_id>/<relative path>     an existing run (the path may be empty)
    models:/<model_id>                 an existing logged model (MLflow 3)
    mlflow-artifacts:/<relative path>  inside the artifacts of the run_id / model_id given

A relative path has no empty, '.' or '..' segment; the whole source has no backslash, query,
fragment, control character or percent-encoding (what is stored is exactly what was checked).

The storage location resolved here is what get-download-uri answers, so clients only ever
download from MedFlow's own artifact proxy.
"""
from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from medflow.errors import MedflowError
from medflow.store import model_versions as store

RUNS, MODELS, ARTIFACTS = "runs:/", "models:/", "mlflow-artifacts:/"
MAX_SOURCE_LENGTH = 1000  # model_versions.source / storage_location columns
_RUN_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,31}$")
_MODEL_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,63}$")
_FORBIDDEN = re.compile(r"[\\?#\x00-\x1f\x7f]")
_ACCEPTED = ("MedFlow registers model versions only from runs:/<run_id>/<path>, "
             "models:/<model_id> or mlflow-artifacts:/<path> sources")


@dataclass(frozen=True)
class Source:
    scheme: str  # RUNS | MODELS | ARTIFACTS
    ref: str     # run id (RUNS), logged model id (MODELS), '' (ARTIFACTS)
    path: str    # relative path, '' when none


@dataclass(frozen=True)
class Resolved:
    run_id: str | None
    model_id: str | None
    storage_location: str


def _invalid(source: str, why: str) -> MedflowError:
    shown = source if len(source) <= 200 else source[:200] + "..."
    return MedflowError.invalid(f"Invalid model version source: '{shown}'. {why}")


def _fully_decoded(value: str) -> str:
    for _ in range(8):
        decoded = urllib.parse.unquote(value)
        if decoded == value:
            return value
        value = decoded
    return value


def _relative_path(source: str, path: str, *, allow_empty: bool) -> str:
    path = path.rstrip("/")
    if not path:
        if allow_empty:
            return ""
        raise _invalid(source, "It names no path; give the artifact path of the model.")
    if any(segment in ("", ".", "..") for segment in path.split("/")):
        raise _invalid(source, "The path must be relative and must not contain '.', '..' or empty "
                               "segments ('//').")
    return path


def parse(source: str | None) -> Source:
    """Check a source's shape (no database access); raise INVALID_PARAMETER_VALUE when refused."""
    if source is None or source == "":
        raise MedflowError.missing("source")
    if not isinstance(source, str):
        raise MedflowError.invalid("Parameter 'source' must be a string.")
    if len(source) > MAX_SOURCE_LENGTH:
        raise MedflowError.invalid(f"'source' exceeds the maximum length of {MAX_SOURCE_LENGTH} characters.")
    decoded = _fully_decoded(source)
    if _FORBIDDEN.search(decoded):
        raise _invalid(source, "Backslashes, '?' queries, '#' fragments and control characters are "
                               f"not allowed. {_ACCEPTED}.")
    if decoded != source:
        raise _invalid(source, f"Percent-encoded characters are not accepted (it decodes to "
                               f"'{decoded[:200]}'); send the source unencoded.")
    if source.startswith(RUNS):
        rest = source[len(RUNS):]
        run_id, _, path = rest.partition("/")
        if not _RUN_ID_RE.match(run_id):
            raise _invalid(source, "A runs:/ source is runs:/<run_id>/<path>, with the run's id right "
                                   "after 'runs:/' (no host).")
        return Source(RUNS, run_id, _relative_path(source, path, allow_empty=True))
    if source.startswith(MODELS):
        model_id = source[len(MODELS):]
        if not _MODEL_ID_RE.match(model_id):
            raise _invalid(source, "A models:/ source is models:/<model_id> naming a logged model "
                                   "(m-...). Registry URIs such as models:/<name>/<version> or "
                                   "models:/<name>@<alias> cannot be registered again; register the "
                                   "run or logged model they came from.")
        return Source(MODELS, model_id, "")
    if source.startswith(ARTIFACTS):
        rest = source[len(ARTIFACTS):]
        if rest.startswith("/"):
            raise _invalid(source, "mlflow-artifacts sources name no host: use mlflow-artifacts:/<path>.")
        return Source(ARTIFACTS, "", _relative_path(source, rest, allow_empty=False))
    raise _invalid(source, f"{_ACCEPTED}. Local paths, file:// and external URLs (http, s3, ...) are "
                           "refused: the server would read them on the client's behalf.")


def _store_path(artifact_uri: str) -> str | None:
    """'mlflow-artifacts:/1/<run>/artifacts' -> '1/<run>/artifacts' (None for other roots)."""
    if not artifact_uri or not artifact_uri.startswith(ARTIFACTS):
        return None
    return artifact_uri[len(ARTIFACTS):].strip("/")


def _join(root: str, path: str) -> str:
    return f"{root.rstrip('/')}/{path}" if path else root.rstrip("/")


def _within(path: str, root_uri: str | None) -> bool:
    root = _store_path(root_uri or "")
    if not root:
        return False
    root_parts, parts = root.split("/"), path.split("/")
    return parts[:len(root_parts)] == root_parts


def missing_run(run_id: str, source: str) -> MedflowError:
    return MedflowError.not_found(f"Run with id={run_id} not found. The model version source "
                                  f"'{source[:200]}' must belong to an existing run.")


def missing_logged_model(model_id: str) -> MedflowError:
    return MedflowError.not_found(f"Logged model with id={model_id} not found. Register a logged "
                                  "model that exists (see logged-models/search).")


def _require_run(conn, run_id: str, source: str, logged_model_name: str = ""):
    row = store.run_row(conn, run_id, logged_model_name)
    if row is None:
        raise missing_run(run_id, source)
    return row


def _require_logged_model(conn, model_id: str):
    row = store.logged_model_row(conn, model_id)
    if row is None:
        raise missing_logged_model(model_id)
    return row


def _mismatch(source: str, field: str) -> MedflowError:
    return _invalid(source, f"The {field} request parameter must identify the resource that contains "
                            "the source.")


def _has_files(artifact_store, path: str) -> bool:
    return bool(artifact_store.list_dir(path)) or artifact_store.is_file(path)  # a model is a directory


def resolve(conn, artifact_store, raw: str, source: Source, run_id: str | None,
            model_id: str | None) -> Resolved:
    """Check what the source refers to exists and belongs to run_id / model_id; find its files."""
    if source.scheme == RUNS:
        if run_id and run_id != source.ref:
            raise _mismatch(raw, "run_id")
        if model_id:
            raise _mismatch(raw, "model_id")
        # MLflow 3 clients store a model under its logged model, not under the run: where the run's
        # own path holds nothing, register the model the run logged under that name
        # (research/mlflow-wire-protocol.md 2.2).
        logged_name, _, rest = source.path.partition("/")
        run = _require_run(conn, source.ref, raw, logged_name)
        location = _join(run.artifact_uri, source.path)
        run_path = _store_path(location)
        if (source.path and run_path is not None and run.logged_model_location is not None
                and not _has_files(artifact_store, run_path)):
            location = _join(run.logged_model_location, rest)
        return Resolved(run.run_uuid, None, location)
    if source.scheme == MODELS:
        if model_id and model_id != source.ref:
            raise _mismatch(raw, "model_id")
        logged = _require_logged_model(conn, source.ref)
        if run_id:
            _require_run(conn, run_id, raw)
            if logged.source_run_id and logged.source_run_id != run_id:
                raise _mismatch(raw, "run_id")
        return Resolved(run_id or logged.source_run_id, logged.model_id, logged.artifact_location)
    # mlflow-artifacts:/ — only inside the artifacts of the run or logged model named with it
    roots = []
    if run_id:
        roots.append(_require_run(conn, run_id, raw).artifact_uri)
    if model_id:
        roots.append(_require_logged_model(conn, model_id).artifact_location)
    if not roots:
        raise _invalid(raw, "An mlflow-artifacts source needs the run_id (or model_id) whose artifacts "
                            "contain it.")
    if not any(_within(source.path, root) for root in roots):
        raise _mismatch(raw, "model_id" if model_id and not run_id else "run_id")
    return Resolved(run_id, model_id, raw)

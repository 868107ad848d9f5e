"""The only way a client's string becomes an artifact store path.

A store path is relative, '/'-separated, without '.', '..' or empty segments, e.g.
"1/<run_id>/artifacts/model/MLmodel"; "" is the store root. Everything a client sends
(URL path parameters, ?path= values, artifact URIs) goes through `store_path()` first, so the
stores never see a raw string. The checks close MLflow's artifact path-traversal history
(CVE-2023-1176/-3765/-6831/-6976, CVE-2024-8859, ...): absolute paths, '..' segments
(also hidden under repeated percent-encoding), backslashes, NUL and control characters,
'?' and '#' (query/fragment tricks) and Windows drive letters are rejected.
"""
from __future__ import annotations

import re
import urllib.parse

from medflow.errors import MedflowError

ARTIFACTS_SCHEME = "mlflow-artifacts:"
# Where the local store keeps uploads in flight; never addressable by a client.
STAGING_DIR = ".medflow-staging"
MAX_PATH_BYTES = 1024   # S3's key limit
MAX_SEGMENT_BYTES = 255  # the common file-name limit
_MAX_DECODE_ROUNDS = 5
_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _invalid(raw: str, why: str) -> MedflowError:
    shown = raw if len(raw) <= 120 else raw[:120] + "..."
    return MedflowError.invalid(
        f"Invalid artifact path '{_CONTROL.sub('?', shown)}': {why}. Artifact paths are relative "
        "paths such as '1/<run_id>/artifacts/model/MLmodel'.")


def _decoded_forms(raw: str) -> list[str]:
    """The string and each percent-decoding of it, until decoding changes nothing."""
    forms = [raw]
    for _ in range(_MAX_DECODE_ROUNDS):
        decoded = urllib.parse.unquote(forms[-1], errors="strict")
        if decoded == forms[-1]:
            return forms
        forms.append(decoded)
    raise _invalid(raw, "it is percent-encoded too many times")


def _check_form(raw: str, form: str) -> None:
    if _CONTROL.search(form):
        raise _invalid(raw, "it contains NUL or control characters")
    if "\\" in form:
        raise _invalid(raw, "backslashes are not path separators here; use '/'")
    if "?" in form or "#" in form:
        raise _invalid(raw, "'?' and '#' are not allowed in artifact paths")
    if form.startswith("/"):
        raise _invalid(raw, "absolute paths are not allowed")
    if _DRIVE_LETTER.match(form):
        raise _invalid(raw, "Windows drive letters are not allowed")
    if ".." in form.split("/"):
        raise _invalid(raw, "'..' segments are not allowed")


def store_path(raw: str | None, *, allow_root: bool = True) -> str:
    """Validate a client-supplied artifact path and return its normalized store path."""
    if raw is None or raw == "":
        if not allow_root:
            raise MedflowError.invalid("Missing artifact path: name a file or directory "
                                       "below the artifact root, e.g. '1/<run_id>/artifacts/x.txt'.")
        return ""
    if not isinstance(raw, str):
        raise MedflowError.invalid("Artifact path must be a string.")
    try:
        forms = _decoded_forms(raw)
    except UnicodeDecodeError:
        raise _invalid(raw, "it percent-encodes bytes that are not UTF-8") from None
    for form in forms:
        _check_form(raw, form)
    segments = [s for s in forms[-1].split("/") if s not in ("", ".")]
    path = "/".join(segments)
    if segments and segments[0] == STAGING_DIR:
        raise _invalid(raw, f"'{STAGING_DIR}' is reserved for uploads in progress")
    if len(path.encode()) > MAX_PATH_BYTES:
        raise _invalid(raw, f"it is longer than {MAX_PATH_BYTES} bytes")
    if any(len(s.encode()) > MAX_SEGMENT_BYTES for s in segments):
        raise _invalid(raw, f"a path segment is longer than {MAX_SEGMENT_BYTES} bytes")
    if not path and not allow_root:
        raise MedflowError.invalid("The artifact root itself cannot be the target of this "
                                   "operation: name a file or directory below it.")
    return path


def join(*parts: str) -> str:
    """Join store paths (each already validated)."""
    return "/".join(p for p in parts if p)


def store_path_from_uri(uri: str) -> str:
    """'mlflow-artifacts:/1/<run>/artifacts' -> '1/<run>/artifacts'.

    Only URIs the server itself hands out are accepted: MedFlow never reads or fetches a
    client-supplied location (no file://, http://, s3://: no local file reads, no SSRF).
    """
    if not uri or not uri.startswith(ARTIFACTS_SCHEME):
        raise MedflowError.invalid(
            "This artifact location is not served by MedFlow's artifact proxy: only "
            "'mlflow-artifacts:/...' locations are.")
    rest = uri[len(ARTIFACTS_SCHEME):]
    if rest.startswith("//"):  # mlflow-artifacts://host/path: another server's artifacts
        raise MedflowError.invalid("Artifact locations naming another host are not served here.")
    return store_path(rest.lstrip("/"))


def relative_to(path: str, root: str) -> str:
    """`path` below `root` (both store paths), as MLflow lists run and model artifacts."""
    if not root:
        return path
    return path[len(root) + 1:] if path.startswith(root + "/") else path

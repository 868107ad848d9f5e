"""21 CFR Part 11 electronic signatures: what a signature shows and what it is bound to.

§11.50: a signature shows the signer's printed name, the date and time (UTC) and its
meaning (authorship, review, approval, responsibility).
§11.70: it is bound to its record. Here the record is the model version's content, as a
manifest hashed with SHA-256: the version's source and storage location, the source run's
id, latest metric values and params, and the SHA-256 of every artifact file under the
version's storage location. A changed byte in any file, a re-logged metric or an edited
param gives another content hash: the signature no longer verifies, and
describe_changes() says what changed.

The signature row itself carries `record_hash`, a SHA-256 over every signed field and the
content hash, so an edit of the stored signature (signer, time, meaning, decision) is
detected as well; the table is append-only in the database.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Iterator

MEANINGS = ("authorship", "review", "approval", "responsibility")
DECISIONS = ("approved", "rejected")
MANIFEST_FORMAT = "medflow-version-content/1"
_CHUNK = 1 << 20


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- the version's content -------------------------------------------------------------------

def metric_text(value: float) -> str:
    """A metric value as hashed: the shortest repr that round-trips (NaN/Infinity spelled out)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return repr(float(value))


def content_manifest(*, version: int, source: str, storage_location: str | None, run_id: str | None,
                     model_id: str | None, metrics: dict[str, float], params: dict[str, str],
                     artifacts: dict[str, str]) -> dict:
    """What a signature covers. The model's name is left out on purpose: a rename changes no content."""
    return {
        "format": MANIFEST_FORMAT,
        "model_version": {"version": version, "source": source, "storage_location": storage_location or "",
                          "model_id": model_id or ""},
        "run": None if run_id is None else {
            "run_id": run_id,
            "metrics": {k: metric_text(v) for k, v in sorted(metrics.items())},
            "params": dict(sorted(params.items())),
        },
        "artifacts": dict(sorted(artifacts.items())),
    }


def content_hash(manifest: dict) -> str:
    return sha256_text(canonical_json(manifest))


def walk_files(artifact_store, root: str) -> Iterator[str]:
    """Every file path under store directory `root` (relative to it), depth first, sorted."""
    pending = [root]
    while pending:
        directory = pending.pop()
        for entry in artifact_store.list_dir(directory):
            if entry.is_dir:
                pending.append(entry.path)
            else:
                yield entry.path[len(root):].lstrip("/") if root else entry.path


def artifact_digests(artifact_store, root: str | None) -> dict[str, str]:
    """SHA-256 of every file under `root` (a store path), read through the artifact store.

    A version registered from a single file (its storage location is the file) hashes that file
    under its own name.
    """
    if not root:
        return {}
    digests = {}
    if artifact_store.is_file(root):
        digests[root.rsplit("/", 1)[-1]] = _file_sha256(artifact_store, root)
        return digests
    for relative in walk_files(artifact_store, root):
        digests[relative] = _file_sha256(artifact_store, f"{root}/{relative}")
    return dict(sorted(digests.items()))


def _file_sha256(artifact_store, path: str) -> str:
    digest = hashlib.sha256()
    for chunk in artifact_store.open_read(path, _CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def describe_changes(signed: dict, current: dict, limit: int = 5) -> list[str]:
    """What differs between the manifest a signature covers and the version's content now."""
    changes: list[str] = []
    old_mv, new_mv = signed.get("model_version", {}), current.get("model_version", {})
    for key in ("source", "storage_location", "model_id"):
        if old_mv.get(key) != new_mv.get(key):
            changes.append(f"{key.replace('_', ' ')} changed")
    old_run, new_run = signed.get("run") or {}, current.get("run") or {}
    if old_run.get("run_id") != new_run.get("run_id"):
        changes.append("source run changed")
    else:
        changes += _dict_changes("metric", old_run.get("metrics", {}), new_run.get("metrics", {}), show=True)
        changes += _dict_changes("param", old_run.get("params", {}), new_run.get("params", {}), show=False)
    changes += _dict_changes("artifact", signed.get("artifacts", {}), current.get("artifacts", {}), show=False)
    if len(changes) > limit:
        changes = changes[:limit] + [f"and {len(changes) - limit} more"]
    return changes or ["the content manifest differs"]


def _dict_changes(kind: str, old: dict, new: dict, *, show: bool) -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        if key not in new:
            out.append(f"{kind} {key} removed")
        elif key not in old:
            out.append(f"{kind} {key} added")
        elif old[key] != new[key]:
            out.append(f"{kind} {key} changed" + (f" from {old[key]} to {new[key]}" if show else ""))
    return out


# --- the signature record ----------------------------------------------------------------------

SIGNED_FIELDS = ("request_id", "model_pk", "version", "version_created", "target_kind", "target", "decision",
                 "meaning", "signer_id", "signer_username", "signer_name", "signed_at", "comment",
                 "content_hash")


def record_hash(fields: dict) -> str:
    """SHA-256 over a signature's signed fields: any later edit of the stored row shows."""
    return sha256_text(canonical_json({k: fields.get(k) for k in SIGNED_FIELDS}))


def utc_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def manifestation(decision: str, signer_name: str, signer_username: str, signed_at: int, meaning: str) -> str:
    """The human-readable form of a signature (§11.50), as reports and the CLI print it."""
    verb = "Approved" if decision == "approved" else "Rejected"
    return f"{verb} by {signer_name} ({signer_username}) on {utc_text(signed_at)} - meaning: {meaning}"


def signature_problem(row, current_hash: str, current_manifest: dict) -> str | None:
    """Why a stored signature no longer verifies against the version as it is now; None if it does."""
    fields = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
    if record_hash(fields) != fields["record_hash"]:
        return "the stored signature record was altered after signing"
    if fields["content_hash"] != current_hash:
        try:
            signed = json.loads(fields["manifest"])
        except ValueError:
            signed = {}
        if content_hash(signed) != fields["content_hash"]:
            return "content changed since signing (the stored manifest was altered)"
        return f"content changed since signing ({', '.join(describe_changes(signed, current_manifest))})"
    return None


def signature_to_wire(values: dict, problem: str | None) -> dict:
    """A stored signature as the API shows it, with its §11.50 manifestation and whether it verifies now."""
    out = {k: values[k] for k in ("target_kind", "target", "decision", "meaning", "signer_username",
                                  "signer_name", "signed_at", "content_hash", "record_hash", "model_name")}
    out.update(id=str(values["id"]), request_id=str(values["request_id"]), version=str(values["version"]),
               signed_at_utc=utc_text(values["signed_at"]), valid=problem is None,
               manifestation=manifestation(values["decision"], values["signer_name"], values["signer_username"],
                                           values["signed_at"], values["meaning"]))
    if values.get("comment"):
        out["comment"] = values["comment"]
    if problem:
        out["problem"] = problem
    return out

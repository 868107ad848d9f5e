"""Gathering what a governance decision looks at, for one model version, on an open connection.

- version_content(): the manifest and SHA-256 a signature is bound to (signatures.py);
- gate_evidence(): the source run's metrics and tags, the version's tags, which required
  artifacts exist (in the version's files, or in the source run's artifacts), and, for the
  `phi_scan` gate, what the PHI guard finds in the version's files (phi_scan());
- barred_signers(): who may not approve it (separation of duties): the account that
  registered the version, and whoever created its source run — the run's recorded user and
  the actor the audit trail names for its creation (runs.user_id is what the client claimed).

Artifact files are read through the server's artifact store (local or S3), never from a
path a client named.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import PurePosixPath

from medflow.governance.gates import PHI_SCAN_MAX_FILES, Evidence, PhiScan
from medflow.governance.policy import Gates
from medflow.governance.signatures import artifact_digests, content_hash, content_manifest, walk_files
from medflow.guard import GuardConfig, scan_artifact, scan_text
from medflow.guard.artifacts import IMAGE_SUFFIXES
from medflow.guard.config import DEFAULT_CONFIG
from medflow.store import approvals_evidence as evidence_store

ARTIFACTS_SCHEME = "mlflow-artifacts:/"


def store_path(uri: str | None) -> str | None:
    """'mlflow-artifacts:/1/<run>/artifacts/model' -> '1/<run>/artifacts/model'; None for other URIs."""
    if not uri or not uri.startswith(ARTIFACTS_SCHEME):
        return None
    return uri[len(ARTIFACTS_SCHEME):].strip("/") or None


@dataclass(frozen=True)
class VersionContent:
    manifest: dict
    hash: str

    @property
    def files(self) -> frozenset[str]:
        return frozenset(self.manifest.get("artifacts", {}))


def version_content(conn, artifact_store, version_row) -> VersionContent:
    run_id = version_row.run_id or None
    manifest = content_manifest(
        version=version_row.version, source=version_row.source, storage_location=version_row.storage_location,
        run_id=run_id, model_id=version_row.model_id,
        metrics=evidence_store.run_metrics(conn, run_id) if run_id else {},
        params=evidence_store.run_params(conn, run_id) if run_id else {},
        artifacts=artifact_digests(artifact_store, store_path(version_row.storage_location)))
    return VersionContent(manifest, content_hash(manifest))


def gate_evidence(conn, artifact_store, version_row, gates: Gates,
                  content: VersionContent | None = None, guard_config: GuardConfig | None = None) -> Evidence:
    """`guard_config` is the server's PHI guard configuration (services.phi.config), for `phi_scan`."""
    run_id = version_row.run_id or None
    run = evidence_store.run_row(conn, run_id) if run_id else None
    present = set()
    if gates.artifacts:
        version_root, run_root = store_path(version_row.storage_location), store_path(run.artifact_uri if run else None)
        for path in gates.artifacts:
            if content is not None and path in content.files:
                present.add(path)
            elif any(root and artifact_store.is_file(f"{root}/{path}") for root in (version_root, run_root)):
                present.add(path)
    return Evidence(
        run_id=run.run_uuid if run else None,
        metrics=evidence_store.run_metrics(conn, run_id) if run and gates.metrics else {},
        run_tags=evidence_store.run_tags(conn, run_id) if run and gates.tags else {},
        version_tags=evidence_store.version_tags(conn, version_row.model_pk, version_row.version) if gates.tags else {},
        artifacts_present=frozenset(present),
        phi_scan=(phi_scan(artifact_store, store_path(version_row.storage_location), guard_config or DEFAULT_CONFIG)
                  if gates.phi_scan else None))


def phi_scan(artifact_store, root: str | None, config: GuardConfig,
             max_files: int = PHI_SCAN_MAX_FILES) -> PhiScan:
    """Scan the files under store path `root` with the PHI guard: every file's name, and the first
    `config.max_artifact_scan_bytes` of each file that is not binary (images, archives, model
    weights by suffix; NUL bytes in the content). At most `max_files` files are scanned."""
    if not root:
        return PhiScan(problem="the version's storage location is not in MedFlow's artifact store, "
                               "so its files cannot be scanned")
    try:
        if artifact_store.is_file(root):
            files, base = [root.rsplit("/", 1)[-1]], root.rsplit("/", 1)[0] if "/" in root else ""
        else:
            files, base = list(itertools.islice(walk_files(artifact_store, root), max_files + 1)), root
    except Exception:  # noqa: BLE001 - an unreadable store fails the gate, it never passes it
        return PhiScan(problem="the version's files could not be listed")
    flagged = []
    for relative in files[:max_files]:
        name = relative.rsplit("/", 1)[-1]
        folder = relative.rsplit("/", 1)[0] + "/" if "/" in relative else "the top level"
        name_findings = scan_text(name, field="artifact_path", config=config)
        if name_findings:  # the name is the identifier: name where it is, never the name
            flagged.append((f"an artifact file name in {folder}", tuple(sorted({f.kind for f in name_findings}))))
            continue
        if PurePosixPath(name.lower()).suffix in IMAGE_SUFFIXES:
            continue  # binary: its name only
        try:
            head = _head(artifact_store, f"{base}/{relative}" if base else relative, config.max_artifact_scan_bytes)
        except Exception:  # noqa: BLE001
            return PhiScan(tuple(flagged), problem=f"artifact {relative} could not be read")
        findings = scan_artifact(name, head, config)
        if findings:
            flagged.append((f"artifact {relative}", tuple(dict.fromkeys(f.kind for f in findings))))
    return PhiScan(tuple(flagged), min(len(files), max_files), over_limit=max_files if len(files) > max_files else 0)


def _head(artifact_store, path: str, limit: int) -> bytes:
    """The first `limit` bytes of a file; the rest is never read."""
    data = bytearray()
    chunks = artifact_store.open_read(path, min(limit, 1 << 20))
    try:
        for chunk in chunks:
            data += chunk
            if len(data) >= limit:
                break
    finally:
        chunks.close()
    return bytes(data[:limit])


def barred_signers(conn, model_name: str, version_row) -> dict[str, str]:
    """User name -> why that person cannot approve this version."""
    barred: dict[str, str] = {}
    creators = {version_row.user_id} if version_row.user_id else evidence_store.creating_actors(
        conn, "model_version", f"{model_name}/{version_row.version}", evidence_store.VERSION_CREATE_ACTION)
    for user in creators:
        barred[user] = "registered this version"
    if version_row.run_id:
        run = evidence_store.run_row(conn, version_row.run_id)
        authors = evidence_store.creating_actors(conn, "run", version_row.run_id, evidence_store.RUN_CREATE_ACTION)
        if run is not None and run.user_id:
            authors.add(run.user_id)
        for user in authors:
            barred.setdefault(user, "created its source run")
    return barred

"""The artifact proxy: list, download, upload and delete through the configured store.

Every client path is validated by artifacts.paths before it reaches the store. Uploads
stream (transfer.write_stream) and can be inspected before they are committed: a check
registered with `add_upload_check` sees the first bytes of every text-like file and may
reject the upload (nothing is stored) or return a replacement head (redaction). PNG and
JPEG images up to IMAGE_CHECK_BYTES are held whole and checks get all their bytes (face
detection needs the whole image). The PHI guard plugs in there.
"""
from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import AsyncIterator, Callable

from medflow.artifacts import FileInfo, OpenedFile, paths, transfer
from medflow.audit.context import note_detail
from medflow.errors import MedflowError
from medflow.guard.faces import MAX_FACE_SCAN_BYTES, is_face_scannable
from medflow.store import runs as run_store

# File types MLflow serves as text/plain (mlflow/utils/mime_type_utils.py); all else is binary.
TEXT_EXTENSIONS = frozenset({
    "txt", "log", "err", "cfg", "conf", "cnf", "cf", "ini", "properties", "prop", "hocon", "toml",
    "yaml", "yml", "xml", "json", "js", "py", "py3", "csv", "tsv", "md", "rst", "ipynb",
    "mlmodel", "mlproject"})
DEFAULT_HEAD_BYTES = 1024 * 1024
# Images (.png/.jpg/.jpeg) up to this size reach the checks whole; larger ones by name only.
IMAGE_CHECK_BYTES = MAX_FACE_SCAN_BYTES

# (store path, head of the file) -> None to accept, bytes to store instead; raise to reject.
UploadCheck = Callable[[str, bytes], "bytes | None"]


def extension(path: str) -> str:
    name = posixpath.basename(path)
    ext = posixpath.splitext(name)[1].lstrip(".")
    return (ext or name).lower()  # MLmodel, MLproject: the name is the type


def media_type(path: str) -> str:
    return "text/plain" if extension(path) in TEXT_EXTENSIONS else "application/octet-stream"


def looks_like_text(path: str, head: bytes) -> bool:
    """Text by extension, or by content: no NUL byte and valid UTF-8 (a cut last char allowed)."""
    if extension(path) in TEXT_EXTENSIONS:
        return True
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3 and exc.reason == "unexpected end of data"


@dataclass(frozen=True)
class _Check:
    fn: UploadCheck
    head_bytes: int


class ArtifactService:
    def __init__(self, services):
        self.store = services.artifact_store
        self.db = services.db
        self._checks: list[_Check] = []

    def multipart_supported(self) -> bool:
        # False on purpose, for every store. The 3.x client sends multipart parts with a bare
        # `requests.put(credential.url)` (mlflow/store/artifact/http_artifact_repo.py): MLflow
        # hands out presigned bucket URLs there, i.e. bucket access that bypasses RBAC, the PHI
        # guard, encryption and audit. Pointing those URLs back at MedFlow would need
        # unauthenticated capability URLs (the part PUT carries no client credentials). The
        # single streamed PUT already keeps memory flat and reaches disk/S3 speed, so the mpu
        # endpoints answer NOT_IMPLEMENTED and a client that forces multipart falls back to it.
        return False

    def add_upload_check(self, fn: UploadCheck, head_bytes: int = DEFAULT_HEAD_BYTES) -> None:
        """Run `fn` on the first `head_bytes` of every text-like upload before it is stored;
        PNG/JPEG images up to IMAGE_CHECK_BYTES get their whole content; other files are
        checked by name only (`fn` gets an empty head)."""
        self._checks.append(_Check(fn, head_bytes))

    # --- the mlflow-artifacts proxy -------------------------------------------------------
    def list(self, raw_path: str | None) -> list[FileInfo]:
        """Children of a directory; [] for a file or a missing path (as MLflow answers)."""
        return self.store.list_dir(paths.store_path(raw_path))

    def open_download(self, raw_path: str | None) -> tuple[str, OpenedFile]:
        path = paths.store_path(raw_path, allow_root=False)
        return path, self.store.open_file(path)

    async def upload(self, raw_path: str | None, chunks: AsyncIterator[bytes],
                     expected_size: int | None = None) -> int:
        path = paths.store_path(raw_path, allow_root=False)
        inspect, head_bytes = None, 0
        if self._checks:
            head_bytes = max(c.head_bytes for c in self._checks)
            if is_face_scannable(path):
                # Hold up to the cap: a smaller image then reaches the checks whole.
                head_bytes = max(head_bytes, IMAGE_CHECK_BYTES + 1)
            inspect = lambda head: self._inspect(path, head)  # noqa: E731
        size = await transfer.write_stream(lambda: self.store.open_write(path), chunks,
                                           inspect_head=inspect, head_bytes=head_bytes,
                                           expected_size=expected_size)
        note_detail("bytes_stored", size)
        return size

    def _inspect(self, path: str, head: bytes) -> bytes | None:
        if not looks_like_text(path, head):
            # Binary content is not scanned, but its file name is (e.g. 'jane_doe_face.png');
            # a whole image (below the cap, so not cut) is passed on for face detection.
            whole_image = is_face_scannable(path) and len(head) <= IMAGE_CHECK_BYTES
            for check in self._checks:
                check.fn(path, head if whole_image else b"")
            return None
        replaced = None
        for check in self._checks:
            current = replaced if replaced is not None else head
            result = check.fn(path, current[:check.head_bytes])
            if result is not None:
                replaced = result + current[check.head_bytes:]
        return replaced

    def delete(self, raw_path: str | None) -> None:
        self.store.delete(paths.store_path(raw_path, allow_root=False))

    # --- run- and model-scoped listings ---------------------------------------------------
    def list_under(self, root_uri: str, raw_relative: str | None) -> list[dict]:
        """Listing of `raw_relative` below an artifact URI, paths relative to that URI (MLflow's
        runs/artifacts/list and logged-models/.../artifacts/directories shape)."""
        root = paths.store_path_from_uri(root_uri)
        relative = paths.store_path(raw_relative)
        files = self.store.list_dir(paths.join(root, relative))
        return [file_json(f, paths.relative_to(f.path, root)) for f in files]

    def open_download_under(self, root_uri: str, raw_relative: str | None) -> tuple[str, OpenedFile]:
        root = paths.store_path_from_uri(root_uri)
        path = paths.join(root, paths.store_path(raw_relative, allow_root=False))
        return path, self.store.open_file(path)

    def list_for_run(self, run_id: str, raw_relative: str | None) -> tuple[str, list[dict]]:
        with self.db.read() as conn:
            run = run_store.get_row(conn, run_id)
        if run is None:
            raise MedflowError.not_found(f"Run with id={run_id} not found")
        return run.artifact_uri, self.list_under(run.artifact_uri, raw_relative)


def file_json(info: FileInfo, shown_path: str) -> dict:
    out = {"path": shown_path, "is_dir": info.is_dir}
    if not info.is_dir and info.file_size is not None:
        out["file_size"] = info.file_size
    return out

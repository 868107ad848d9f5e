"""Artifacts in a local directory (the default store).

Uploads are written to a temporary file under `<root>/.medflow-staging/` (the same file
system as their destination) and moved into place with os.replace() only once complete,
so a broken upload never leaves a half-written file. Every path is resolved and checked
to stay under the root after symlinks are followed: a link planted inside the root cannot
be used to read, write or delete outside it.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from medflow.artifacts import FileInfo, OpenedFile, transfer
from medflow.artifacts.paths import STAGING_DIR
from medflow.errors import MedflowError


def _outside_root(path: str) -> MedflowError:
    return MedflowError.invalid(f"Invalid artifact path '{path}': it resolves outside the artifact "
                                "root (through a symbolic link); nothing was read or written.")


class LocalArtifactStore(transfer.StreamingMixin):
    def __init__(self, root: str):
        if root.startswith("file://"):
            root = root[len("file://"):]
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.staging = self.root / STAGING_DIR
        self.staging.mkdir(exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalArtifactStore({str(self.root)!r})"

    # --- path resolution ------------------------------------------------------------------
    def _inside(self, resolved: Path) -> bool:
        return resolved == self.root or self.root in resolved.parents

    def _resolve(self, path: str) -> Path:
        """The real location of `path` (symlinks followed), refused when it leaves the root."""
        resolved = (self.root / path).resolve()
        if not self._inside(resolved):
            raise _outside_root(path)
        return resolved

    # --- reads ----------------------------------------------------------------------------
    def list_dir(self, path: str) -> list[FileInfo]:
        directory = self._resolve(path)
        if not directory.is_dir():
            return []
        out = []
        with os.scandir(directory) as entries:
            for entry in entries:
                if not path and entry.name == STAGING_DIR:
                    continue
                child = f"{path}/{entry.name}" if path else entry.name
                if entry.is_dir():
                    out.append(FileInfo(child, True))
                elif entry.is_file():
                    out.append(FileInfo(child, False, entry.stat().st_size))
        return sorted(out, key=lambda f: f.path)

    def is_file(self, path: str) -> bool:
        return bool(path) and self._resolve(path).is_file()

    def size(self, path: str) -> int | None:
        target = self._resolve(path)
        return target.stat().st_size if target.is_file() else None

    def open_file(self, path: str) -> OpenedFile:
        target = self._resolve(path)
        if target.is_dir():
            raise MedflowError.invalid(f"Artifact path refers to a directory, not a file: '{path}'. "
                                       "List it with GET /api/2.0/mlflow-artifacts/artifacts?path=...")
        try:
            handle = open(target, "rb")  # noqa: SIM115 - closed by the download stream
        except FileNotFoundError:
            raise MedflowError.not_found(f"No such artifact: '{path}'") from None
        size = os.fstat(handle.fileno()).st_size

        def chunks() -> Iterator[bytes]:
            try:
                while block := handle.read(transfer.READ_CHUNK):
                    yield block
            finally:
                handle.close()

        return OpenedFile(size, chunks(), handle.close)

    # --- writes ---------------------------------------------------------------------------
    def open_write(self, path: str) -> "_LocalWriter":
        if not path:
            raise MedflowError.invalid("Cannot write to the artifact root itself: name a file.")
        self._resolve(str(Path(path).parent))  # refuse before receiving a byte
        return _LocalWriter(self, path)

    def delete(self, path: str) -> None:
        if not path:
            raise MedflowError.invalid("Refusing to delete the whole artifact root: name a "
                                       "directory or file below it.")
        target = self.root / path
        if target.is_symlink():  # remove the link itself, never what it points to
            target.unlink()
            return
        resolved = self._resolve(path)
        if resolved.is_dir():
            shutil.rmtree(resolved)
        elif resolved.exists():
            resolved.unlink()


class _LocalWriter:
    """A temporary file in the staging directory, renamed into place on commit."""

    def __init__(self, store: LocalArtifactStore, path: str):
        self.store, self.path = store, path
        fd, name = tempfile.mkstemp(dir=store.staging, prefix="upload-", suffix=".part")
        self.temp = Path(name)
        self.file = os.fdopen(fd, "wb")
        self.done = False

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def commit(self) -> None:
        self.file.close()
        final = self.store.root / self.path
        parent = final.parent
        # Checked before mkdir too: a symlinked ancestor must not make us create directories outside.
        if not self.store._inside(parent.resolve()):
            raise _outside_root(self.path)
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise MedflowError.invalid(f"Cannot store '{self.path}': a parent of it is a file. "
                                       "Choose another artifact path.") from None
        if not self.store._inside(parent.resolve()):
            raise _outside_root(self.path)
        if final.is_dir() and not final.is_symlink():
            raise MedflowError.invalid(f"Cannot store '{self.path}': a directory of that name exists. "
                                       "Choose another artifact path.")
        os.replace(self.temp, final)  # atomic; replaces a symlink itself, not its target
        self.done = True

    def abort(self) -> None:
        if self.done:
            return
        self.done = True
        self.file.close()
        self.temp.unlink(missing_ok=True)

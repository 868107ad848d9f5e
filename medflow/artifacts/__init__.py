"""Artifact stores behind one small interface: a local directory (default) or S3-compatible.

Paths given to a store are always relative, already validated by artifacts.paths
(no '..', no absolute paths); a store never sees a client's raw string.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator, Callable, Iterator, Protocol

from medflow.config import Settings


@dataclass(frozen=True)
class FileInfo:
    path: str          # the entry's full store path (from the store root), '/'-separated
    is_dir: bool
    file_size: int | None = None


@dataclass
class OpenedFile:
    """A file opened for download: its size is known before the first byte is sent."""
    size: int
    chunks: Iterator[bytes]       # blocking reads: iterate in a worker thread
    close: Callable[[], None]


class ArtifactWriter(Protocol):
    """One upload in progress. Nothing is visible at the path until commit() returns."""

    def write(self, data: bytes) -> None: ...

    def commit(self) -> None:
        """Make the file visible at its path, atomically (replacing an older one)."""

    def abort(self) -> None:
        """Discard everything written; safe to call more than once, or after commit()."""


class ArtifactStore(Protocol):
    def list_dir(self, path: str) -> list[FileInfo]:
        """Direct children of directory `path` ([] when missing or a file); paths are store paths."""

    def is_file(self, path: str) -> bool: ...

    def size(self, path: str) -> int | None:
        """Size in bytes of file `path`, or None when it does not exist."""

    def open_read(self, path: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """Stream a file's bytes; raises MedflowError.not_found when missing."""

    async def write_stream(self, path: str, chunks: AsyncIterator[bytes]) -> int:
        """Store a file from an async stream of chunks, atomically; returns bytes written."""

    def delete(self, path: str) -> None:
        """Delete a file or a directory tree (nothing happens when it does not exist)."""

    # --- streaming primitives (ArtifactService builds uploads and downloads on them) ------
    def open_file(self, path: str) -> OpenedFile:
        """Open file `path` for streaming; raises MedflowError.not_found when missing."""

    def open_write(self, path: str) -> ArtifactWriter:
        """Start an upload to `path`; blocking, call from a worker thread."""


def open_artifact_store(settings: Settings) -> ArtifactStore:
    destination = settings.artifacts_destination
    if destination.startswith("s3://"):
        from medflow.artifacts.s3 import S3ArtifactStore
        return S3ArtifactStore(destination, endpoint_url=settings.s3_endpoint_url or None)
    from medflow.artifacts.local import LocalArtifactStore
    return LocalArtifactStore(destination)

"""Artifact stores behind one small interface: a local directory (default) or S3-compatible.

Paths given to a store are always relative, already validated by artifacts.paths
(no '..', no absolute paths); a store never sees a client's raw string.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator, Iterator, Protocol

from medflow.config import Settings


@dataclass(frozen=True)
class FileInfo:
    path: str          # relative to the listed directory's root (the store path), '/'-separated
    is_dir: bool
    file_size: int | None = None


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
        """Delete a file or a directory tree."""


def open_artifact_store(settings: Settings) -> ArtifactStore:
    destination = settings.artifacts_destination
    if destination.startswith("s3://"):
        from medflow.artifacts.s3 import S3ArtifactStore
        return S3ArtifactStore(destination, endpoint_url=settings.s3_endpoint_url or None)
    from medflow.artifacts.local import LocalArtifactStore
    return LocalArtifactStore(destination)

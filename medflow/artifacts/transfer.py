"""Moving artifact bytes between the event loop and a store without holding a file in memory.

Uploads: the request body arrives in small pieces (~64 KB from uvicorn); they are gathered
into `FLUSH_BYTES` blocks and each block is written by a worker thread, so a 5 GB upload
costs a few MB of memory and the event loop never blocks on disk or S3. The first
`head_bytes` can be handed to an inspection function (the PHI guard) before anything is
written; it may reject the upload or return a replacement head. Any failure, a client that
disconnects, or a cancelled request aborts the store's writer: nothing is left at the path.

Downloads: `OpenedFile.chunks` is a blocking iterator; Starlette's StreamingResponse runs
it in the thread pool one chunk (READ_CHUNK bytes) at a time.
"""
from __future__ import annotations

import asyncio
from typing import AsyncIterator, Callable, Iterator

import anyio
from starlette.concurrency import run_in_threadpool

from medflow.artifacts import ArtifactWriter
from medflow.errors import MedflowError

FLUSH_BYTES = 4 * 1024 * 1024
READ_CHUNK = 1024 * 1024

# (head) -> None to keep it, bytes to store instead; raises to reject the upload.
HeadInspector = Callable[[bytes], "bytes | None"]


async def write_stream(open_writer: Callable[[], ArtifactWriter], chunks: AsyncIterator[bytes], *,
                       inspect_head: HeadInspector | None = None, head_bytes: int = 0,
                       expected_size: int | None = None) -> int:
    """Write `chunks` through a new writer and commit; returns the number of bytes stored."""
    writer = await run_in_threadpool(open_writer)
    pump = _Pump(writer)
    try:
        size = await pump.run(chunks, inspect_head, head_bytes, expected_size)
        await run_in_threadpool(writer.commit)
        return size
    except BaseException:
        with anyio.CancelScope(shield=True):  # abort even when the request was cancelled
            await pump.settle()
            await run_in_threadpool(writer.abort)
        raise


class _Pump:
    """Receives the next block while a worker thread writes the previous one (at most one
    write in flight, so memory stays at a few blocks whatever the file size). Pieces are
    gathered in a list and joined once per block in the worker: appending 64 KB pieces to
    one growing buffer would copy every byte many times."""

    def __init__(self, writer: ArtifactWriter):
        self.writer = writer
        self.inflight: asyncio.Future | None = None

    def _join_and_write(self, pieces: list[bytes]) -> None:
        self.writer.write(pieces[0] if len(pieces) == 1 else b"".join(pieces))

    async def _write(self, pieces: list[bytes]) -> None:
        await self.settle(raise_errors=True)
        self.inflight = asyncio.ensure_future(run_in_threadpool(self._join_and_write, pieces))

    async def settle(self, raise_errors: bool = False) -> None:
        inflight, self.inflight = self.inflight, None
        if inflight is None:
            return
        if raise_errors:
            await inflight
        else:
            await asyncio.wait([inflight])

    async def run(self, chunks: AsyncIterator[bytes], inspect_head: HeadInspector | None,
                  head_bytes: int, expected_size: int | None) -> int:
        pieces: list[bytes] = []
        pending = size = received = 0
        inspecting = inspect_head is not None
        async for chunk in chunks:
            if not chunk:
                continue
            received += len(chunk)
            pieces.append(chunk)
            pending += len(chunk)
            if inspecting and pending >= head_bytes:
                pieces, pending = await _inspected(pieces, inspect_head)
                inspecting = False
            if not inspecting and pending >= FLUSH_BYTES:
                size += pending
                await self._write(pieces)
                pieces, pending = [], 0
        if inspecting:
            pieces, pending = await _inspected(pieces, inspect_head)
        if pieces:
            size += pending
            await self._write(pieces)
        await self.settle(raise_errors=True)
        if expected_size is not None and received != expected_size:
            raise MedflowError.invalid(
                f"Upload incomplete: received {received} of the {expected_size} bytes announced in "
                "Content-Length; nothing was stored. Retry the upload.")
        return size


async def _inspected(pieces: list[bytes], inspect_head: HeadInspector) -> tuple[list[bytes], int]:
    """Hand the head to the inspector; continue with its replacement when it returns one."""
    data = b"".join(pieces)
    replacement = await run_in_threadpool(inspect_head, data)
    data = data if replacement is None else bytes(replacement)
    return [data], len(data)


class StreamingMixin:
    """open_read and write_stream of the ArtifactStore protocol, from a store's open_file/open_write."""

    def open_read(self, path: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        opened = self.open_file(path)
        try:
            yield from opened.chunks
        finally:
            opened.close()

    async def write_stream(self, path: str, chunks: AsyncIterator[bytes]) -> int:
        return await write_stream(lambda: self.open_write(path), chunks)

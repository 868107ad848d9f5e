"""The worker threads that run blocking request work (database calls, file I/O).

Endpoints are synchronous (the database drivers are), so every request hops from the event
loop to a worker thread at least once. `in_worker` makes that hop with asyncio's own
executor: anyio's `to_thread.run_sync` (behind Starlette's run_in_threadpool) spends more
time per hop on backend lookups and its capacity limiter than a small log-metric request
spends in SQLite. Context variables (the request's audit record, principal, workspace)
follow the call into the thread, as they do with anyio.

Artifact streaming keeps Starlette's anyio helpers: an anyio call cannot be abandoned when
its request is cancelled, so a half-done write is always aborted after it returns.
"""
from __future__ import annotations

import asyncio
import contextvars
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

MAX_WORKERS = 40  # as anyio's default limiter: more than the database pool, so waits happen there

_pool = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="medflow-worker")


async def in_worker(fn: Callable[..., Any], *args: Any) -> Any:
    context = contextvars.copy_context()
    return await asyncio.get_running_loop().run_in_executor(_pool, functools.partial(context.run, fn, *args))

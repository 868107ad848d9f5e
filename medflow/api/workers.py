"""The worker threads that run blocking request work (database calls, file I/O).

Endpoints are synchronous (the database drivers are), so every request hops from the event
loop to a worker thread and back once. That hop is on every request's path, so it is made
as cheaply as Python allows: tasks go through one C-implemented SimpleQueue to a pool of
threads, and the result comes back with one call_soon_threadsafe. asyncio's run_in_executor
(a ThreadPoolExecutor future chained to an asyncio future) cost ~80 us of CPU per hop here,
this ~30 us; anyio's to_thread (Starlette's run_in_threadpool) costs more than either.
Context variables (the request's audit record, principal, workspace) follow the call into the
thread. A cancelled request does not stop its call: its result is dropped, as with anyio.

Artifact streaming keeps Starlette's anyio helpers: an anyio call cannot be abandoned when
its request is cancelled, so a half-done write is always aborted after it returns.
"""
from __future__ import annotations

import asyncio
import contextvars
import queue
import threading
from typing import Any, Callable

MAX_WORKERS = 40  # as anyio's default limiter: more than the database pool, so waits happen there


class _Workers:
    """Threads started on demand, up to `size`, that serve one queue of calls."""

    def __init__(self, size: int):
        self.size = size
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)  # one release per thread waiting for work
        self._started = 0
        self._lock = threading.Lock()

    def submit(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future, fn: Callable, args: tuple) -> None:
        self._calls.put((loop, future, contextvars.copy_context(), fn, args))
        if not self._idle.acquire(blocking=False):
            with self._lock:
                if self._started < self.size:
                    self._started += 1
                    threading.Thread(target=self._serve, name=f"medflow-worker-{self._started}", daemon=True).start()

    def _serve(self) -> None:
        while True:
            loop, future, context, fn, args = self._calls.get()
            try:
                result, error = context.run(fn, *args), None
            except StopIteration as exc:  # a Future cannot carry one
                result, error = None, RuntimeError(f"StopIteration from {fn!r}")
                error.__cause__ = exc
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting request
                result, error = None, exc
            try:
                loop.call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:
                pass  # the loop has closed (shutdown): nobody awaits the result
            del loop, future, context, fn, args, result, error  # hold nothing while idle
            self._idle.release()


def _settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


_workers = _Workers(MAX_WORKERS)


async def in_worker(fn: Callable[..., Any], *args: Any) -> Any:
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    _workers.submit(loop, future, fn, args)
    return await future

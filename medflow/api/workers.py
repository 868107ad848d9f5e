"""The worker threads that run blocking request work (database calls, file I/O).

Endpoints are synchronous (the database drivers are), so every request hops from the event
loop to a worker thread and back once. That hop is on every request's path, so it is made
as cheaply as Python allows: a task goes through a C-implemented SimpleQueue to one thread of
a pool, and the result comes back with one call_soon_threadsafe. asyncio's run_in_executor
(a ThreadPoolExecutor future chained to an asyncio future) cost ~80 us of CPU per hop here,
this ~30 us; anyio's to_thread (Starlette's run_in_threadpool) costs more than either.
Context variables (the request's audit record, principal, workspace) follow the call into the
thread. A cancelled request does not stop its call: its result is dropped, as with anyio.

Artifact streaming keeps Starlette's anyio helpers: an anyio call cannot be abandoned when
its request is cancelled, so a half-done write is always aborted after it returns.
"""
from __future__ import annotations

import asyncio
import collections
import contextvars
import queue
import threading
from typing import Any, Callable

MAX_WORKERS = 40  # as anyio's default limiter: more than the database pool, so waits happen there


class _Workers:
    """Threads started on demand, up to `size`. A call goes to the thread that went idle last (its
    stack and the database connection it used last are still warm): after a burst of concurrent
    clients, a sequential client keeps hitting one thread instead of cycling through all of them."""

    def __init__(self, size: int):
        self.size = size
        self._idle: list[queue.SimpleQueue] = []  # each idle thread's own inbox; the last one is the warmest
        self._backlog: collections.deque = collections.deque()  # calls waiting while every thread is busy
        self._started = 0
        self._lock = threading.Lock()

    def submit(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future, fn: Callable, args: tuple) -> None:
        call = (loop, future, contextvars.copy_context(), fn, args)
        with self._lock:
            if self._idle:
                inbox = self._idle.pop()
            elif self._started < self.size:
                self._started += 1
                inbox, number = None, self._started
            else:
                self._backlog.append(call)
                return
        if inbox is None:  # a new thread, started outside the lock
            inbox = queue.SimpleQueue()
            threading.Thread(target=self._serve, args=(inbox,), name=f"medflow-worker-{number}", daemon=True).start()
        inbox.put(call)

    def _serve(self, inbox: queue.SimpleQueue) -> None:
        call = inbox.get()
        while True:
            loop, future, context, fn, args = call
            del call  # hold nothing while idle
            try:
                result, error = context.run(fn, *args), None
            except StopIteration as exc:  # a Future cannot carry one
                result, error = None, RuntimeError(f"StopIteration from {fn!r}")
                error.__cause__ = exc
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting request
                result, error = None, exc
            # Idle again before the result is handed over, so that the caller's next call finds this thread.
            with self._lock:
                call = self._backlog.popleft() if self._backlog else None
                if call is None:
                    self._idle.append(inbox)
            try:
                loop.call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:
                pass  # the loop has closed (shutdown): nobody awaits the result
            del loop, future, context, fn, args, result, error
            if call is None:
                call = inbox.get()


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

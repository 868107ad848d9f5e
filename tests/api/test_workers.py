"""The worker pool every request hops to (medflow/api/workers.py), on a real event loop and real threads."""
from __future__ import annotations

import asyncio
import contextvars
import threading
import time

import pytest

from medflow.api.workers import MAX_WORKERS, in_worker

request_id = contextvars.ContextVar("request_id", default=None)


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_call_sees_the_requests_context_and_returns_its_result():
    async def request():
        request_id.set("r-1")
        return await in_worker(lambda x: (x, request_id.get(), threading.current_thread().name), 7)
    value, seen, thread = run(request())
    assert (value, seen) == (7, "r-1") and thread.startswith("medflow-worker")


@pytest.mark.parametrize("raised, received", [(ValueError("bad input"), ValueError), (StopIteration(), RuntimeError)])
def test_exceptions_reach_the_request(raised, received):
    def fail():
        raise raised

    async def request():
        with pytest.raises(received):
            await in_worker(fail)
        return await in_worker(lambda: "still serving")  # the thread survived
    assert run(request()) == "still serving"


def test_concurrent_calls_run_in_parallel_up_to_the_pool_size():
    running, peak, lock = 0, 0, threading.Lock()

    def work():
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.2)
        with lock:
            running -= 1
        return 1

    async def requests():
        started = time.monotonic()
        results = await asyncio.gather(*(in_worker(work) for _ in range(MAX_WORKERS + 10)))
        return sum(results), time.monotonic() - started
    total, seconds = run(requests())
    assert total == MAX_WORKERS + 10
    assert peak == MAX_WORKERS  # never more threads than the pool, and all of them used
    assert seconds < 0.2 * 5  # two waves of 0.2 s, not 50 in a row


def test_a_cancelled_request_leaves_the_worker_usable():
    finished = threading.Event()

    def slow():
        time.sleep(0.1)
        finished.set()

    async def request():
        call = asyncio.ensure_future(in_worker(slow))
        await asyncio.sleep(0.01)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        await asyncio.sleep(0.2)
        return await in_worker(lambda: "next")
    assert run(request()) == "next" and finished.is_set()


def test_after_a_burst_a_sequential_client_keeps_one_warm_thread():
    async def requests():
        await asyncio.gather(*(in_worker(time.sleep, 0.05) for _ in range(10)))  # ten threads busy at once
        return {await in_worker(lambda: threading.current_thread().name) for _ in range(20)}
    assert len(run(requests())) == 1  # the thread that went idle last, every time: not a round robin

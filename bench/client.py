"""HTTP as the official `mlflow` client speaks it (a keep-alive `requests.Session`, JSON bodies),
plus a way to run N client processes against a server at the same instant."""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import statistics
import time
import traceback
from typing import Any, Callable

import requests

API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
JSON_HEADERS = {"Content-Type": "application/json"}


class NotSupported(Exception):
    """The server does not offer what a workload needs (reported as such, not as a failure)."""


class HttpError(Exception):
    def __init__(self, method: str, path: str, status: int, body: str):
        self.status = status
        self.body = body[:300]
        super().__init__(f"{method} {path} -> HTTP {status}: {self.body}")


class Api:
    """A keep-alive session against one server."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None, timeout: float = 300.0):
        self.base = base_url
        self.s = requests.Session()
        self.s.headers.update({"User-Agent": "mlflow-python-client/3.17.2 medflow-bench"})
        self.s.headers.update(headers or {})
        self.timeout = timeout

    def close(self) -> None:
        self.s.close()

    def _check(self, method: str, path: str, r: requests.Response) -> dict:
        if r.status_code != 200:
            raise HttpError(method, path, r.status_code, r.text)
        return r.json() if r.content else {}

    def post(self, path: str, body: dict | bytes) -> dict:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        r = self.s.post(self.base + API + path, data=data, headers=JSON_HEADERS, timeout=self.timeout)
        return self._check("POST", path, r)

    def get(self, path: str, params: dict | list | None = None) -> dict:
        r = self.s.get(self.base + API + path, params=params, timeout=self.timeout)
        return self._check("GET", path, r)

    # -- the handful of calls the fills and workloads share -------------------------------------
    def experiment(self, name: str) -> str:
        try:
            return self.get("/experiments/get-by-name", {"experiment_name": name})["experiment"]["experiment_id"]
        except HttpError as exc:
            if exc.status not in (404, 400):
                raise
        return self.post("/experiments/create", {"name": name})["experiment_id"]

    def create_run(self, experiment_id: str, name: str, start_time: int | None = None) -> dict:
        body = {
            "experiment_id": experiment_id,
            "run_name": name,
            "user_id": "bench",
            "start_time": start_time or int(time.time() * 1000),
            "tags": [
                {"key": "mlflow.user", "value": "bench"},
                {"key": "mlflow.source.name", "value": "bench/run.py"},
                {"key": "mlflow.source.type", "value": "LOCAL"},
                {"key": "mlflow.runName", "value": name},
            ],
        }
        return self.post("/runs/create", body)["run"]["info"]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(q / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# -- client processes --------------------------------------------------------------------------------

def _child(fn: Callable, args: tuple, ready, go, out, deadline: float) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        prepared = fn(args, "prepare", None)
        ready.put(os.getpid())
        go.wait(timeout=max(1.0, deadline - time.monotonic()))
        result = fn(args, "run", prepared)
        out.put(("ok", result))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the driver
        try:
            ready.put(os.getpid())
        except Exception:  # noqa: BLE001
            pass
        out.put(("error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"))


def run_clients(fn: Callable, args_list: list[tuple], timeout: float) -> tuple[list[Any], float, float]:
    """Run fn(args, phase, prepared) in one forked process per args tuple.

    Each process first runs phase "prepare" (untimed: build bodies, create its run), then all are
    released at once for phase "run". Returns (results, release time, end time) with
    time.monotonic() stamps (system-wide on Linux). Raises RuntimeError if a client failed.
    """
    ctx = mp.get_context("fork")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    deadline = time.monotonic() + timeout
    procs = [ctx.Process(target=_child, args=(fn, a, ready, go, out, deadline), daemon=True) for a in args_list]
    for p in procs:
        p.start()
    try:
        for _ in procs:
            ready.get(timeout=max(1.0, deadline - time.monotonic()))
        t_go = time.monotonic()
        go.set()
        results, errors = [], []
        for _ in procs:
            status, payload = out.get(timeout=max(1.0, deadline - time.monotonic()))
            (results if status == "ok" else errors).append(payload)
        t_end = time.monotonic()
    except Exception as exc:  # queue.Empty on timeout
        raise RuntimeError(f"client processes did not finish within {timeout:.0f}s ({type(exc).__name__})") from None
    finally:
        for p in procs:
            p.join(timeout=2)
            if p.is_alive():
                p.kill()
                p.join(timeout=2)
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(procs)} clients failed; first: {errors[0]}")
    return results, t_go, t_end

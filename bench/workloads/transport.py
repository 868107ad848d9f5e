"""Keep-alive latency on a trivial endpoint: exposes the TCP_NODELAY stall of multi-worker uvicorn.

experiments/get?experiment_id=0 goes through auth, the store and (MedFlow) the read audit;
GET /health beside it is the server's bare request overhead."""
from __future__ import annotations

import ctypes
import http.client
import os
import socket
import time

import psutil
import requests

from bench.client import API, median, percentile, run_clients
from bench.workloads.base import Metric, Workload

PATH = API + "/experiments/get?experiment_id=0"


def _client(args, phase, prepared):
    base, headers, path, n_keepalive, n_fresh = args
    if phase == "prepare":
        return None
    s = requests.Session()
    s.headers.update(headers)
    statuses: dict[int, int] = {}
    keep = []
    for _ in range(n_keepalive):
        t0 = time.perf_counter()
        r = s.get(base + path, timeout=30)
        _ = r.content
        keep.append(time.perf_counter() - t0)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
    health = []
    for _ in range(n_keepalive if path != "/health" else 0):
        t0 = time.perf_counter()
        s.get(base + "/health", timeout=30).content
        health.append(time.perf_counter() - t0)
    s.close()
    fresh = []
    for _ in range(n_fresh):
        t0 = time.perf_counter()
        r = requests.get(base + path, headers={**headers, "Connection": "close"}, timeout=30)
        _ = r.content
        fresh.append(time.perf_counter() - t0)
    return keep, fresh, statuses, health


def _peer_nodelay(pid: int, fd: int) -> int:
    """TCP_NODELAY of another process's socket (pidfd_getfd, Linux >= 5.6, needs ptrace rights)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = libc.syscall(434, pid, 0)  # pidfd_open
    if pidfd < 0:
        raise OSError(ctypes.get_errno(), "pidfd_open")
    try:
        dup = libc.syscall(438, pidfd, fd, 0)  # pidfd_getfd
        if dup < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
        with socket.socket(fileno=dup) as sock:
            return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        os.close(pidfd)


def server_nodelay(server, path: str, headers: dict) -> str:
    """Whether the server's accepted keep-alive socket has TCP_NODELAY set, read from the socket itself.

    The ~40 ms keep-alive stall of multi-worker uvicorn on the asyncio loop (no TCP_NODELAY on
    accepted sockets) only shows as latency when the client delays its ACKs; this reads the cause.
    """
    conn = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]), timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        conn.getresponse().read()
        lport = conn.sock.getsockname()[1]
        for proc in server.tree():
            try:
                conns = proc.net_connections(kind="tcp")
            except psutil.Error:
                continue
            for c in conns:
                if c.raddr and c.raddr.port == lport and c.fd >= 0:
                    return "on" if _peer_nodelay(proc.pid, c.fd) else "OFF"
        return "unknown (socket not found)"
    except OSError as exc:
        return f"unknown ({exc})"
    finally:
        conn.close()


class KeepAlive(Workload):
    name = "ka"
    title = "Keep-alive latency, GET experiments/get?experiment_id=0"
    metrics = [
        Metric("keepalive_p50_ms", "keep-alive p50", "ms", False),
        Metric("keepalive_p99_ms", "keep-alive p99", "ms", False),
        Metric("fresh_p50_ms", "new connection p50", "ms", False),
        Metric("health_p50_ms", "GET /health keep-alive p50 (no auth, no store)", "ms", False),
    ]

    @property
    def reps(self) -> int:
        return max(3, self.sizes.reps)

    def setup(self, server, api, state):
        r = api.s.get(server.url + PATH, timeout=30)
        path = PATH if r.status_code == 200 else "/health"
        state["path"] = path
        return {} if r.status_code == 200 else {"endpoint": f"/health (experiments/get answered {r.status_code})"}

    def measure(self, server, api, state, rep):
        (res,), _, _ = run_clients(_client, [(server.url, server.headers, state["path"],
                                              self.sizes.keepalive_requests, self.sizes.fresh_requests)], 600)
        keep, fresh, statuses, health = res
        out = {
            "keepalive_p50_ms": median(keep) * 1000,
            "keepalive_p99_ms": percentile(keep, 99) * 1000,
            "fresh_p50_ms": median(fresh) * 1000,
        }
        if health:
            out["health_p50_ms"] = median(health) * 1000
        out["tcp_nodelay"] = server_nodelay(server, state["path"], server.headers)
        bad = {k: v for k, v in statuses.items() if k != 200}
        if bad:
            out["errors"] = f"HTTP statuses {bad}"
        return out

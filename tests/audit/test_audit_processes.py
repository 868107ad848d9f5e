"""The audit trail under real server processes: several writers, and a SIGKILL mid-stream."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests
from sqlalchemy import create_engine, text

from medflow.store.engine import normalize_url
from tests.conftest import postgres_admin
from tests.servers import sqlite_url, start_server

API = "/api/2.0/mlflow"


def verify(db_url, key):
    return subprocess.run([sys.executable, "-m", "medflow", "audit", "verify", "--backend-store-uri", db_url,
                           "--signing-key", str(key)], capture_output=True, text=True, timeout=120)


def rows(db_url, sql):
    engine = create_engine(normalize_url(db_url))
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).all()
    finally:
        engine.dispose()


def test_two_processes_eight_writers_one_valid_chain(tmp_path):
    """8 concurrent writers across 2 server processes on PostgreSQL: one chain, one event each."""
    admin = postgres_admin()
    name, db_url = admin.create_database()
    key = tmp_path / "shared-audit-key.pem"  # replicas share one checkpoint key
    env = {"MEDFLOW_AUDIT_SIGNING_KEY": str(key), "MEDFLOW_AUDIT_CHECKPOINT_INTERVAL": "1"}
    servers = []
    try:
        servers.append(start_server(tmp_path / "a", "postgresql", db_url, str(tmp_path / "art"), env))
        servers.append(start_server(tmp_path / "b", "postgresql", db_url, str(tmp_path / "art"), env))
        experiment_id = requests.post(servers[0].url + API + "/experiments/create",
                                      json={"name": "concurrency"}).json()["experiment_id"]
        acknowledged: list[str] = []
        lock = threading.Lock()

        def writer(i):
            session = requests.Session()
            base = servers[i % 2].url + API
            for j in range(25):
                r = session.post(base + "/experiments/set-experiment-tag",
                                 json={"experiment_id": experiment_id, "key": f"w{i}", "value": str(j)})
                if r.status_code == 200:
                    with lock:
                        acknowledged.append(f"w{i}")

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(acknowledged) == 200
    finally:
        for server in servers:
            server.stop()
    try:
        events = rows(db_url, "SELECT details FROM audit_events WHERE action = "
                              "'POST experiments/set-experiment-tag' AND outcome = 'success'")
        assert len(events) == len(acknowledged)
        seqs = [r.seq for r in rows(db_url, "SELECT seq FROM audit_events ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1))
        result = verify(db_url, key)
        assert result.returncode == 0, result.stderr
    finally:
        admin.drop_database(name)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sigkill_mid_stream_keeps_every_acknowledged_write_with_its_event(tmp_path, backend):
    if backend == "postgresql":
        admin = postgres_admin()
        name, db_url = admin.create_database()
    else:
        name, db_url = None, sqlite_url(tmp_path)
    key = tmp_path / "key.pem"
    server = start_server(tmp_path / "srv", backend, db_url, env={"MEDFLOW_AUDIT_SIGNING_KEY": str(key)})
    acknowledged: list[str] = []
    stop = threading.Event()

    def stream():
        session = requests.Session()
        i = 0
        while not stop.is_set():
            try:
                r = session.post(server.url + API + "/experiments/create", json={"name": f"kill-{i}"}, timeout=5)
            except requests.RequestException:
                return
            if r.status_code == 200:
                acknowledged.append(r.json()["experiment_id"])
            i += 1

    threads = [threading.Thread(target=stream) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        time.sleep(1.5)
        os.killpg(server.process.popen.pid, signal.SIGKILL)
        server.process.popen.wait(10)
        stop.set()
        for t in threads:
            t.join(10)
        assert len(acknowledged) > 10
        created = {str(r.experiment_id) for r in rows(db_url, "SELECT experiment_id FROM experiments "
                                                              "WHERE name LIKE 'kill-%'")}
        events = {r.resource_id for r in rows(db_url, "SELECT resource_id FROM audit_events WHERE action = "
                                                      "'POST experiments/create' AND outcome = 'success'")}
        assert set(acknowledged) <= created, "an acknowledged write was lost"
        assert created == events, "a change without its event, or an event without its change"
        result = verify(db_url, key)
        assert result.returncode == 0, result.stderr
    finally:
        stop.set()
        server.stop()
        if name:
            admin.drop_database(name)

"""Concurrent clients on the embedded SQLite store: no "database is locked", nothing lost.

Two server processes share one SQLite file (as two `medflow server` commands on one
machine would) and 16 client threads write to both at once with the official client.
"""
from __future__ import annotations

import threading
import time

from mlflow import MlflowClient
from mlflow.entities import Metric, Param

from tests.servers import sqlite_url, start_server

THREADS, BATCHES, POINTS = 16, 8, 200


def test_sixteen_writers_two_processes_one_sqlite_file(tmp_path):
    db_url = sqlite_url(tmp_path)
    artifacts = str(tmp_path / "artifacts")
    servers = [start_server(tmp_path / "a", "sqlite", db_url, artifacts),
               start_server(tmp_path / "b", "sqlite", db_url, artifacts)]
    try:
        setup = MlflowClient(tracking_uri=servers[0].url)
        experiment_id = setup.create_experiment("concurrent-writers")
        run_ids = [setup.create_run(experiment_id).info.run_id for _ in range(THREADS)]
        errors: list[str] = []

        def writer(i: int) -> None:
            client = MlflowClient(tracking_uri=servers[i % 2].url)
            now = int(time.time() * 1000)
            try:
                for b in range(BATCHES):
                    client.log_batch(run_ids[i], params=[Param(f"p{b}", str(b))],
                                     metrics=[Metric("loss", 1.0 / (s + 1), now, b * POINTS + s)
                                              for s in range(POINTS)])
                    client.log_metric(run_ids[i], "lr", 0.1, step=b)
                    client.set_tag(run_ids[i], f"t{b}", "ok")
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(f"writer {i}: {exc}")

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not errors, "\n".join(errors[:5])
        reader = MlflowClient(tracking_uri=servers[1].url)
        for run_id in run_ids:
            run = reader.get_run(run_id)
            assert len(run.data.params) == BATCHES and len(run.data.tags) >= BATCHES
            assert len(reader.get_metric_history(run_id, "loss")) == BATCHES * POINTS
            assert len(reader.get_metric_history(run_id, "lr")) == BATCHES
        for server in servers:
            assert "database is locked" not in server.log_tail(2000)
    finally:
        for server in servers:
            server.stop()

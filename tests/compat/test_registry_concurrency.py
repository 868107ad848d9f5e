"""Many registrations of one model at once, through two server processes on one database:
every version number is handed out exactly once (SQLite and PostgreSQL)."""
from __future__ import annotations

import threading

from mlflow import MlflowClient

from tests.conftest import postgres_admin
from tests.servers import sqlite_url, start_server

THREADS, EACH = 8, 10


def test_concurrent_registrations_get_distinct_consecutive_versions(backend, tmp_path):
    admin = postgres_admin() if backend == "postgresql" else None
    db_name, db_url = admin.create_database() if admin else (None, sqlite_url(tmp_path))
    servers = []
    try:
        for name in ("a", "b"):
            servers.append(start_server(tmp_path / name, backend, db_url, str(tmp_path / "artifacts")))
        setup = MlflowClient(tracking_uri=servers[0].url)
        run_id = setup.create_run(setup.create_experiment("icu-deterioration")).info.run_id
        setup.create_registered_model("icu-deterioration")
        numbers: list[int] = []
        errors: list[str] = []

        def register(i: int) -> None:
            client = MlflowClient(tracking_uri=servers[i % 2].url)
            try:
                for _ in range(EACH):
                    version = client.create_model_version("icu-deterioration", f"runs:/{run_id}/model", run_id)
                    numbers.append(int(version.version))
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(f"thread {i}: {exc}")

        threads = [threading.Thread(target=register, args=(i,)) for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not errors, "\n".join(errors[:3])
        assert sorted(numbers) == list(range(1, THREADS * EACH + 1))
        stored = setup.search_model_versions("name='icu-deterioration'", max_results=1000)
        assert sorted(int(v.version) for v in stored) == sorted(numbers)
        setup.delete_model_version("icu-deterioration", str(THREADS * EACH))  # numbers are never reused
        again = setup.create_model_version("icu-deterioration", f"runs:/{run_id}/model", run_id)
        assert int(again.version) == THREADS * EACH + 1
    finally:
        for server in servers:
            server.stop()
        if db_name:
            admin.drop_database(db_name)

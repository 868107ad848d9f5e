"""The artifact proxy with an S3 destination: the official 3.x client against a real server
(SQLite and PostgreSQL) whose artifacts live in moto's S3 server. Clients never see the
bucket: every byte goes through MedFlow."""
from __future__ import annotations

import os
from pathlib import Path

import mlflow
import numpy as np
import pytest
import requests
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

pytestmark = pytest.mark.timeout(600)
PREFIX = "hospital/artifacts"


@pytest.fixture(scope="module")
def s3_medflow(backend, s3_server, server_factory):
    bucket = s3_server.create_bucket("medflow-proxy")
    with server_factory(backend, "s3proxy", artifacts_destination=f"s3://{bucket}/{PREFIX}",
                        env=s3_server.server_env()) as server:
        yield server, bucket


@pytest.fixture(scope="module")
def client(s3_medflow):
    server, _ = s3_medflow
    mlflow.set_tracking_uri(server.url)
    return MlflowClient(server.url)


def bucket_keys(s3_server, bucket) -> dict[str, int]:
    pages = s3_server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX + "/")
    return {o["Key"]: o["Size"] for page in pages for o in page.get("Contents", [])}


def test_run_artifacts_round_trip(s3_medflow, s3_server, client, tmp_path):
    server, bucket = s3_medflow
    exp = client.create_experiment("s3-proxy")
    run = client.create_run(exp).info.run_id
    big = tmp_path / "signals.bin"
    big.write_bytes(os.urandom(18 * 1024 * 1024))  # above the store's multipart threshold
    client.log_artifact(run, str(big), "raw")
    client.log_text(run, "note", "notes/n.txt")
    client.log_dict(run, {"a": 1}, "cfg.json")

    assert [(f.path, f.is_dir) for f in client.list_artifacts(run)] == [
        ("cfg.json", False), ("notes", True), ("raw", True)]
    assert [(f.path, f.file_size) for f in client.list_artifacts(run, "raw")] == [
        ("raw/signals.bin", big.stat().st_size)]
    out = Path(client.download_artifacts(run, "", str(tmp_path / "dl")))
    assert (out / "raw" / "signals.bin").read_bytes() == big.read_bytes()
    assert mlflow.artifacts.load_dict(f"runs:/{run}/cfg.json") == {"a": 1}

    keys = bucket_keys(s3_server, bucket)
    assert keys[f"{PREFIX}/{exp}/{run}/artifacts/raw/signals.bin"] == big.stat().st_size
    assert f"{PREFIX}/{exp}/{run}/artifacts/notes/n.txt" in keys

    base = f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{exp}/{run}/artifacts"
    assert requests.delete(f"{base}/raw").status_code == 200
    assert requests.delete(f"{base}/cfg.json").status_code == 200
    assert [f.path for f in client.list_artifacts(run)] == ["notes"]
    assert not any("/raw/" in k or k.endswith("cfg.json") for k in bucket_keys(s3_server, bucket))
    missing = requests.get(f"{base}/raw/signals.bin")
    assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_logged_model_in_s3_loads_back(s3_medflow, s3_server, client):
    _, bucket = s3_medflow
    exp = client.create_experiment("s3-models")
    x = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.8, 0.1]])
    y = np.array([0, 1, 0, 1])
    with mlflow.start_run(experiment_id=exp):
        info = mlflow.sklearn.log_model(LogisticRegression().fit(x, y), name="clf")
    assert client.get_logged_model(info.model_id).status.to_int() == 2  # READY
    assert {f.path for f in client.list_logged_model_artifacts(info.model_id)} >= {"MLmodel", "requirements.txt"}
    assert list(mlflow.pyfunc.load_model(f"models:/{info.model_id}").predict(x)) == [0, 1, 0, 1]
    assert any(k.startswith(f"{PREFIX}/{exp}/models/{info.model_id}/artifacts/") for k in bucket_keys(s3_server, bucket))


def test_traversal_never_reaches_other_keys(s3_medflow, s3_server):
    server, bucket = s3_medflow
    s3_server.client().put_object(Bucket=bucket, Key="outside-prefix/secret.txt", Body=b"canary-secret")
    for attack in ("../outside-prefix/secret.txt", "%2E%2E%2Foutside-prefix%2Fsecret.txt",
                   "%252E%252E%252Foutside-prefix%252Fsecret.txt"):
        r = requests.get(f"{server.url}/api/2.0/mlflow-artifacts/artifacts", params={"path": attack})
        assert r.status_code == 400 and "secret" not in r.text.replace(attack, "")
    s3_server.client().head_object(Bucket=bucket, Key="outside-prefix/secret.txt")

"""Artifacts through the server into S3: the official 3.x client, a real server process with
--artifacts-destination s3://bucket/prefix, and moto's S3 server over HTTP."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
from mlflow import MlflowClient

pytestmark = pytest.mark.timeout(300)

BIG_SIZE = 20 * 1024 * 1024
PREFIX = "medflow/artifacts"


@pytest.fixture(scope="module")
def s3_medflow(s3_server, server_factory):
    bucket = s3_server.create_bucket()
    with server_factory("sqlite", "s3", artifacts_destination=f"s3://{bucket}/{PREFIX}",
                        env=s3_server.server_env()) as server:
        yield server, bucket


def test_artifacts_round_trip_through_s3(s3_medflow, s3_server, tmp_path):
    server, bucket = s3_medflow
    client = MlflowClient(tracking_uri=server.url)
    exp_id = client.create_experiment("s3-artifacts")
    run_id = client.create_run(exp_id).info.run_id

    src = tmp_path / "src"
    src.mkdir()
    big = src / "vitals.bin"
    big.write_bytes(random.Random(7).randbytes(BIG_SIZE))  # synthetic bytes
    small = src / "summary.csv"
    small.write_text("cohort,n\nadult,450\n")
    client.log_artifact(run_id, str(big), "data")
    client.log_artifact(run_id, str(small))
    client.log_text(run_id, "de-identified cohort notes\n", "notes/cohort.txt")

    assert sorted(f.path for f in client.list_artifacts(run_id)) == ["data", "notes", "summary.csv"]
    listed = {f.path: f for f in client.list_artifacts(run_id, "data")}
    assert set(listed) == {"data/vitals.bin"} and listed["data/vitals.bin"].file_size == BIG_SIZE

    dst = tmp_path / "dst"
    dst.mkdir()
    root = Path(client.download_artifacts(run_id, "", str(dst)))
    assert (root / "data" / "vitals.bin").read_bytes() == big.read_bytes()
    assert (root / "summary.csv").read_bytes() == small.read_bytes()
    assert (root / "notes" / "cohort.txt").read_text() == "de-identified cohort notes\n"
    client.set_terminated(run_id)

    # the bytes went to the bucket, under the configured prefix (stored size: at least the
    # original, whether or not the server encrypts at rest)
    s3 = s3_server.client()
    objects = {o["Key"]: o["Size"] for o in
               s3.list_objects_v2(Bucket=bucket, Prefix=PREFIX + "/").get("Contents", [])}
    for name in ("data/vitals.bin", "summary.csv", "notes/cohort.txt"):
        keys = [k for k in objects if run_id in k and k.endswith("/" + name)]
        assert len(keys) == 1, f"{name} not found once under s3://{bucket}/{PREFIX}/: {sorted(objects)}"
    big_key = next(k for k in objects if k.endswith("/data/vitals.bin"))
    assert objects[big_key] >= BIG_SIZE

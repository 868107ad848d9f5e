"""S3ArtifactStore against moto's S3 server over HTTP (tests/servers.py, fixture s3_server)."""
from __future__ import annotations

import asyncio
import hashlib

import pytest

from medflow.artifacts.s3 import PART_BYTES, S3ArtifactStore, parse_destination
from medflow.errors import MedflowError

PREFIX = "site/artifacts"


async def _chunks(data: bytes, piece: int = 256 * 1024, fail_at: int | None = None):
    for offset in range(0, len(data), piece):
        if fail_at is not None and offset >= fail_at:
            raise ConnectionResetError("client went away")
        yield data[offset:offset + piece]


@pytest.fixture(scope="module")
def bucket(s3_server):
    return s3_server.create_bucket("medflow-store")


@pytest.fixture
def store(s3_server, bucket):
    return S3ArtifactStore(f"s3://{bucket}/{PREFIX}/", client=s3_server.client(), list_page_size=2)


def upload(store, path, data, **kw) -> int:
    return asyncio.run(store.write_stream(path, _chunks(data, **kw)))


def keys(s3_server, bucket) -> set[str]:
    pages = s3_server.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def test_parse_destination():
    assert parse_destination("s3://b/some/prefix/") == ("b", "some/prefix")
    assert parse_destination("s3://b") == ("b", "")
    with pytest.raises(MedflowError):
        parse_destination("s3:///x")


def test_small_file_round_trip_and_listing(store, s3_server, bucket):
    upload(store, "1/r/artifacts/a.txt", b"hello")
    for name in ("b.txt", "c.txt", "d.txt"):
        upload(store, f"1/r/artifacts/{name}", name.encode())
    upload(store, "1/r/artifacts/sub/x.bin", b"\x00" * 3)
    upload(store, "1/r/artifacts/sub2/y.bin", b"\x01")
    assert f"{PREFIX}/1/r/artifacts/a.txt" in keys(s3_server, bucket)
    listed = [(f.path, f.is_dir, f.file_size) for f in store.list_dir("1/r/artifacts")]  # pages of 2
    assert listed == [("1/r/artifacts/a.txt", False, 5), ("1/r/artifacts/b.txt", False, 5),
                      ("1/r/artifacts/c.txt", False, 5), ("1/r/artifacts/d.txt", False, 5),
                      ("1/r/artifacts/sub", True, None), ("1/r/artifacts/sub2", True, None)]
    assert store.list_dir("1/r/artifacts/a.txt") == [] and store.list_dir("nothing") == []
    assert [f.path for f in store.list_dir("")] == ["1"]
    assert store.is_file("1/r/artifacts/a.txt") and not store.is_file("1/r/artifacts/sub")
    assert store.size("1/r/artifacts/sub/x.bin") == 3
    opened = store.open_file("1/r/artifacts/a.txt")
    assert opened.size == 5 and b"".join(opened.chunks) == b"hello"
    with pytest.raises(MedflowError) as info:
        store.open_file("1/r/artifacts/none")
    assert info.value.code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MedflowError) as info:
        store.open_file("1/r/artifacts/sub")
    assert info.value.code == "INVALID_PARAMETER_VALUE"


def test_large_file_goes_multipart(store, s3_server, bucket):
    data = hashlib.sha256(b"seed").digest() * ((2 * PART_BYTES + 12345) // 32 + 1)
    assert upload(store, "big/model.bin", data) == len(data)
    assert store.size("big/model.bin") == len(data)
    head = s3_server.client().head_object(Bucket=bucket, Key=f"{PREFIX}/big/model.bin")
    assert "-" in head["ETag"]  # a multipart ETag: the file went up in parts
    assert b"".join(store.open_read("big/model.bin")) == data


def test_broken_upload_leaves_no_object_and_no_parts(store, s3_server, bucket):
    data = b"z" * (3 * PART_BYTES)
    with pytest.raises(ConnectionResetError):
        upload(store, "broken/model.bin", data, fail_at=2 * PART_BYTES + PART_BYTES // 2)
    with pytest.raises(ConnectionResetError):
        upload(store, "broken/small.bin", b"abc" * 1000, piece=1000, fail_at=2000)
    assert not any(k.startswith(f"{PREFIX}/broken/") for k in keys(s3_server, bucket))
    uploads = s3_server.client().list_multipart_uploads(Bucket=bucket, Prefix=f"{PREFIX}/broken/")
    assert uploads.get("Uploads", []) == []


def test_delete_file_and_tree(store, s3_server, bucket):
    for i in range(5):
        upload(store, f"del/tree/f{i}.txt", b"x")
    upload(store, "del/tree/deeper/g.txt", b"y")
    upload(store, "del/keep.txt", b"k")
    upload(store, "del/treehouse.txt", b"not under del/tree/")
    store.delete("del/tree")
    store.delete("del/keep.txt")
    store.delete("del/never")
    assert sorted(k for k in keys(s3_server, bucket) if k.startswith(f"{PREFIX}/del/")) == [
        f"{PREFIX}/del/treehouse.txt"]
    with pytest.raises(MedflowError):
        store.delete("")

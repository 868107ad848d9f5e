"""LocalArtifactStore and the streaming upload path, on a real directory (no server needed)."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from medflow.artifacts.local import LocalArtifactStore
from medflow.artifacts.paths import STAGING_DIR
from medflow.errors import MedflowError
from medflow.services.artifacts import ArtifactService


async def _chunks(*parts: bytes, fail_after: int | None = None):
    for i, part in enumerate(parts):
        if fail_after is not None and i == fail_after:
            raise ConnectionResetError("client went away")
        yield part


def upload(store, path, *parts, **kw) -> int:
    return asyncio.run(store.write_stream(path, _chunks(*parts, **kw)))


@pytest.fixture
def store(tmp_path):
    return LocalArtifactStore(str(tmp_path / "root"))


def test_write_list_read_delete(store):
    assert upload(store, "1/r/artifacts/a.txt", b"hello ", b"world") == 11
    upload(store, "1/r/artifacts/sub/b.bin", b"\x00" * 10)
    assert [(f.path, f.is_dir, f.file_size) for f in store.list_dir("1/r/artifacts")] == [
        ("1/r/artifacts/a.txt", False, 11), ("1/r/artifacts/sub", True, None)]
    assert store.list_dir("1/r/artifacts/a.txt") == [] and store.list_dir("nope") == []
    assert [f.path for f in store.list_dir("")] == ["1"]  # the staging directory is hidden
    assert store.is_file("1/r/artifacts/a.txt") and not store.is_file("1/r/artifacts/sub")
    assert store.size("1/r/artifacts/a.txt") == 11 and store.size("missing") is None
    assert b"".join(store.open_read("1/r/artifacts/a.txt")) == b"hello world"
    opened = store.open_file("1/r/artifacts/sub/b.bin")
    assert opened.size == 10 and b"".join(opened.chunks) == b"\x00" * 10
    store.delete("1/r/artifacts/sub")
    store.delete("1/r/artifacts/a.txt")
    store.delete("1/r/artifacts/never-existed")
    assert store.list_dir("1/r/artifacts") == []


def test_missing_and_directory_reads(store):
    upload(store, "d/f.txt", b"x")
    with pytest.raises(MedflowError) as info:
        store.open_file("d/none.txt")
    assert info.value.code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MedflowError) as info:
        store.open_file("d")
    assert info.value.code == "INVALID_PARAMETER_VALUE"


def test_broken_upload_leaves_nothing(store):
    upload(store, "k/model.bin", b"old")
    with pytest.raises(ConnectionResetError):
        upload(store, "k/model.bin", b"new" * 1000, b"more", fail_after=1)
    with pytest.raises(ConnectionResetError):
        upload(store, "k/other.bin", b"partial", b"rest", fail_after=1)
    assert b"".join(store.open_read("k/model.bin")) == b"old"  # the old file is untouched
    assert not store.is_file("k/other.bin")
    assert list((store.root / STAGING_DIR).iterdir()) == []


def test_big_upload_is_written_in_blocks(store):
    block = bytes(range(256)) * 4096  # 1 MiB
    size = upload(store, "big/file.bin", *([block] * 9))
    assert size == 9 * len(block) == store.size("big/file.bin")


def test_upload_conflicts(store):
    upload(store, "a/file", b"x")
    with pytest.raises(MedflowError, match="a parent of it is a file"):
        upload(store, "a/file/child", b"y")
    with pytest.raises(MedflowError, match="a directory of that name exists"):
        upload(store, "a", b"y")
    assert list((store.root / STAGING_DIR).iterdir()) == []
    with pytest.raises(MedflowError):
        store.delete("")


def test_symlinks_cannot_leave_the_root(store, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (store.root / "ln").symlink_to(outside, target_is_directory=True)
    with pytest.raises(MedflowError, match="outside the artifact root"):
        store.open_file("ln/secret.txt")
    with pytest.raises(MedflowError, match="outside the artifact root"):
        store.list_dir("ln")
    with pytest.raises(MedflowError, match="outside the artifact root"):
        upload(store, "ln/evil.txt", b"x")
    with pytest.raises(MedflowError, match="outside the artifact root"):
        upload(store, "ln/new/dir/evil.txt", b"x")
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    store.delete("ln")  # removes the link, not the directory it points to
    assert (outside / "secret.txt").read_text() == "secret"


# --- the upload inspection hook (where the PHI guard plugs in) -----------------------------
def service(store) -> ArtifactService:
    return ArtifactService(SimpleNamespace(artifact_store=store, db=None))


def test_check_sees_the_head_of_text_files_and_only_the_name_of_others(store):
    svc, seen = service(store), []
    svc.add_upload_check(lambda path, head: seen.append((path, head)), head_bytes=5)
    asyncio.run(svc.upload("1/r/notes.txt", _chunks(b"abc", b"defgh")))
    asyncio.run(svc.upload("1/r/weights.bin", _chunks(b"\x00\x01\x02binary")))
    asyncio.run(svc.upload("1/r/README", _chunks(b"plain utf-8 text")))
    assert seen == [("1/r/notes.txt", b"abcde"), ("1/r/weights.bin", b""), ("1/r/README", b"plain")]
    assert b"".join(store.open_read("1/r/notes.txt")) == b"abcdefgh"


def test_check_can_reject_and_nothing_is_stored(store):
    svc = service(store)

    def guard(path, head):
        if b"MRN" in head:
            raise MedflowError.invalid("PHI detected (medical record number); nothing was stored.")

    svc.add_upload_check(guard)
    with pytest.raises(MedflowError, match="PHI detected"):
        asyncio.run(svc.upload("1/r/cohort.csv", _chunks(b"id,MRN\n", b"1,12345\n")))
    assert not store.is_file("1/r/cohort.csv")
    assert list((store.root / STAGING_DIR).iterdir()) == []


def test_check_can_replace_the_head(store):
    svc = service(store)
    svc.add_upload_check(lambda path, head: head.replace(b"Jane Doe", b"[NAME]"), head_bytes=64)
    asyncio.run(svc.upload("1/r/note.txt", _chunks(b"patient Jane Doe ", b"stable")))
    assert b"".join(store.open_read("1/r/note.txt")) == b"patient [NAME] stable"


def test_content_length_mismatch_stores_nothing(store):
    svc = service(store)
    with pytest.raises(MedflowError, match="Upload incomplete"):
        asyncio.run(svc.upload("1/r/short.bin", _chunks(b"12345"), expected_size=10))
    assert not store.is_file("1/r/short.bin")

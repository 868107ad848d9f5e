"""Artifacts in an S3-compatible bucket (AWS S3, MinIO, Ceph, ...) under `s3://bucket/prefix`.

Only the server holds bucket credentials (boto3's usual chain: environment, profile, instance
role); clients reach the bytes through the mlflow-artifacts proxy. Uploads stream as a
multipart upload in PART_BYTES parts (a small file is one PUT), completed on commit and
aborted on any failure, so an object appears whole or not at all. Downloads stream the
object body. Listings use Delimiter='/' and follow continuation tokens.
"""
from __future__ import annotations

import logging
from typing import Iterator

from medflow.artifacts import FileInfo, OpenedFile, transfer
from medflow.errors import MedflowError

log = logging.getLogger("medflow.artifacts.s3")

PART_BYTES = 8 * 1024 * 1024   # S3's minimum part size is 5 MiB (except the last part)
_DELETE_BATCH = 1000           # DeleteObjects limit


def parse_destination(destination: str) -> tuple[str, str]:
    """'s3://bucket/some/prefix/' -> ('bucket', 'some/prefix')."""
    rest = destination[len("s3://"):]
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise MedflowError.invalid(f"Invalid artifacts destination '{destination}': "
                                   "use s3://bucket or s3://bucket/prefix.")
    return bucket, prefix.strip("/")


def _is_missing(exc: Exception) -> bool:
    code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class S3ArtifactStore(transfer.StreamingMixin):
    def __init__(self, destination: str, endpoint_url: str | None = None, client=None,
                 list_page_size: int = 1000):
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix = parse_destination(destination)
        self.list_page_size = list_page_size
        self.client = client or boto3.client(
            "s3", endpoint_url=endpoint_url or None,
            config=Config(max_pool_connections=32, retries={"max_attempts": 5, "mode": "standard"}))

    def __repr__(self) -> str:
        return f"S3ArtifactStore('s3://{self.bucket}/{self.prefix}')"

    def _key(self, path: str) -> str:
        return "/".join(p for p in (self.prefix, path) if p)

    def _path(self, key: str) -> str:
        return key[len(self.prefix) + 1:] if self.prefix else key

    # --- reads ----------------------------------------------------------------------------
    def list_dir(self, path: str) -> list[FileInfo]:
        base = self._key(path)
        listing_prefix = base + "/" if base else ""
        out: list[FileInfo] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=listing_prefix, Delimiter="/",
                                       PaginationConfig={"PageSize": self.list_page_size}):
            for common in page.get("CommonPrefixes", []):
                out.append(FileInfo(self._path(common["Prefix"].rstrip("/")), True))
            for obj in page.get("Contents", []):
                if obj["Key"] == listing_prefix:  # a "directory marker" object, not a file
                    continue
                out.append(FileInfo(self._path(obj["Key"]), False, obj["Size"]))
        return sorted(out, key=lambda f: f.path)

    def size(self, path: str) -> int | None:
        if not path:
            return None
        from botocore.exceptions import ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=self._key(path))["ContentLength"]
        except ClientError as exc:
            if _is_missing(exc):
                return None
            raise

    def is_file(self, path: str) -> bool:
        return self.size(path) is not None

    def open_file(self, path: str) -> OpenedFile:
        from botocore.exceptions import ClientError

        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(path))
        except ClientError as exc:
            if not _is_missing(exc):
                raise
            if self.list_dir(path):
                raise MedflowError.invalid(
                    f"Artifact path refers to a directory, not a file: '{path}'. "
                    "List it with GET /api/2.0/mlflow-artifacts/artifacts?path=...") from None
            raise MedflowError.not_found(f"No such artifact: '{path}'") from None
        body = response["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(transfer.READ_CHUNK)
            finally:
                body.close()

        return OpenedFile(response["ContentLength"], chunks(), body.close)

    # --- writes ---------------------------------------------------------------------------
    def open_write(self, path: str) -> "_S3Writer":
        if not path:
            raise MedflowError.invalid("Cannot write to the artifact root itself: name a file.")
        return _S3Writer(self, self._key(path))

    def delete(self, path: str) -> None:
        if not path:
            raise MedflowError.invalid("Refusing to delete the whole artifact root: name a "
                                       "directory or file below it.")
        key = self._key(path)
        keys = [key] if self.size(path) is not None else []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=key + "/",
                                       PaginationConfig={"PageSize": self.list_page_size}):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = keys[start:start + _DELETE_BATCH]
            result = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
            if result.get("Errors"):
                log.error("S3 refused to delete %d object(s) under %s", len(result["Errors"]), key)
                raise MedflowError("INTERNAL_ERROR", "Some artifacts could not be deleted from the "
                                                     "object store; retry the delete.")


class _S3Writer:
    """Buffers up to one part; the multipart upload starts only once a file outgrows a part."""

    def __init__(self, store: S3ArtifactStore, key: str):
        self.client, self.bucket, self.key = store.client, store.bucket, key
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict] = []
        self.done = False

    def write(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 2 * PART_BYTES:  # keep >= one part for the final upload
            self._upload_part(bytes(self.buffer[:PART_BYTES]))
            del self.buffer[:PART_BYTES]

    def _upload_part(self, data: bytes) -> None:
        if self.upload_id is None:
            self.upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key)["UploadId"]
        number = len(self.parts) + 1
        etag = self.client.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                       PartNumber=number, Body=data)["ETag"]
        self.parts.append({"PartNumber": number, "ETag": etag})

    def commit(self) -> None:
        if self.upload_id is None:
            self.client.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self.buffer))
        else:
            self._upload_part(bytes(self.buffer))
            self.client.complete_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                                  MultipartUpload={"Parts": self.parts})
        self.buffer = bytearray()
        self.done = True

    def abort(self) -> None:
        if self.done:
            return
        self.done = True
        self.buffer = bytearray()
        if self.upload_id is not None:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
            except Exception:  # noqa: BLE001 - the bucket's lifecycle rule is the backstop
                log.warning("could not abort multipart upload of %s; its parts stay until the "
                            "bucket's abort-incomplete-multipart-upload rule removes them", self.key)

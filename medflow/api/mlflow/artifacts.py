"""mlflow-artifacts/* (the artifact proxy) and the run-scoped artifacts/list endpoint.

Downloads and uploads take the raw Starlette request and stream: no artifact is ever held in
memory whole, and blocking store I/O runs in the thread pool (artifacts/transfer.py).
"""
from __future__ import annotations

import posixpath
import urllib.parse

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import StreamingResponse

from medflow.api.endpoint import Endpoint, json_response
from medflow.artifacts import OpenedFile, paths
from medflow.services.artifacts import file_json, media_type
from medflow.errors import NOT_IMPLEMENTED, MedflowError
from medflow.services.validation import check_run_id

P = "/2.0/mlflow-artifacts"
# MLflow's exact text: the client falls back to a plain PUT when a message starts with it
# (mlflow/exceptions.py, _UnsupportedMultipartUploadException.MESSAGE).
MULTIPART_UNSUPPORTED = "Multipart upload is not supported for the current artifact repository"


def list_artifacts(services, req):
    """GET /mlflow-artifacts/artifacts?path= — children of a directory, named relative to it."""
    files = services.artifacts.list(req.str("path"))
    return {"files": [file_json(f, posixpath.basename(f.path)) for f in files]} if files else {}


def content_disposition(path: str) -> str:
    name = posixpath.basename(path) or "artifact"
    ascii_name = name.encode("ascii", "replace").decode().replace("\\", "_").replace('"', "_")
    value = f'attachment; filename="{ascii_name}"'
    if ascii_name != name:
        value += f"; filename*=UTF-8''{urllib.parse.quote(name, safe='')}"
    return value


async def download_artifact(services, request: Request):
    """GET /mlflow-artifacts/artifacts/{artifact_path} — the file's bytes, streamed."""
    path, opened = await run_in_threadpool(services.artifacts.open_download,
                                           request.path_params["artifact_path"])
    return file_response(path, opened)


def file_response(path: str, opened: OpenedFile) -> StreamingResponse:
    async def body():
        try:
            async for block in iterate_in_threadpool(opened.chunks):
                yield block
        finally:
            opened.close()

    # Always an attachment, and only text/plain or octet-stream: a stored .html or .svg is
    # never rendered in a browser on the server's origin.
    return StreamingResponse(body(), media_type=media_type(path), headers={
        "Content-Length": str(opened.size), "Content-Disposition": content_disposition(path),
        "X-Content-Type-Options": "nosniff"})


async def upload_artifact(services, request: Request):
    """PUT /mlflow-artifacts/artifacts/{artifact_path} — the raw body, streamed to the store."""
    declared = request.headers.get("content-length")
    expected = int(declared) if declared and declared.isdigit() else None
    await services.artifacts.upload(request.path_params["artifact_path"], request.stream(),
                                    expected_size=expected)
    return json_response({})


def delete_artifact(services, req):
    """DELETE /mlflow-artifacts/artifacts/{artifact_path} — a file or a whole directory."""
    services.artifacts.delete(req.path_params.get("artifact_path"))
    return {}


def multipart_unsupported(services, req):
    """POST /mlflow-artifacts/mpu/{create|complete|abort}/{artifact_path}, GET presigned/...

    See ArtifactService.multipart_supported for why MedFlow keeps every byte on the
    proxied PUT/GET path. 501 (not 500): the client must fall back, not retry."""
    paths.store_path(req.path_params.get("artifact_path"))  # a bad path is still a bad path
    raise MedflowError(NOT_IMPLEMENTED, f"{MULTIPART_UNSUPPORTED}: MedFlow proxies every artifact byte "
                                        "(no presigned bucket URLs); upload with a single PUT.")


def list_run_artifacts(services, req):
    """GET /mlflow/artifacts/list?run_id=&path= — a run's artifacts, paths relative to its root."""
    run_id = check_run_id(req.str("run_id") or req.str("run_uuid"))
    root_uri, files = services.artifacts.list_for_run(run_id, req.str("path"))
    out = {"root_uri": root_uri}
    if files:
        out["files"] = files
    return out


ROUTES = [
    Endpoint("GET", f"{P}/artifacts", list_artifacts),
    Endpoint("GET", f"{P}/artifacts/{{artifact_path:path}}", download_artifact, raw=True),
    Endpoint("PUT", f"{P}/artifacts/{{artifact_path:path}}", upload_artifact, raw=True),
    Endpoint("DELETE", f"{P}/artifacts/{{artifact_path:path}}", delete_artifact),
    Endpoint("POST", f"{P}/mpu/create/{{artifact_path:path}}", multipart_unsupported),
    Endpoint("POST", f"{P}/mpu/complete/{{artifact_path:path}}", multipart_unsupported),
    Endpoint("POST", f"{P}/mpu/abort/{{artifact_path:path}}", multipart_unsupported),
    Endpoint("GET", f"{P}/presigned/{{artifact_path:path}}", multipart_unsupported),
    Endpoint("GET", "/2.0/mlflow/artifacts/list", list_run_artifacts),
]

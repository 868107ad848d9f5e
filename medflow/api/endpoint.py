"""The one place that turns endpoint results and errors into HTTP responses.

Endpoint functions are plain synchronous functions `fn(services, request) -> dict`; they
run in the thread pool (the database drivers are synchronous). A MedflowError becomes
MLflow's error body; any other exception becomes INTERNAL_ERROR with a request id — its
text is logged, never sent (it could contain a patient identifier).
"""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from medflow.api.request import ApiRequest
from medflow.errors import INTERNAL_ERROR, MedflowError

log = logging.getLogger("medflow.api")

EndpointFn = Callable[[Any, ApiRequest], Any]


def json_response(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
    return Response(body, status_code=status, media_type="application/json")


def error_response(exc: BaseException) -> Response:
    if isinstance(exc, MedflowError):
        return json_response(exc.to_json(), exc.http_status)
    request_id = uuid.uuid4().hex[:12]
    log.error("internal error (request id %s)", request_id, exc_info=exc)
    return json_response({"error_code": INTERNAL_ERROR,
                          "message": f"Internal error; the server log has details under request id "
                                     f"{request_id}."}, 500)


@dataclass(frozen=True)
class Endpoint:
    """One route: HTTP method, path (Starlette syntax) and the function serving it."""
    method: str
    path: str
    fn: EndpointFn
    raw: bool = False  # raw endpoints take the Starlette Request (artifact streaming)

    def asgi_handler(self):
        fn, raw = self.fn, self.raw

        async def handler(request: Request) -> Response:
            services = request.app.state.services
            try:
                if raw:
                    result = await fn(services, request)
                else:
                    api_request = await ApiRequest.from_http(request, services.settings.max_request_bytes)
                    result = await run_in_threadpool(fn, services, api_request)
                return result if isinstance(result, Response) else json_response(result)
            except Exception as exc:  # noqa: BLE001 - the single error boundary
                return error_response(exc)

        handler.__name__ = fn.__name__
        return handler

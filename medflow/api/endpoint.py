"""The one place that turns endpoint results and errors into HTTP responses.

Endpoint functions are plain synchronous functions `fn(services, request) -> dict`; they
run in the thread pool (the database drivers are synchronous). A MedflowError becomes
MLflow's error body; any other exception becomes INTERNAL_ERROR with a request id — its
text is logged, never sent (it could contain a patient identifier). Every request gets an
audit event (see medflow/audit/trail.py).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response

from medflow.api.request import ApiRequest, read_body
from medflow.api.workers import in_worker
from medflow.audit.context import RequestAudit, request_scope
from medflow.auth import confirmation
from medflow.auth.middleware import PENDING_KEY, AuthenticationRefused
from medflow.auth.middleware import SCOPE_KEY as PRINCIPAL_SCOPE_KEY
from medflow.errors import INTERNAL_ERROR, PERMISSION_DENIED, UNAUTHENTICATED, MedflowError

log = logging.getLogger("medflow.api")

EndpointFn = Callable[[Any, ApiRequest], Any]


_JSON = json.JSONEncoder(separators=(",", ":"), allow_nan=False)  # built once: json.dumps builds one per call


def json_response(payload: Any, status: int = 200) -> Response:
    body = _JSON.encode(payload).encode()
    return Response(body, status_code=status, media_type="application/json")


def error_response(exc: BaseException, request_id: str) -> Response:
    if isinstance(exc, MedflowError):
        return json_response(exc.to_json(), exc.http_status)
    log.error("internal error (request id %s)", request_id, exc_info=exc)
    return json_response({"error_code": INTERNAL_ERROR,
                          "message": f"Internal error; the server log has details under request id "
                                     f"{request_id}."}, 500)


def _action_name(method: str, path: str) -> str:
    """`POST /2.0/mlflow/runs/log-batch` -> `POST runs/log-batch` (what auditors read)."""
    tail = path.split("/{", 1)[0]
    for prefix in ("/2.0/mlflow/", "/3.0/mlflow/", "/2.0/"):
        if tail.startswith(prefix):
            tail = tail[len(prefix):]
            break
    return f"{method} {tail.strip('/')}"


# Request fields that name the resource an event is about, most specific first.
_RESOURCE_FIELDS = (("run_id", "run"), ("run_uuid", "run"), ("model_id", "logged_model"),
                    ("experiment_id", "experiment"))


def describe_resource(audit: RequestAudit, fields: dict, path_params: dict, path: str) -> None:
    def first(value):
        return value[0] if isinstance(value, list) and value else value

    if "artifact_path" in path_params:
        audit.resource_type, audit.resource_id = "artifact", path_params["artifact_path"]
        return
    if "model_id" in path_params:
        audit.resource_type, audit.resource_id = "logged_model", path_params["model_id"]
        return
    if "/registered-models/" in path or "/model-versions/" in path:
        name, version = first(fields.get("name")), first(fields.get("version"))
        if isinstance(name, str):
            if version is not None and "/model-versions/" in path:
                audit.resource_type, audit.resource_id = "model_version", f"{name}/{version}"
            else:
                audit.resource_type, audit.resource_id = "registered_model", name
            return
    for field_name, resource_type in _RESOURCE_FIELDS:
        value = first(fields.get(field_name))
        if isinstance(value, (str, int)) and value != "":
            audit.resource_type, audit.resource_id = resource_type, str(value)
            return
    if path.endswith("/search") or path.endswith("/list"):
        audit.resource_type = path.rsplit("/", 2)[-2]


def _start(services, audit: RequestAudit, principal, workspace_header: str | None) -> None:
    """Who the request is from, in its audit event and in the access checks."""
    if principal is not None:
        audit.actor, audit.actor_id, audit.auth_method = (principal.username, principal.account_id,
                                                          principal.auth_method)
        if principal.break_glass:
            audit.details["break_glass"] = True  # emergency access: flagged for review
    services.access.begin(principal, workspace_header)


def _call(services, request: Request, body: bytes, audit: RequestAudit, method: str, path: str, fn: EndpointFn):
    """An API call in one worker call: credentials (when left to it), request, access check, the
    endpoint, and the response body, encoded here: a 1,000-run search page would hold the event loop."""
    pending = request.scope.get(PENDING_KEY)
    if pending is None:
        return _serve(services, request, body, audit, path, method, fn, request.scope.get(PRINCIPAL_SCOPE_KEY))
    principal = pending.principal(recently_verified=method != "GET")
    claim = confirmation.current()
    if claim is None:
        return _serve(services, request, body, audit, path, method, fn, principal)
    # A recently verified principal (medflow/auth/confirmation.py): nothing leaves before it is confirmed.
    try:
        response, error = _serve(services, request, body, audit, path, method, fn, principal), None
    except Exception as exc:  # noqa: BLE001 - answered below once the credentials are confirmed
        response, error = None, exc
    if not claim.confirmed:
        principal = pending.reauthenticate()  # refuses (401) if the credentials no longer work
        if claim.failed or not claim.matches(principal):
            # The account or the access rules changed since the credentials were verified, and
            # nothing this request did was committed: serve it again as the principal it is now.
            audit.restart()
            return _serve(services, request, body, audit, path, method, fn, principal)
    if error is not None:
        raise error
    pending.confirmed(claim)  # its own grant moved the generation: the next write is confirmed at it
    return response


def _serve(services, request: Request, body: bytes, audit: RequestAudit, path: str, method: str, fn: EndpointFn,
           principal) -> Response:
    _start(services, audit, principal, request.headers.get("x-mlflow-workspace"))
    api_request = ApiRequest.from_body(request, body)
    describe_resource(audit, api_request.fields, api_request.path_params, path)
    services.access.authorize(method, path, api_request.fields, api_request.path_params)
    result = fn(services, api_request)
    return result if isinstance(result, Response) else json_response(result)


@dataclass(frozen=True)
class Endpoint:
    """One route: HTTP method, path (Starlette syntax) and the function serving it."""
    method: str
    path: str
    fn: EndpointFn
    raw: bool = False      # raw endpoints take the Starlette Request (artifact streaming)
    audited: bool = True   # health probes are not audited

    @property
    def action(self) -> str:
        return _action_name(self.method, self.path)

    def asgi_handler(self):
        fn, raw, audited, action, path, method = (self.fn, self.raw, self.audited, self.action, self.path,
                                                  self.method)

        async def handler(request: Request) -> Response:
            services = request.app.state.services
            trail = services.audit_trail if audited else None
            audit = RequestAudit(action=action, client_addr=request.client.host if request.client else "")
            outcome, error_code = "success", None
            with request_scope(audit):
                try:
                    if raw:
                        _start(services, audit, request.scope.get(PRINCIPAL_SCOPE_KEY),
                               request.headers.get("x-mlflow-workspace"))
                        fields = dict(request.query_params)
                        describe_resource(audit, fields, dict(request.path_params), path)
                        await in_worker(services.access.authorize, method, path, fields, dict(request.path_params))
                        result = await fn(services, request)
                        response = result if isinstance(result, Response) else json_response(result)
                    else:
                        body = await read_body(request, services.settings.max_request_bytes)
                        response = await in_worker(_call, services, request, body, audit, method, path, fn)
                except AuthenticationRefused as refused:
                    return refused.response()  # audited as a refusal, as the middleware does
                except Exception as exc:  # noqa: BLE001 - the single error boundary
                    code = exc.code if isinstance(exc, MedflowError) else INTERNAL_ERROR
                    outcome = "denied" if code in (PERMISSION_DENIED, UNAUTHENTICATED) else "error"
                    error_code = code
                    response = error_response(exc, audit.request_id)
            if trail is not None:
                trail.finish(audit, outcome=outcome, error_code=error_code)
            response.raw_headers.append((b"x-request-id", audit.request_id.encode()))
            return response

        handler.defers_authentication = not raw  # see medflow/api/dispatch.py
        handler.__name__ = fn.__name__
        return handler

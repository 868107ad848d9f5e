"""Reading MLflow request fields: JSON bodies for POST/PATCH/DELETE, query strings for GET.

Every accessor validates type and presence and raises INVALID_PARAMETER_VALUE with the
field name, so endpoint code reads like the protobuf definition it implements.
"""
from __future__ import annotations

import json
from typing import Any

from starlette.requests import ClientDisconnect, Request

from medflow.errors import BAD_REQUEST, MedflowError
from medflow.services.numbers import parse_double, parse_int64, type_error as _type_error

_JSON_TYPES = ("application/json",)


class ApiRequest:
    """The fields of one API call, whatever the HTTP method carried them in."""

    def __init__(self, fields: dict[str, Any], *, from_query: bool = False,
                 path_params: dict[str, str] | None = None, client_addr: str = "",
                 headers: dict[str, str] | None = None):
        self.fields = fields
        self.from_query = from_query  # query values are strings and may repeat
        self.path_params = path_params or {}
        self.client_addr = client_addr
        self.headers = headers or {}

    # --- construction -------------------------------------------------------------------
    @classmethod
    def from_body(cls, request: Request, body: bytes) -> "ApiRequest":
        """Parse a request whose body `read_body` has read (synchronous: runs in the worker thread)."""
        path_params = dict(request.path_params)
        _refuse_nul(path_params.values())
        common = {"path_params": path_params,
                  "client_addr": request.client.host if request.client else "",
                  "headers": {k.lower(): v for k, v in request.headers.items()}}
        if request.method == "GET":
            fields: dict[str, Any] = {}
            for key, value in request.query_params.multi_items():
                fields.setdefault(key, []).append(value)
            _refuse_nul(fields)
            _refuse_nul(v for values in fields.values() for v in values)
            return cls(fields, from_query=True, **common)
        if not body.strip():
            return cls({}, **common)
        content_type = request.headers.get("content-type", "")
        if not content_type:
            raise MedflowError.invalid("Bad Request. Content-Type header is missing; "
                                       "send Content-Type: application/json.")
        if content_type.split(";")[0].strip().lower() not in _JSON_TYPES:
            raise MedflowError.invalid(f"Bad Request. Content-Type must be one of {list(_JSON_TYPES)}.")
        return cls(parse_json_body(body), **common)

    # --- accessors ----------------------------------------------------------------------
    def has(self, name: str) -> bool:
        return self.fields.get(name) not in (None, [], "")

    def raw(self, name: str) -> Any:
        value = self.fields.get(name)
        if self.from_query and isinstance(value, list):
            return value[0] if value else None
        return value

    def str(self, name: str, *, required: bool = False, default: str | None = None) -> str | None:
        value = self.raw(name)
        if value is None or value == "":
            if required:
                raise MedflowError.missing(name)
            return default
        if not isinstance(value, str):
            raise _type_error(name, value, "a string")
        return value

    def int64(self, name: str, *, required: bool = False, default: int | None = None) -> int | None:
        return parse_int64(name, self.raw(name), required=required, default=default)

    def double(self, name: str, *, required: bool = False) -> float | None:
        value = self.raw(name)
        if value is None:
            if required:
                raise MedflowError.missing(name)
            return None
        return parse_double(name, value)

    def bool(self, name: str, *, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _type_error(name, value, "true or false")

    def list(self, name: str) -> list:
        value = self.fields.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise _type_error(name, value, "a list")
        return value

    def str_list(self, name: str) -> list[str]:
        values = self.list(name)
        for value in values:
            if not isinstance(value, str):
                raise _type_error(name, value, "a list of strings")
        return values

    def obj_list(self, name: str) -> list[dict]:
        values = self.list(name)
        for value in values:
            if not isinstance(value, dict):
                raise _type_error(name, value, "a list of objects")
        return values


def parse_json_body(body: bytes) -> dict:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MedflowError(BAD_REQUEST, "Request body is not valid UTF-8; send UTF-8 encoded JSON.") from None
    try:
        parsed = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise MedflowError(BAD_REQUEST, f"Request body is not valid JSON{where}; send a JSON object.") from None
    if not isinstance(parsed, dict):
        raise MedflowError(BAD_REQUEST, "Request body must be a JSON object.")
    # Cheap tests first: only these escapes put a NUL or a lone UTF-16 surrogate into a string.
    if "\\u0000" in text or "\\ud" in text or "\\uD" in text:
        _refuse_unstorable_in(parsed)
    return parsed


NUL_REFUSED = ("The request contains a NUL character (\\u0000), which no MedFlow field can hold "
               "(PostgreSQL text cannot store it): remove it and send the request again.")
SURROGATE_REFUSED = ("The request contains an unpaired UTF-16 surrogate escape (\\ud800-\\udfff), which is not "
                     "a character: send text as valid Unicode (an emoji is a surrogate pair).")


def _refuse_nul(texts) -> None:
    if any("\x00" in text for text in texts):
        raise MedflowError.invalid(NUL_REFUSED)


def _refuse_unstorable_in(document) -> None:
    """Refuse a NUL or a lone surrogate anywhere in a parsed JSON document, keys included (a stack: any depth)."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value)
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            _refuse_nul((value,))
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise MedflowError.invalid(SURROGATE_REFUSED) from None


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The body of a call (GET fields are in the query string: none), refused above `max_bytes`.
    Read from the ASGI messages directly: Starlette's stream() generator costs more than the read."""
    if request.method == "GET":
        return b""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise MedflowError.invalid(_too_large(max_bytes))
    receive, chunks, size = request.receive, [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            raise MedflowError.invalid(_too_large(max_bytes))
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(max_bytes: int) -> str:
    return (f"Request body exceeds {max_bytes} bytes; split the request "
            "(e.g. several log-batch calls) or raise MEDFLOW_MAX_REQUEST_BYTES.")

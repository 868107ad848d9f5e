"""The one exception type MedFlow raises, with MLflow's error codes and HTTP statuses.

Statuses mirror MLflow's own table (mlflow/exceptions.py) so the official client reacts
exactly as it does against MLflow: RESOURCE_ALREADY_EXISTS is 400, not 409.
"""
from __future__ import annotations

INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
PERMISSION_DENIED = "PERMISSION_DENIED"
UNAUTHENTICATED = "UNAUTHENTICATED"
BAD_REQUEST = "BAD_REQUEST"
INVALID_STATE = "INVALID_STATE"
INTERNAL_ERROR = "INTERNAL_ERROR"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
REQUEST_LIMIT_EXCEEDED = "REQUEST_LIMIT_EXCEEDED"
TEMPORARILY_UNAVAILABLE = "TEMPORARILY_UNAVAILABLE"
NOT_IMPLEMENTED = "NOT_IMPLEMENTED"

HTTP_STATUS = {
    INVALID_PARAMETER_VALUE: 400,
    BAD_REQUEST: 400,
    RESOURCE_ALREADY_EXISTS: 400,
    RESOURCE_DOES_NOT_EXIST: 404,
    ENDPOINT_NOT_FOUND: 404,
    PERMISSION_DENIED: 403,
    UNAUTHENTICATED: 401,
    REQUEST_LIMIT_EXCEEDED: 429,
    INVALID_STATE: 500,
    INTERNAL_ERROR: 500,
    TEMPORARILY_UNAVAILABLE: 503,
    NOT_IMPLEMENTED: 501,  # not retried by the client, unlike 500
}


class MedflowError(Exception):
    """An error a client can act on: an MLflow error code plus a message that says what to do."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)

    def to_json(self) -> dict:
        return {"error_code": self.code, "message": self.message}

    @classmethod
    def invalid(cls, message: str) -> "MedflowError":
        return cls(INVALID_PARAMETER_VALUE, message)

    @classmethod
    def not_found(cls, message: str) -> "MedflowError":
        return cls(RESOURCE_DOES_NOT_EXIST, message)

    @classmethod
    def already_exists(cls, message: str) -> "MedflowError":
        return cls(RESOURCE_ALREADY_EXISTS, message)

    @classmethod
    def missing(cls, field: str) -> "MedflowError":
        return cls(INVALID_PARAMETER_VALUE,
                   f"Missing value for required parameter '{field}'. "
                   "See the API docs for more information about request parameters.")

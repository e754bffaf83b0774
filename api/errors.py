"""One error shape for every error: {status, code, message, details}.

The table maps our store errors, Litestar's HTTP exceptions and Temporal faults to it.
Validation details always name the field. Unexpected errors are logged and answered 500
without internals.
"""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from sqlalchemy.exc import DataError
from sqlalchemy import exc as sa_exc
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError, RPCStatusCode

from contracts import errors
from store.errors import Conflict, Invalid, NotFound, StoreError

log = logging.getLogger("postflow.api")

_CODE_BY_STATUS = {
    400: errors.BAD_REQUEST,
    401: errors.UNAUTHORIZED,
    403: errors.FORBIDDEN,
    404: errors.NOT_FOUND,
    405: "method_not_allowed",
    409: errors.CONFLICT,
    413: errors.PAYLOAD_TOO_LARGE,
    415: "unsupported_media_type",
    422: errors.VALIDATION_ERROR,
    429: "rate_limited",
    503: errors.UNAVAILABLE,
}


class ApiError(HTTPException):
    """An error raised by our handlers with an explicit machine-readable code."""

    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(status_code=status, detail=message)
        self.code = code
        self.details = details or []


def error_response(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> Response[dict[str, Any]]:
    return Response(
        {"status": status, "code": code, "message": message, "details": details or []},
        status_code=status,
    )


def _field_of(key: str | None) -> str | None:
    return key or None


def _is_nul_in_text(exc: Exception) -> bool:
    """psycopg refuses a NUL character in a text parameter (PostgreSQL cannot store one): the
    value came from the request (an id in the path, a query filter, a name in the body)."""
    return isinstance(exc, DataError) and "NUL (0x00)" in str(exc.orig)


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if isinstance(exc, ApiError):
        return error_response(exc.status_code, exc.code, exc.detail, exc.details)
    if isinstance(exc, ValidationException):
        details = [
            {"field": _field_of(e.get("key")), "message": e.get("message"), "source": e.get("source")}
            for e in (exc.extra if isinstance(exc.extra, list) else [])
            if isinstance(e, dict)
        ]
        return error_response(400, errors.VALIDATION_ERROR, "request validation failed", details)
    if isinstance(exc, HTTPException):
        code = _CODE_BY_STATUS.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, exc.detail)
    if isinstance(exc, StoreError):
        status = {NotFound: 404, Conflict: 409, Invalid: 422}.get(type(exc), 400)
        details = [{"field": exc.field, "message": exc.message}] if exc.field else []
        return error_response(status, exc.code, exc.message, details)
    if _is_nul_in_text(exc):
        return error_response(
            400, errors.VALIDATION_ERROR, "text values cannot contain NUL (0x00) characters"
        )
    if isinstance(exc, RPCError) and exc.status in (
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
    ):
        return error_response(503, errors.UNAVAILABLE, "workflow engine unavailable, retry later")
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        return error_response(503, errors.UNAVAILABLE, "the database is unavailable, retry later")
    if isinstance(exc, WorkflowUpdateRPCTimeoutOrCancelledError):
        return error_response(503, errors.UNAVAILABLE, "the workflow did not answer in time, retry")
    if isinstance(exc, TimeoutError | ConnectionError | OSError):
        log.warning("dependency unavailable on %s %s: %s", request.method, request.url.path, exc)
        return error_response(503, errors.UNAVAILABLE, "a dependency is unavailable, retry later")
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, errors.INTERNAL, "internal error")

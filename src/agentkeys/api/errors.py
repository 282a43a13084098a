"""The one place where domain errors become HTTP: status codes and the error envelope."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from agentkeys.api.context import request_id_of
from agentkeys.db.outages import is_database_unavailable
from agentkeys.errors import (
    MAX_ECHO_CHARACTERS,
    DomainError,
    ErrorCode,
    FieldError,
    ValidationFailed,
    echo,
)
from agentkeys.redaction import redact
from agentkeys.validation import DescribedModel

logger = logging.getLogger(__name__)

TRANSPORT_RECOVERY = "Send a JSON body (Content-Type: application/json) within the size limit."

STATUS_BY_CODE: dict[ErrorCode, int] = {
    ErrorCode.AUTH_MISSING_API_KEY: 401,
    ErrorCode.AUTH_INVALID_API_KEY: 401,
    ErrorCode.AUTH_EXPIRED_CREDENTIAL: 401,
    ErrorCode.AUTH_REVOKED_CREDENTIAL: 401,
    ErrorCode.AUTH_INSUFFICIENT_SCOPE: 403,
    ErrorCode.VALIDATION_FAILED: 400,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.PRODUCTION_ACCESS_DENIED: 403,
    ErrorCode.CONFLICT: 409,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.INTERNAL_ERROR: 500,
}


class FieldErrorDto(DescribedModel):
    field: str = Field(description="JSON path of the failing value, e.g. requested_scopes[0].")
    message: str
    """What is wrong with the value."""


class ApiErrorEnvelopeDto(DescribedModel):
    """Every error answer has this shape."""

    request_id: str
    """This HTTP request's id (also the X-Request-Id header): quote it in feedback."""
    error_code: ErrorCode
    """A stable code saying what went wrong."""
    message: str
    """What went wrong, in plain words."""
    recovery_action: str | None = None
    """What to do to succeed."""
    field_errors: list[FieldErrorDto] | None = None
    """VALIDATION_FAILED: one entry per failing field."""
    retry_after_seconds: int | None = Field(default=None, gt=0)
    """RATE_LIMITED, SERVICE_UNAVAILABLE: seconds to wait before retrying (also Retry-After)."""


# Backstops for whatever a message quotes, wherever it was written: no answer repeats a client's
# input at length. Single values are cut shorter where they are quoted (``errors.echo``).
MAX_MESSAGE_CHARACTERS = 1_000
MAX_FIELD_PATH_CHARACTERS = 200


def error_response(
    request_id: str,
    *,
    status: int,
    code: ErrorCode,
    message: str,
    recovery_action: str | None = None,
    field_errors: Sequence[FieldError] | None = None,
    retry_after_seconds: int | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    # Messages may quote a path, an id or a field name the client sent: a key sent there is
    # never echoed, and nothing is echoed at length (redacted first, so no cut can reveal a key).
    envelope: dict[str, Any] = {
        "request_id": request_id,
        "error_code": code,
        "message": _bounded(message, MAX_MESSAGE_CHARACTERS),
    }
    all_headers = {"X-Request-Id": request_id, **(headers or {})}
    if recovery_action is not None:
        envelope["recovery_action"] = _bounded(recovery_action, MAX_MESSAGE_CHARACTERS)
    if field_errors is not None:
        envelope["field_errors"] = [
            {
                "field": _bounded(e.field, MAX_FIELD_PATH_CHARACTERS),
                "message": _bounded(e.message, MAX_MESSAGE_CHARACTERS),
            }
            for e in field_errors
        ]
    if retry_after_seconds is not None:
        envelope["retry_after_seconds"] = retry_after_seconds
        all_headers["Retry-After"] = str(retry_after_seconds)
    return JSONResponse(envelope, status_code=status, headers=all_headers)


# A run without a space longer than any word of ours is a value a client sent (an id, a path, a
# field name), wherever and however a message quotes it.
_LONG_WORD = re.compile(rf"\S{{{MAX_ECHO_CHARACTERS + 1},}}")


def _bounded(text: str, limit: int) -> str:
    words_cut = _LONG_WORD.sub(lambda match: echo(match[0]), redact(text))
    return echo(words_cut, limit)


def json_path(location: Sequence[int | str]) -> str:
    """``("body", "requested_scopes", 0)`` → ``requested_scopes[0]``; the body itself → ``body``;
    ``("query", "limit")`` → ``limit``."""
    parts = list(location)
    # A query, path or header parameter is named by itself (``limit``), a body field by its path.
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


MAX_FIELD_ERRORS = 100


def field_errors_from(errors: Sequence[Any]) -> list[FieldError]:
    """One entry per failing field, in the order pydantic found them (at most 100 listed)."""
    by_field: dict[str, FieldError] = {}
    for error in errors:
        location = error.get("loc", ())
        if error.get("type") == "json_invalid":
            location = ("body",)
        field = json_path(location)
        message = "Malformed JSON" if error.get("type") == "json_invalid" else str(error.get("msg"))
        if error.get("type") == "missing" and field == "body":
            message = "A JSON object body is required"
        by_field.setdefault(field, FieldError(field, message))
    listed = list(by_field.values())
    if len(listed) > MAX_FIELD_ERRORS:
        hidden = len(listed) - MAX_FIELD_ERRORS + 1
        listed = [
            *listed[: MAX_FIELD_ERRORS - 1],
            FieldError("body", f"{hidden} more invalid fields"),
        ]
    return listed


def validation_failed(request_id: str, field_errors: list[FieldError]) -> JSONResponse:
    failed = ValidationFailed(field_errors)
    return error_response(
        request_id,
        status=400,
        code=failed.code,
        message=failed.message,
        recovery_action=failed.recovery_action,
        field_errors=field_errors,
    )


async def _domain_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)  # noqa: S101 - registered for DomainError only
    return error_response(
        request_id_of(request),
        status=STATUS_BY_CODE[error.code],
        code=error.code,
        message=error.message,
        recovery_action=error.recovery_action,
        field_errors=error.field_errors if isinstance(error, ValidationFailed) else None,
        retry_after_seconds=error.retry_after_seconds,
    )


async def _request_validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)  # noqa: S101 - registered for it only
    return validation_failed(request_id_of(request), field_errors_from(error.errors()))


async def _http_exception(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)  # noqa: S101 - registered for it only
    request_id = request_id_of(request)
    status = error.status_code
    method = echo(requested_method(request))
    path = echo(request.url.path)
    if status == 405:
        return error_response(
            request_id,
            status=405,
            code=ErrorCode.METHOD_NOT_ALLOWED,
            message=f"Method {method} is not allowed on {path}.",
            recovery_action="Use one of the methods in the Allow header.",
            headers=_with_head(_allow_every_method(request, dict(error.headers or {}))),
        )
    if status == 404:
        return error_response(
            request_id,
            status=404,
            code=ErrorCode.NOT_FOUND,
            message=f"No route {method} {path}.",
            recovery_action="See /docs for the routes this API offers.",
        )
    if status in {413, 415}:
        return error_response(
            request_id,
            status=status,
            code=ErrorCode.VALIDATION_FAILED,
            message=str(error.detail),
            recovery_action=TRANSPORT_RECOVERY,
        )
    if status == 400:
        return validation_failed(request_id, [FieldError("body", str(error.detail))])
    code = ErrorCode.INTERNAL_ERROR if status >= 500 else ErrorCode.FORBIDDEN
    return error_response(request_id, status=status, code=code, message=str(error.detail))


HEAD_AS_GET = "agentkeys.head_as_get"


def requested_method(request: Request) -> str:
    """The method the client sent (HEAD is routed as GET: see ``api.app.HeadAsGet``)."""
    return "HEAD" if request.scope.get(HEAD_AS_GET) else request.method


def _allow_every_method(request: Request, headers: dict[str, str]) -> dict[str, str]:
    """Allow: the methods of every route at this path (Starlette names the first route's only,
    and a path may hold several: GET lists webhooks where POST creates one)."""
    probe = {**request.scope, "method": ""}
    methods: set[str] = set()
    for route in request.app.router.routes:
        if route.matches(probe)[0] is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    if methods:
        headers = {name: value for name, value in headers.items() if name.lower() != "allow"}
        headers["Allow"] = ", ".join(sorted(methods))
    return headers


def _with_head(headers: dict[str, str]) -> dict[str, str]:
    # Wherever GET is allowed, HEAD is too (answered by the GET route, without the body).
    for name, value in headers.items():
        if name.lower() == "allow":
            methods = [method.strip() for method in value.split(",")]
            if "GET" in methods and "HEAD" not in methods:
                headers[name] = ", ".join([*methods, "HEAD"])
    return headers


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DBAPIError)  # noqa: S101 - registered for DBAPIError only
    if is_database_unavailable(error):
        return await _database_unavailable(request, error)
    return await _unexpected(request, error)


async def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    # Connection-level failures only (refused, dropped, shutting down, pool exhausted): nothing
    # was decided, so the client may safely retry. Logged without the statement's parameters.
    logger.error(
        "database unavailable: %s",
        type(error).__name__,
        extra={"request_id": request_id_of(request)},
    )
    return error_response(
        request_id_of(request),
        status=503,
        code=ErrorCode.SERVICE_UNAVAILABLE,
        message="The service's database is unavailable.",
        recovery_action="Retry in a few seconds.",
        retry_after_seconds=5,
    )


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    # Logged with its traceback server-side; the client sees only the request id to quote.
    logger.error("unhandled error", exc_info=error, extra={"request_id": request_id_of(request)})
    return error_response(
        request_id_of(request),
        status=500,
        code=ErrorCode.INTERNAL_ERROR,
        message="An internal error occurred.",
        recovery_action="Retry later; quote the request_id if it persists.",
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(DBAPIError, _database_error)
    # asyncpg raises plain OSError (refused, reset) when it cannot connect at all.
    for unavailable in (PoolTimeout, OSError):
        app.add_exception_handler(unavailable, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)

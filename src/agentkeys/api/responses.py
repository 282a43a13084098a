"""OpenAPI descriptions of the error answers, so every route documents each one it can give."""

from __future__ import annotations

from typing import Any

from agentkeys.api.errors import ApiErrorEnvelopeDto

_DESCRIPTIONS = {
    400: "VALIDATION_FAILED: the body or a parameter is invalid; field_errors names each field.",
    401: "AUTH_MISSING_API_KEY, AUTH_INVALID_API_KEY, AUTH_EXPIRED_CREDENTIAL or "
    "AUTH_REVOKED_CREDENTIAL.",
    403: "AUTH_INSUFFICIENT_SCOPE: the credential lacks the scope this route needs.",
    404: "NOT_FOUND: no such route, or no such resource owned by this credential.",
    405: "The method is not allowed on this path; see the Allow header.",
    408: "VALIDATION_FAILED: the request was not received in time; the connection is closed.",
    413: "VALIDATION_FAILED: the body is larger than the server accepts.",
    415: "VALIDATION_FAILED: the body is not application/json.",
    429: "RATE_LIMITED: too many requests; retry after retry_after_seconds.",
    500: "INTERNAL_ERROR: quote the request_id.",
    503: "SERVICE_UNAVAILABLE: a backing service is down; retry.",
}

COMMON = (405, 408, 413, 415, 500, 503)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` argument of a route that can answer with the given error statuses."""
    return {
        status: {"model": ApiErrorEnvelopeDto, "description": _DESCRIPTIONS[status]}
        for status in sorted({*statuses, *COMMON})
    }

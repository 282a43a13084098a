"""Domain errors: a stable code and a message, no HTTP knowledge (``api/errors.py`` maps them)."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    AUTH_MISSING_API_KEY = "AUTH_MISSING_API_KEY"
    AUTH_INVALID_API_KEY = "AUTH_INVALID_API_KEY"
    AUTH_EXPIRED_CREDENTIAL = "AUTH_EXPIRED_CREDENTIAL"
    AUTH_REVOKED_CREDENTIAL = "AUTH_REVOKED_CREDENTIAL"
    AUTH_INSUFFICIENT_SCOPE = "AUTH_INSUFFICIENT_SCOPE"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    RATE_LIMITED = "RATE_LIMITED"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    FORBIDDEN = "FORBIDDEN"
    # Raised by nothing (a production ask is answered as the outcome `production_denied`), but
    # CONTRACT §5 lists it among the codes, so it stays in the documented list.
    PRODUCTION_ACCESS_DENIED = "PRODUCTION_ACCESS_DENIED"
    # The Idempotency-Key's first request is still running (409, Retry-After).
    CONFLICT = "CONFLICT"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"


# The most of one client-sent value (an id, a path, a method) quoted back in a message.
MAX_ECHO_CHARACTERS = 80


def echo(value: str, limit: int = MAX_ECHO_CHARACTERS) -> str:
    """``value`` as a message may quote it: at most ``limit`` characters, the cut one said.

    Keeps the start and the end (where ids and paths differ) and names how much was left out, so
    a 5,000-character id is answered in a line, not repeated whole.
    """
    if len(value) <= limit:
        return value
    omitted = f"…[{len(value) - limit} characters omitted]…"
    head = (limit + 1) // 2
    return value[:head] + omitted + value[len(value) - (limit - head) :]


class DomainError(Exception):
    """Base of every error the service raises on purpose."""

    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(
        self,
        message: str,
        *,
        recovery_action: str | None = None,
        retry_after_seconds: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.recovery_action = recovery_action
        self.retry_after_seconds = retry_after_seconds


class MissingApiKey(DomainError):
    code = ErrorCode.AUTH_MISSING_API_KEY


class InvalidApiKey(DomainError):
    code = ErrorCode.AUTH_INVALID_API_KEY


class ExpiredCredential(DomainError):
    code = ErrorCode.AUTH_EXPIRED_CREDENTIAL


class RevokedCredential(DomainError):
    code = ErrorCode.AUTH_REVOKED_CREDENTIAL


class InsufficientScope(DomainError):
    code = ErrorCode.AUTH_INSUFFICIENT_SCOPE


class RequestRateExceeded(DomainError):
    code = ErrorCode.RATE_LIMITED


class NotFound(DomainError):
    code = ErrorCode.NOT_FOUND


class Forbidden(DomainError):
    """Authenticated, but not allowed: an agent key on the admin API, a viewer revoking."""

    code = ErrorCode.FORBIDDEN


class FieldError:
    """One failing field, named by its JSON path (``requested_scopes[0]``)."""

    __slots__ = ("field", "message")

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message


class ValidationFailed(DomainError):
    code = ErrorCode.VALIDATION_FAILED

    def __init__(self, field_errors: list[FieldError]) -> None:
        super().__init__(
            f"The request is invalid: {len(field_errors)} field(s) failed validation.",
            recovery_action="Fix the fields named in field_errors and retry.",
        )
        self.field_errors = field_errors

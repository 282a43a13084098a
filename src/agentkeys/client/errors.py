"""The client's one exception: the server's error envelope (or why there was none) as fields."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

# Not the server's codes (``agentkeys.errors.ErrorCode``): what the client says when no envelope
# came back at all.
TRANSPORT_ERROR = "TRANSPORT_ERROR"
UNEXPECTED_RESPONSE = "UNEXPECTED_RESPONSE"
# How much of a body that is not an envelope a message quotes (a proxy's HTML page, say).
MAX_QUOTED_BODY = 200


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One entry of the envelope's ``field_errors``: the JSON path of the value and why."""

    field: str
    message: str


class AgentKeysError(Exception):
    """A refusal by the server (its error envelope, field by field), or no usable answer at all
    (``status_code`` ``None`` with ``TRANSPORT_ERROR``, or ``UNEXPECTED_RESPONSE``)."""

    def __init__(
        self,
        *,
        status_code: int | None,
        error_code: str,
        message: str,
        recovery_action: str | None = None,
        field_errors: tuple[FieldProblem, ...] = (),
        retry_after_seconds: int | None = None,
        request_id: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.error_code = error_code
        self.message = message
        self.recovery_action = recovery_action
        self.field_errors = field_errors
        self.retry_after_seconds = retry_after_seconds
        self.request_id = request_id
        super().__init__(self.describe())

    def describe(self) -> str:
        """One line: code, status, message, and what to do."""
        status = f" ({self.status_code})" if self.status_code is not None else ""
        text = f"{self.error_code}{status}: {self.message}"
        if self.field_errors:
            text += " [" + "; ".join(f"{e.field}: {e.message}" for e in self.field_errors) + "]"
        if self.recovery_action:
            text += f" Recovery: {self.recovery_action}"
        if self.retry_after_seconds is not None:
            text += f" Retry after {self.retry_after_seconds} s."
        return text

    @classmethod
    def from_response(cls, response: httpx.Response) -> AgentKeysError:
        """The envelope of an error answer; a body that is not one is ``UNEXPECTED_RESPONSE``."""
        envelope = _json_object(response)
        code = envelope.get("error_code") if envelope is not None else None
        message = envelope.get("message") if envelope is not None else None
        if envelope is None or not isinstance(code, str) or not isinstance(message, str):
            return cls.unexpected(response, "the answer is not an error envelope")
        return cls(
            status_code=response.status_code,
            error_code=code,
            message=message,
            recovery_action=_text_or_none(envelope.get("recovery_action")),
            field_errors=_field_problems(envelope.get("field_errors")),
            retry_after_seconds=_positive_int(envelope.get("retry_after_seconds")),
            request_id=_text_or_none(envelope.get("request_id"))
            or response.headers.get("x-request-id"),
        )

    @classmethod
    def unexpected(cls, response: httpx.Response, why: str) -> AgentKeysError:
        body = response.text[:MAX_QUOTED_BODY]
        path = response.request.url.path
        return cls(
            status_code=response.status_code,
            error_code=UNEXPECTED_RESPONSE,
            message=f"HTTP {response.status_code} from {path}: {why}: {body!r}",
            request_id=response.headers.get("x-request-id"),
        )

    @classmethod
    def transport(cls, error: httpx.TransportError) -> AgentKeysError:
        return cls(
            status_code=None,
            error_code=TRANSPORT_ERROR,
            message=f"{type(error).__name__}: {error}",
            recovery_action="Check the base URL and that the server is running, then retry.",
        )


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        parsed = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _positive_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _field_problems(value: object) -> tuple[FieldProblem, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        FieldProblem(str(item.get("field", "")), str(item.get("message", "")))
        for item in value
        if isinstance(item, dict)
    )

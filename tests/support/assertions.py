"""Assertions and helpers shared by the tests: the error envelope, instants, test values."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx

ENVELOPE_FIELDS = frozenset(
    {
        "request_id",
        "error_code",
        "message",
        "recovery_action",
        "field_errors",
        "retry_after_seconds",
    }
)
REQUEST_ID = re.compile(r"ws_request_[0-9A-Za-z]{22}")
# An instant as the API writes it: UTC, with milliseconds.
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
# Addresses every email field accepts or refuses (the syntax alone: no DNS look-up).
VALID_EMAILS = [
    "developer@example.com",
    "first.last+agent@sub.example.org",
    "DEVELOPER@EXAMPLE.COM",
    "o'brien_dev-1@example.co.uk",
    # A domain nobody registered is no reason to refuse.
    "developer@no-such-host-agentkeys-tests-0c9f3e.com",
]
INVALID_EMAILS = [
    "plainaddress",
    "@example.com",
    "developer@",
    "developer@@example.com",
    "developer example@example.com",
    "developer@example..com",
    ".developer@example.com",
    "developer@-example.com",
    "developer@example",
    "",
]
# What a leaked stack trace would show in an answer.
STACK_TRACE_MARKERS = ("Traceback", 'File "', "agentkeys/", ".py", "Exception")


def assert_request_id(response: httpx.Response) -> str:
    """The answer's ``X-Request-Id`` header, checked to be a well-formed request id."""
    request_id = response.headers["x-request-id"]
    assert REQUEST_ID.fullmatch(request_id), request_id
    return request_id


def assert_envelope(response: httpx.Response, *, status: int, code: str) -> dict[str, Any]:
    """The answer is the error envelope with this status and code, its request id, and no trace."""
    assert response.status_code == status, response.text
    envelope = response.json()
    assert isinstance(envelope, dict), envelope
    assert set(envelope) <= ENVELOPE_FIELDS, envelope
    assert envelope["error_code"] == code, envelope
    assert envelope["request_id"] == assert_request_id(response)
    assert isinstance(envelope["message"], str)
    assert envelope["message"].strip()
    for marker in STACK_TRACE_MARKERS:
        assert marker not in response.text, marker
    return envelope


def field_names(envelope: dict[str, Any]) -> list[str]:
    """The fields ``field_errors`` names, in its order; each entry must carry a message."""
    errors = envelope["field_errors"]
    assert isinstance(errors, list), envelope
    for error in errors:
        assert set(error) == {"field", "message"}, error
        assert isinstance(error["message"], str)
        assert error["message"]
    return [error["field"] for error in errors]


def assert_validation_failed(response: httpx.Response, *fields: str) -> dict[str, Any]:
    """400 ``VALIDATION_FAILED`` with exactly one ``field_errors`` entry per named field."""
    envelope = assert_envelope(response, status=400, code="VALIDATION_FAILED")
    assert sorted(field_names(envelope)) == sorted(fields)
    return envelope


def parse_instant(instant: str) -> datetime:
    """An instant the API wrote (``…T12:00:00.000Z``) as an aware UTC datetime."""
    assert INSTANT.fullmatch(instant), instant
    return datetime.fromisoformat(instant)


def as_instant(stored: object) -> datetime:
    """A timestamp as the database driver returns it, as an aware UTC datetime.

    SQLite hands back text without an offset holding UTC (see ``agentkeys.db.base.UTCDateTime``);
    PostgreSQL hands back an aware datetime.
    """
    if isinstance(stored, str):
        naive = datetime.fromisoformat(stored)
        assert naive.tzinfo is None, stored
        return naive.replace(tzinfo=UTC)
    assert isinstance(stored, datetime), repr(stored)
    assert stored.tzinfo is not None, repr(stored)
    return stored.astimezone(UTC)


def as_json(stored: object) -> Any:
    """A JSON column as the database driver returns it (text, or already decoded), decoded."""
    if isinstance(stored, str | bytes):
        return json.loads(stored)
    assert isinstance(stored, dict | list), repr(stored)
    return stored


def text(length: int, unit: str = "a") -> str:
    """``length`` code points made of ``unit`` repeated (and cut to length)."""
    return (unit * (length // len(unit) + 1))[:length]

"""When to send a call again, and how to read its final answer: shared by both clients.

A 429 (or a 503 carrying ``Retry-After``: the battery queue, a database outage) means the server
did nothing, so any call, a POST included, may be sent again after the wait it names. The issuing
route says the same with 200 ``outcome: rate_limited``. Retries are bounded in number and in the
total time waited; a wait longer than what remains is not waited: the answer is returned (or
raised) at once with its ``retry_after_seconds``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx
from pydantic import ValidationError

from agentkeys.client.calls import Call
from agentkeys.client.errors import AgentKeysError

T = TypeVar("T")
RETRIED_STATUSES = frozenset({429, 503})
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_WAIT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class RetryBudget:
    """At most ``max_retries`` retries, waiting at most ``max_wait_seconds`` in all."""

    max_retries: int = DEFAULT_MAX_RETRIES
    max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.max_wait_seconds < 0:
            raise ValueError("max_retries and max_wait_seconds must be >= 0")

    def next_wait(self, wait: float | None, *, retries_done: int, waited: float) -> float | None:
        """The wait before the next attempt, or ``None``: answer now."""
        if wait is None or retries_done >= self.max_retries:
            return None
        if waited + wait > self.max_wait_seconds:
            return None
        return wait


def retry_after(call: Call[T], response: httpx.Response) -> float | None:
    """Seconds the server asks to wait before this call is sent again, or ``None``: no retry."""
    if response.status_code in RETRIED_STATUSES:
        return _header_seconds(response) or _body_seconds(response, rate_limited_only=False)
    if call.issuance and response.status_code == httpx.codes.OK:
        return _body_seconds(response, rate_limited_only=True)
    return None


def answer_of(call: Call[T], response: httpx.Response) -> T:
    """The answer validated into the call's model; an error answer raised as ``AgentKeysError``."""
    if not response.is_success:
        raise AgentKeysError.from_response(response)
    try:
        return call.answer.validate_json(response.content)
    except ValidationError as error:
        count = error.error_count()
        raise AgentKeysError.unexpected(
            response, f"the answer does not match its schema ({count} errors)"
        ) from error


def _header_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(seconds, 0.0) if math.isfinite(seconds) else None


def _body_seconds(response: httpx.Response, *, rate_limited_only: bool) -> float | None:
    try:
        parsed = json.loads(response.content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(parsed, dict):
        return None
    if rate_limited_only and parsed.get("outcome") != "rate_limited":
        return None
    seconds = parsed.get("retry_after_seconds")
    if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds > 0:
        return float(seconds)
    return _header_seconds(response) if rate_limited_only else None

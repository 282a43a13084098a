"""The rate limiter protocol every backend implements, and what one hit answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from agentkeys.errors import RequestRateExceeded


@dataclass(frozen=True, slots=True)
class RequestRate:
    """At most ``limit`` requests per sliding ``window`` (a credential's, a network's...)."""

    limit: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The outcome of counting one request against a credential's rate."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int
    window_seconds: int
    # True when the backend could not be asked and the request was let through (fail-open).
    degraded: bool = False

    def refusal(self, message: str) -> RequestRateExceeded:
        """The 429 for a request over this rate: ``message`` says whose rate, the wait is ours."""
        return RequestRateExceeded(
            message,
            recovery_action="Slow down and retry after retry_after_seconds.",
            retry_after_seconds=self.reset_seconds,
        )


class RequestRateLimiter(Protocol):
    async def hit(self, key: str, *, cost: int = 1) -> RateDecision:
        """Count ``cost`` requests for ``key`` and say whether they are within the rate."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...

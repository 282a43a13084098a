"""Event types, the retry schedule and the payload's shape: pure, no I/O."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from agentkeys.clock import format_instant


class EventType(StrEnum):
    ISSUED = "credential.issued"
    DENIED = "credential.denied"
    REVOKED = "credential.revoked"
    LEAKED = "credential.leaked"
    EXPIRED = "credential.expired"


# Not subscribable: sent only to the endpoint it tests, whatever it subscribed to.
TEST_EVENT = "webhook.test"

# Svix's schedule: the delay before each attempt (the first is immediate); after the last
# failure the message is given up.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
# An endpoint failing without a success for this long is disabled (as Svix does).
DISABLE_AFTER = timedelta(days=5)
# The rotated-out secret still signs for this long, so receivers can switch without a gap.
PREVIOUS_SECRET_LIFETIME = timedelta(hours=24)


def next_attempt_delay(attempts_made: int) -> timedelta | None:
    """The wait before the next attempt after ``attempts_made`` attempts, or None: give up."""
    if attempts_made >= len(RETRY_SCHEDULE):
        return None
    return RETRY_SCHEDULE[attempts_made]


def payload(event_type: str, *, timestamp: datetime, data: dict[str, Any]) -> str:
    """The body sent, exactly as signed: ``{type, timestamp, data}``. Never a secret."""
    return json.dumps(
        {"type": event_type, "timestamp": format_instant(timestamp), "data": data},
        separators=(",", ":"),
        sort_keys=True,
        ensure_ascii=False,
    )

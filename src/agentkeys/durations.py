"""Durations as operators write them (``90m``, ``12h``, ``90d``, ``2w``): the retention of the
ledger in the policy file and ``agentkeys db prune --older-than``, the stats window, and "a time
ago" on the command line. Pure: the standard library only."""

from __future__ import annotations

import re
from datetime import timedelta

UNITS = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}
# A century: far beyond any retention, and well inside what a datetime can subtract.
LONGEST = timedelta(days=36_500)
_DURATION = re.compile(r"([0-9]{1,7})([mhdw])")
FORM = "a whole number and a unit m, h, d or w, e.g. 90d, 12h, 2w"


def parse_duration(text: str) -> timedelta:
    """``90d`` → 90 days. ``ValueError`` with a one-line reason: malformed, zero or too long."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise ValueError(f"'{text[:40]}' is not a duration: write {FORM}")
    duration = int(match.group(1)) * UNITS[match.group(2)]
    if not duration:
        raise ValueError(f"'{text}' is zero: a duration must be longer than that")
    if duration > LONGEST:
        raise ValueError(f"'{text}' is longer than {LONGEST.days}d")
    return duration


def format_duration(duration: timedelta) -> str:
    """The shortest exact spelling (``timedelta(days=14)`` → ``2w``); seconds if no unit fits."""
    for unit, length in sorted(UNITS.items(), key=lambda item: item[1], reverse=True):
        if duration % length == timedelta(0):
            return f"{duration // length}{unit}"
    return f"{int(duration.total_seconds())}s"

"""Durations as people read them (``1 day``, ``90 minutes``): pure (no web framework, no I/O).
Pages show this text with the exact seconds in a ``title``."""

from __future__ import annotations

from dataclasses import dataclass

_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def _count(count: int, unit: str) -> str:
    return f"{count} {unit}{'' if count == 1 else 's'}"


def human_duration(seconds: int) -> str:
    """The largest unit that divides it exactly (``2 hours``, ``90 minutes``, ``1 day``); else
    every unit it takes (``1 day, 1 hour and 5 seconds``): never rounded."""
    if seconds <= 0:
        return _count(max(0, seconds), "second")
    for unit, size in _UNITS:
        if seconds % size == 0 and seconds // size < (100 if size < 86400 else 10**9):
            return _count(seconds // size, unit)
    parts = []
    rest = seconds
    for unit, size in _UNITS:
        if rest >= size:
            parts.append(_count(rest // size, unit))
            rest %= size
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


@dataclass(frozen=True, slots=True)
class Duration:
    """A duration inside a sentence (rendered as its human text, the seconds on hover);
    ``per`` reads it as a rate's window: ``per hour``, ``per 2 hours``."""

    seconds: int
    per: bool = False

    @property
    def text(self) -> str:
        spoken = human_duration(self.seconds)
        return "per " + spoken.removeprefix("1 ") if self.per else spoken

    def __str__(self) -> str:
        return self.text

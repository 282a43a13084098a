"""The request rates of one process, counted in its memory: the hot path's counter.

The same sliding-window-counter approximation as the ``limits`` library's
``SlidingWindowCounterRateLimiter`` (and so as the Redis counters the replicas share): windows
aligned on multiples of the rate's length, and a request allowed while
``floor(previous x (time left in the current window / window) + current) + cost <= limit``.
Written here rather than through ``limits``' ``MemoryStorage`` because that storage takes an
asyncio lock per key, builds two key strings and reads four entries per hit, and answering the
RateLimit headers needs a second call: about 12 µs per rate on every verified request, where
this counter, one dict entry per key updated in place, costs about 1 µs, answering the hit and
the headers' figures together. ``tests/integration/test_rate_limiter_contract.py`` holds it to
the contract every backend meets.

Memory: one small list per key counted in the last two windows. Keys idle for longer are swept
out when the table has doubled since the last sweep (amortised: no timer, no per-hit cost).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from agentkeys.ratelimit.base import RateDecision, RequestRate

# A sweep never runs while the table is smaller than this.
MIN_SWEEP_SIZE = 1024


class LocalRateLimiter:
    """A ``RequestRateLimiter`` in this process's memory (one worker, or tests)."""

    def __init__(self, rate: RequestRate, *, wall_clock: Callable[[], float] = time.time) -> None:
        self._limit = rate.limit
        self._window = max(1, int(rate.window.total_seconds()))
        self._time = wall_clock
        # key → [window index, count in the previous window, count in the current window]
        self._counts: dict[str, list[int]] = {}
        self._sweep_at = MIN_SWEEP_SIZE

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def window_seconds(self) -> int:
        return self._window

    async def hit(self, key: str, *, cost: int = 1) -> RateDecision:
        return self.hit_now(key, cost=cost)

    def hit_now(self, key: str, *, cost: int = 1) -> RateDecision:
        """``hit`` without an await: counts ``cost`` requests if the rate has room for them."""
        now = self._time()
        window = self._window
        index = int(now // window)
        entry = self._counts.get(key)
        if entry is None:
            if len(self._counts) >= self._sweep_at:
                self._sweep(index)
            entry = self._counts[key] = [index, 0, 0]
        elif entry[0] != index:
            # One window on: the current count becomes the previous; more: both are forgotten.
            entry[1] = entry[2] if entry[0] == index - 1 else 0
            entry[2] = 0
            entry[0] = index
        elapsed = now - index * window
        previous, current = entry[1], entry[2]
        weighted = previous * (window - elapsed) / window + current
        allowed = cost <= self._limit and math.floor(weighted) + cost <= self._limit
        if allowed:
            current += cost
            entry[2] = current
            weighted += cost
        return RateDecision(
            allowed=allowed,
            limit=self._limit,
            remaining=max(0, self._limit - math.floor(weighted)),
            reset_seconds=_reset_seconds(previous, current, window, elapsed),
            window_seconds=window,
        )

    def _sweep(self, index: int) -> None:
        """Forget keys counted in no window that still weighs (two or more windows ago)."""
        self._counts = {key: entry for key, entry in self._counts.items() if entry[0] >= index - 1}
        self._sweep_at = max(MIN_SWEEP_SIZE, 2 * len(self._counts))

    def __len__(self) -> int:
        return len(self._counts)

    async def close(self) -> None:
        """Nothing to release."""


def _reset_seconds(previous: int, current: int, window: int, elapsed: float) -> int:
    """When the count next drops by one, in whole seconds (at least 1, at most the window): as
    ``limits``' ``get_window_stats`` computes it for the sliding window counter."""
    left = window - elapsed
    soonest = math.inf
    if previous:
        soonest = left % (window / previous)
    if current:
        soonest = min(soonest, left)
    if soonest == math.inf:
        return 1
    return min(window, max(1, math.ceil(soonest)))

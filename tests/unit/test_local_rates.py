"""The in-process rate counter (``ratelimit.local``): the same decisions as the ``limits``
library's sliding window counter it replaces, and memory bounded by the keys in use."""

from __future__ import annotations

import random
import time
from datetime import timedelta

import pytest
from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from agentkeys.ratelimit.base import RequestRate
from agentkeys.ratelimit.local import MIN_SWEEP_SIZE, LocalRateLimiter


async def test_decides_as_the_limits_sliding_window_counter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1_700_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    rate = RequestRate(20, timedelta(seconds=10))
    ours = LocalRateLimiter(rate, wall_clock=lambda: clock[0])
    theirs = SlidingWindowCounterRateLimiter(MemoryStorage())
    item = RateLimitItemPerSecond(20, 10)
    chooser = random.Random(3)
    refusals = 0
    for _ in range(3000):
        clock[0] += chooser.expovariate(3.0)  # about 30 per window against 20 allowed
        key = chooser.choice(("a", "b"))
        cost = chooser.choice((1, 1, 2, 5))
        decision = ours.hit_now(key, cost=cost)
        allowed = await theirs.hit(item, key, cost=cost)
        stats = await theirs.get_window_stats(item, key)

        assert decision.allowed == allowed, clock[0]
        assert decision.remaining == stats.remaining, clock[0]
        refusals += not allowed

    assert refusals > 100  # the trace went over the rate, and back under it


def test_keys_idle_for_two_windows_are_swept_out() -> None:
    clock = [1_000.0]
    limiter = LocalRateLimiter(RequestRate(5, timedelta(seconds=60)), wall_clock=lambda: clock[0])
    for index in range(MIN_SWEEP_SIZE):
        limiter.hit_now(f"old-{index}")
    clock[0] += 120  # two windows on: those counts weigh nothing any more

    limiter.hit_now("new")

    assert len(limiter) == 1
    assert limiter.hit_now("old-0").remaining == 4  # counted afresh

"""Leased rates (``ratelimit.leased``): replicas share a rate through Redis without a round trip
per request, and the overshoot stays within its documented bound."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from agentkeys.ratelimit.base import RateDecision, RequestRate, RequestRateLimiter
from agentkeys.ratelimit.leased import LEASE_DIVISOR, LeasedRateLimiter
from agentkeys.ratelimit.limiter import LimiterBackend, redis_backend
from agentkeys.ratelimit.local import LocalRateLimiter

# A day long: no window boundary falls inside a test (the sliding window would weigh both).
DAY = timedelta(days=1)


class Counted:
    """A shared limiter that remembers how often it was asked and how much it granted."""

    def __init__(self, shared: RequestRateLimiter) -> None:
        self.shared = shared
        self.calls = 0
        self.granted = 0

    async def hit(self, key: str, *, cost: int = 1) -> RateDecision:
        self.calls += 1
        await asyncio.sleep(0)  # a round trip: other hits run meanwhile
        decision = await self.shared.hit(key, cost=cost)
        if decision.allowed:
            self.granted += cost
        return decision

    async def close(self) -> None:
        await self.shared.close()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[LimiterBackend]:
    backend = redis_backend(redis_url)
    yield backend
    await backend.close()


def replicas(backend: LimiterBackend, rate: RequestRate, count: int) -> list[LeasedRateLimiter]:
    """``count`` processes' view of one rate (one namespace in Redis, fresh per test)."""
    namespace = f"leased-{uuid.uuid4().hex}"
    hot = [backend.hot_limiter(rate, namespace=namespace) for _ in range(count)]
    assert all(isinstance(limiter, LeasedRateLimiter) for limiter in hot)
    return hot  # type: ignore[return-value]


@pytest.mark.redis
class TestSharedThroughRedis:
    async def test_replicas_admit_exactly_the_limit_and_never_more(
        self, redis: LimiterBackend
    ) -> None:
        rate = RequestRate(1000, DAY)
        processes = replicas(redis, rate, 3)
        assert processes[0].max_lease == 1000 // LEASE_DIVISOR > 1  # leases are taken
        chooser = random.Random(7)
        admitted = 0
        for _ in range(1300):
            if (await chooser.choice(processes).hit("credential")).allowed:
                admitted += 1
        # Every process has run out: what some held unspent went to the last hits.
        for process in processes:
            for _ in range(20):
                if (await process.hit("credential")).allowed:
                    admitted += 1

        assert admitted == 1000

    async def test_most_hits_ask_no_other_process(self, redis: LimiterBackend) -> None:
        rate = RequestRate(1_000_000, DAY)
        limiter = next(iter(replicas(redis, rate, 1)))
        counted = Counted(limiter._shared)
        limiter._shared = counted

        decisions = [await limiter.hit("credential") for _ in range(500)]

        assert all(decision.allowed for decision in decisions)
        assert counted.calls == 1
        # One process: the headers are exact.
        assert [decision.remaining for decision in decisions[-3:]] == [
            1_000_000 - 498,
            1_000_000 - 499,
            1_000_000 - 500,
        ]

    async def test_a_small_rate_asks_the_shared_counter_every_time(
        self, redis: LimiterBackend
    ) -> None:
        one, two = replicas(redis, RequestRate(2, DAY), 2)

        statuses = [
            (await one.hit("k")).allowed,
            (await two.hit("k")).allowed,
            (await one.hit("k")).allowed,
            (await two.hit("k")).allowed,
        ]

        assert one.max_lease == 0
        assert statuses == [True, True, False, False]

    async def test_an_unreachable_redis_fails_open_without_a_lease(self) -> None:
        backend = redis_backend("redis://127.0.0.1:1/0")
        limiter = backend.hot_limiter(RequestRate(1000, DAY), namespace="down")
        try:
            decisions = [await limiter.hit("credential") for _ in range(3)]
        finally:
            await backend.close()

        assert all(decision.allowed and decision.degraded for decision in decisions)


class TestOvershootBound:
    """The bound's premise, step by step: every admitted request was counted by the shared
    counter first, and at no instant are more than one lease per process counted and not yet
    admitted."""

    async def test_counted_minus_admitted_stays_within_one_lease_per_process(self) -> None:
        clock = [1_000_000.0]
        rate = RequestRate(2000, timedelta(seconds=60))
        shared = Counted(LocalRateLimiter(rate, wall_clock=lambda: clock[0]))
        processes = [
            LeasedRateLimiter(shared, limit=rate.limit, window_seconds=60) for _ in range(4)
        ]
        bound = len(processes) * (rate.limit // LEASE_DIVISOR)
        chooser = random.Random(11)
        admitted = refused = 0
        for _ in range(20_000):
            # Bursts and lulls over several windows, 0.025 s apart on average (over the rate).
            clock[0] += chooser.expovariate(40.0)
            cost = chooser.choice((1, 1, 1, 3))
            if (await chooser.choice(processes).hit("credential", cost=cost)).allowed:
                admitted += cost
            else:
                refused += 1
            # Counted by the shared rate and not (yet) admitted anywhere: unspent leases only.
            assert 0 <= shared.granted - admitted <= bound

        # The traffic was over the rate: leases were taken and spent, and hits refused.
        assert refused > 0
        assert admitted > 2 * rate.limit

    async def test_hits_missing_together_share_one_lease(self) -> None:
        rate = RequestRate(10_000, DAY)
        shared = Counted(LocalRateLimiter(rate))
        process = LeasedRateLimiter(shared, limit=rate.limit, window_seconds=86_400)

        decisions = await asyncio.gather(*(process.hit("credential") for _ in range(50)))

        assert all(decision.allowed for decision in decisions)
        # All missed together: one took a lease, the others waited for it and spent it.
        assert shared.calls == 1
        assert shared.granted == process.max_lease
        assert sorted(decision.remaining for decision in decisions)[0] == 10_000 - 50

    async def test_hits_waiting_on_a_refused_refill_are_refused_with_it(self) -> None:
        rate = RequestRate(200, DAY)
        shared = Counted(LocalRateLimiter(rate))
        process = LeasedRateLimiter(shared, limit=rate.limit, window_seconds=86_400)
        spent = [await process.hit("credential") for _ in range(200)]
        calls = shared.calls

        refused = await asyncio.gather(*(process.hit("credential") for _ in range(20)))

        assert all(decision.allowed for decision in spent)
        assert not any(decision.allowed for decision in refused)
        # The first asked the shared counter (for its cost alone: the rate is spent); the other
        # 19 were refused with its answer.
        assert shared.calls - calls == 1

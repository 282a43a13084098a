"""One contract for every rate-limiter backend (memory, Redis, Redis through leases): costs,
namespaces, keys."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest

from agentkeys.ratelimit.base import RequestRate, RequestRateLimiter
from agentkeys.ratelimit.limiter import LimiterBackend, memory_backend, redis_backend

TEN_PER_MINUTE = RequestRate(10, timedelta(seconds=60))
Make = Callable[..., RequestRateLimiter]


class Backend:
    """A backend's limiters as the service builds them: every hit asking the backend, or (the
    verified requests' rates) through leases."""

    def __init__(self, backend: LimiterBackend, *, hot: bool) -> None:
        self.backend = backend
        self.limiter: Make = backend.hot_limiter if hot else backend.limiter


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("redis-leased", marks=pytest.mark.redis),
    ]
)
async def limiter_backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "memory":
        chosen = memory_backend()
    else:
        chosen = redis_backend(request.getfixturevalue("redis_url"))
    yield Backend(chosen, hot=request.param == "redis-leased")
    await chosen.close()


def fresh_key() -> str:
    # Redis is shared between tests and runs: every test counts keys of its own.
    return f"test:{uuid.uuid4().hex}"


async def test_a_hit_counts_its_cost(limiter_backend: Backend) -> None:
    limiter = limiter_backend.limiter(TEN_PER_MINUTE, namespace=f"contract-{uuid.uuid4().hex}")
    key = fresh_key()

    first = await limiter.hit(key, cost=4)
    second = await limiter.hit(key, cost=6)
    refused = await limiter.hit(key)

    assert (first.allowed, first.remaining) == (True, 6)
    assert (second.allowed, second.remaining) == (True, 0)
    assert not refused.allowed
    assert 1 <= refused.reset_seconds <= 60
    assert refused.limit == 10
    assert refused.window_seconds == 60


async def test_a_cost_above_what_remains_is_refused_and_not_counted(
    limiter_backend: Backend,
) -> None:
    limiter = limiter_backend.limiter(TEN_PER_MINUTE, namespace=f"contract-{uuid.uuid4().hex}")
    key = fresh_key()

    await limiter.hit(key, cost=8)
    too_dear = await limiter.hit(key, cost=5)
    cheap = await limiter.hit(key, cost=2)

    assert not too_dear.allowed
    assert cheap.allowed


async def test_rates_sharing_a_backend_never_share_a_counter(
    limiter_backend: Backend,
) -> None:
    suffix = uuid.uuid4().hex
    one = limiter_backend.limiter(RequestRate(1, timedelta(seconds=60)), namespace=f"one-{suffix}")
    two = limiter_backend.limiter(RequestRate(1, timedelta(seconds=60)), namespace=f"two-{suffix}")
    key = fresh_key()

    assert (await one.hit(key)).allowed
    assert (await two.hit(key)).allowed
    assert not (await one.hit(key)).allowed


async def test_each_key_has_its_own_count(limiter_backend: Backend) -> None:
    limiter = limiter_backend.limiter(
        RequestRate(1, timedelta(seconds=60)), namespace="contract-keys"
    )

    assert (await limiter.hit(fresh_key())).allowed
    assert (await limiter.hit(fresh_key())).allowed

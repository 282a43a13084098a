"""One contract for every revocation bus (local, Redis pub/sub): what a revocation does to the
key cache of the process that publishes it, and how the bus starts and closes.

What only Redis can do (reach the caches of other replicas, fail open when Redis is down) is
tested at the end of this file and, through whole apps, in ``test_revocation_race.py``
(``TestTwoReplicasWithRedis``) and ``reliability/test_exact_expiry.py``
(``TestRevocationOnEveryReplica``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest

from agentkeys.credentials.cache import VerifiedKeyCache
from agentkeys.credentials.identity import AuthenticatedCredential
from agentkeys.credentials.revocations import (
    LocalRevocationBus,
    RedisRevocationBus,
    RevocationBus,
)
from agentkeys.credentials.scopes import Scope

WHEN = datetime(2026, 3, 1, tzinfo=UTC)
BusFactory = Callable[[VerifiedKeyCache], RevocationBus]


def credential(credential_id: str) -> AuthenticatedCredential:
    return AuthenticatedCredential(
        id=credential_id,
        scopes=("homes",),
        effective_scopes=frozenset({Scope.HOMES_READ}),
        environment="sandbox",
        created_at=WHEN,
        expires_at=WHEN,
    )


def cached(cache: VerifiedKeyCache, credential_id: str) -> str:
    """Put a credential in the cache under a digest of its own; returns the digest."""
    digest = f"digest-{credential_id}"
    cache.put(digest, credential(credential_id), generation=cache.generation)
    assert cache.get(digest) is not None
    return digest


def fresh_id() -> str:
    # Redis is shared between tests, workers and runs: every test revokes ids of its own.
    return f"ws_agent_cred_{uuid.uuid4().hex}"


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.redis)])
async def new_bus(request: pytest.FixtureRequest) -> AsyncIterator[BusFactory]:
    """Builds started-able buses of one kind on the caches given; closes them all at the end."""
    built: list[RevocationBus] = []
    redis_url: str | None = (
        request.getfixturevalue("redis_url") if request.param == "redis" else None
    )

    def build(cache: VerifiedKeyCache) -> RevocationBus:
        bus: RevocationBus = (
            LocalRevocationBus(cache) if redis_url is None else RedisRevocationBus(redis_url, cache)
        )
        built.append(bus)
        return bus

    yield build
    for bus in built:
        await bus.close()


async def test_a_publication_evicts_the_credential_here_at_once(new_bus: BusFactory) -> None:
    cache = VerifiedKeyCache(max_age_seconds=60)
    bus = new_bus(cache)
    await bus.start()
    revoked, kept = fresh_id(), fresh_id()
    revoked_digest, kept_digest = cached(cache, revoked), cached(cache, kept)

    await bus.publish(revoked)

    assert cache.get(revoked_digest) is None
    assert cache.get(kept_digest) is not None


async def test_a_publication_refuses_the_put_of_a_look_up_begun_before(
    new_bus: BusFactory,
) -> None:
    cache = VerifiedKeyCache(max_age_seconds=60)
    bus = new_bus(cache)
    await bus.start()
    revoked = fresh_id()
    before = cache.generation

    await bus.publish(revoked)
    cache.put("digest", credential(revoked), generation=before)

    assert cache.get("digest") is None


async def test_a_started_bus_leaves_the_cache_on(new_bus: BusFactory) -> None:
    cache = VerifiedKeyCache(max_age_seconds=60)
    bus = new_bus(cache)

    await bus.start()

    assert cache.enabled
    cached(cache, fresh_id())


async def test_a_bus_closes_without_having_started(new_bus: BusFactory) -> None:
    bus = new_bus(VerifiedKeyCache(max_age_seconds=60))

    await bus.close()


@pytest.mark.redis
class TestRedisOnly:
    async def test_a_publication_reaches_the_cache_of_every_subscribed_bus(
        self, redis_url: str
    ) -> None:
        here, there = VerifiedKeyCache(max_age_seconds=60), VerifiedKeyCache(max_age_seconds=60)
        publisher, subscriber = (
            RedisRevocationBus(redis_url, here),
            RedisRevocationBus(redis_url, there),
        )
        try:
            await publisher.start()
            await subscriber.start()
            revoked = fresh_id()
            digest = cached(there, revoked)

            await publisher.publish(revoked)
            for _ in range(200):
                if there.get(digest) is None:
                    break
                await asyncio.sleep(0.01)

            assert there.get(digest) is None
        finally:
            await publisher.close()
            await subscriber.close()

    async def test_redis_down_publishing_still_evicts_here(self) -> None:
        cache = VerifiedKeyCache(max_age_seconds=60)
        bus = RedisRevocationBus("redis://127.0.0.1:1/0", cache)
        try:
            revoked = fresh_id()
            digest = cached(cache, revoked)

            await bus.publish(revoked)

            assert cache.get(digest) is None
        finally:
            await bus.close()

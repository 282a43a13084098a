"""Tell every replica about a revocation at once, so its key cache forgets the credential.

``LocalRevocationBus`` serves a single process (the cache's short bound covers several
processes without Redis). ``RedisRevocationBus`` publishes on a Redis channel that every replica
subscribes to. If Redis is down, publishing fails open (counted, logged): the cache bound still
caps how long another replica may accept a revoked key. While its subscription is down a replica
turns its cache off, and clears it on every (re)subscription, since messages may have been missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from agentkeys import subscription
from agentkeys.credentials.cache import Evicting
from agentkeys.credentials.revocation_channel import CHANNEL, revocation_message, revoked_id
from agentkeys.metrics import BACKEND_ERRORS

__all__ = ["CHANNEL", "LocalRevocationBus", "RedisRevocationBus", "RevocationBus", "announce"]

logger = logging.getLogger(__name__)
RECONNECT_SECONDS = 0.5
REDIS_TIMEOUT_SECONDS = 0.5


class RevocationBus(Protocol):
    async def publish(self, credential_id: str) -> None:
        """Announce a committed revocation to every replica (this one included)."""
        ...

    async def start(self) -> None:
        """Begin listening for revocations announced by other replicas."""
        ...

    async def close(self) -> None: ...


class LocalRevocationBus:
    def __init__(self, cache: Evicting) -> None:
        self._cache = cache

    async def publish(self, credential_id: str) -> None:
        self._cache.evict(credential_id)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisRevocationBus:
    def __init__(self, redis_url: str, cache: Evicting) -> None:
        self._cache = cache
        self._redis: Redis = Redis.from_url(
            redis_url,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
        )
        # The subscription's own client: no retry inside redis-py (every loss reaches _listen,
        # which turns the cache off), and a silence bound (``subscription``).
        self._subscriber: Redis = subscription.subscriber(redis_url)
        self._listener: asyncio.Task[None] | None = None
        self._on_subscribed: list[Callable[[], None]] = []

    async def publish(self, credential_id: str) -> None:
        self._cache.evict(credential_id)
        try:
            await self._redis.publish(CHANNEL, revocation_message(credential_id))
        except (RedisError, OSError) as error:
            BACKEND_ERRORS.labels(backend="redis", operation="revocation_publish").inc()
            logger.warning(
                "could not announce a revocation; other replicas forget it within the cache bound",
                extra={"credential_id": credential_id, "error": type(error).__name__},
            )

    async def start(self) -> None:
        subscribed = asyncio.Event()
        self._on_subscribed.append(subscribed.set)
        self._listener = asyncio.create_task(self._listen(), name="agentkeys-revocations")
        # Wait briefly for the first subscription; without it the cache stays off, which is safe.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(subscribed.wait(), timeout=1)

    async def _listen(self) -> None:
        while True:
            try:
                await subscription.listen(
                    self._subscriber,
                    CHANNEL,
                    on_subscribed=self._subscribed,
                    on_message=lambda data: self._cache.evict(revoked_id(data)),
                )
            except (RedisError, OSError) as error:
                BACKEND_ERRORS.labels(backend="redis", operation="revocation_listen").inc()
                logger.warning(
                    "revocation subscription lost; key cache off until it is back",
                    extra={"error": type(error).__name__},
                )
            self._cache.suspend()
            await asyncio.sleep(RECONNECT_SECONDS)

    def _subscribed(self) -> None:
        self._cache.resume()
        for callback in self._on_subscribed:
            callback()

    async def close(self) -> None:
        """Stop listening and close the connections, each within its bound."""
        await subscription.stop(self._listener)
        self._listener = None
        # Bounded: redis-py closes each connection within its connect timeout.
        for redis in (self._subscriber, self._redis):
            with contextlib.suppress(RedisError, OSError):
                await redis.aclose()


async def announce(redis_url: str, credential_ids: Sequence[str]) -> bool:
    """Announce revocations committed outside a server (the command line) to every replica.

    Fails open like ``RedisRevocationBus.publish`` (counted): whether all were announced.
    """
    redis: Redis = Redis.from_url(
        redis_url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    try:
        for credential_id in credential_ids:
            await redis.publish(CHANNEL, revocation_message(credential_id))
    except (RedisError, OSError):
        # The caller says so (the command line, on stderr, in its own words).
        BACKEND_ERRORS.labels(backend="redis", operation="revocation_publish").inc()
        return False
    finally:
        await redis.aclose()
    return True

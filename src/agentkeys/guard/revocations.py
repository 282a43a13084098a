"""Revocations as they happen, for a service that shares agentkeys' Redis: evict at once.

agentkeys announces every committed revocation on a Redis pub/sub channel
(``credentials.revocation_channel``, the one definition of its name and message). The guard
listens to it and evicts the credential from its cache the moment the message arrives. While the
subscription is down the cache is off (every request asks agentkeys), and it starts empty when
the subscription is back: messages may have been missed meanwhile. Without Redis, the cache's
bound (≤ 1 s) alone limits how long a revoked key may still be let through.

A dead or silent Redis never holds the guard up: ``start`` waits at most
``FIRST_SUBSCRIPTION_SECONDS``, a lost subscription is noticed within seconds (``subscription``:
bounded connect and replies, and a silence bound), and ``close`` returns within its bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from agentkeys import subscription
from agentkeys.credentials.revocation_channel import CHANNEL, revoked_id

logger = logging.getLogger(__name__)

RECONNECT_SECONDS = 0.5
# How long ``start`` waits for the first subscription (without it the cache stays off: safe).
FIRST_SUBSCRIPTION_SECONDS = 1.0


class Evicting(Protocol):
    """What the listener keeps true: the guard's cache."""

    def evict(self, credential_id: str) -> None: ...

    def suspend(self) -> None: ...

    def resume(self) -> None: ...


class RevocationListener:
    """Subscribes to agentkeys' revocation channel and evicts what it announces."""

    def __init__(self, redis_url: str, cache: Evicting) -> None:
        self._cache = cache
        self._redis_url = redis_url
        self._redis: Redis | None = None
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.received = 0

    @property
    def subscribed(self) -> bool:
        return self._subscribed.is_set()

    async def start(self) -> None:
        """Listen from now on; wait briefly for the first subscription."""
        self._cache.suspend()
        self._redis = subscription.subscriber(self._redis_url)
        self._listener = asyncio.create_task(
            self._listen(self._redis), name="agentkeys-guard-revocations"
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=FIRST_SUBSCRIPTION_SECONDS)

    async def _listen(self, redis: Redis) -> None:
        try:
            while True:
                try:
                    await subscription.listen(
                        redis, CHANNEL, on_subscribed=self._on_subscribed, on_message=self._evict
                    )
                except (RedisError, OSError) as error:
                    logger.warning(
                        "agentkeys revocation subscription lost; the key cache is off until it is "
                        "back",
                        extra={"error": type(error).__name__},
                    )
                self._lost()
                await asyncio.sleep(RECONNECT_SECONDS)
        finally:
            self._lost()

    def _on_subscribed(self) -> None:
        self._cache.resume()
        self._subscribed.set()

    def _lost(self) -> None:
        self._subscribed.clear()
        self._cache.suspend()

    def _evict(self, data: bytes | str) -> None:
        self.received += 1
        self._cache.evict(revoked_id(data))

    async def close(self) -> None:
        """Stop listening and close the connection, each within its bound."""
        await subscription.stop(self._listener)
        self._listener = None
        if self._redis is not None:
            # Bounded: redis-py closes each connection within its connect timeout.
            with contextlib.suppress(RedisError, OSError):
                await self._redis.aclose()
            self._redis = None

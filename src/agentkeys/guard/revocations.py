"""Revocations as they happen, for a service that shares agentkeys' Redis: evict at once.

agentkeys announces every committed revocation on a Redis pub/sub channel
(``credentials.revocation_channel``, the one definition of its name and message). The guard
listens to it and evicts the credential from its cache the moment the message arrives. While the
subscription is down the cache is off (every request asks agentkeys), and it starts empty when
the subscription is back: messages may have been missed meanwhile. Without Redis, the cache's
bound (≤ 1 s) alone limits how long a revoked key may still be let through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from agentkeys.credentials.revocation_channel import CHANNEL, revoked_id

logger = logging.getLogger(__name__)

RECONNECT_SECONDS = 0.5
CONNECT_TIMEOUT_SECONDS = 0.5
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
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.received = 0

    @property
    def subscribed(self) -> bool:
        return self._subscribed.is_set()

    async def start(self) -> None:
        """Listen from now on; wait briefly for the first subscription."""
        self._cache.suspend()
        redis: Redis = Redis.from_url(
            self._redis_url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS
        )
        self._listener = asyncio.create_task(
            self._listen(redis), name="agentkeys-guard-revocations"
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=FIRST_SUBSCRIPTION_SECONDS)

    async def _listen(self, redis: Redis) -> None:
        try:
            await self._listen_until_cancelled(redis)
        finally:
            self._subscribed.clear()
            await redis.aclose()

    async def _listen_until_cancelled(self, redis: Redis) -> None:
        while True:
            try:
                await self._listen_once(redis)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                logger.warning(
                    "agentkeys revocation subscription lost; the key cache is off until it is back",
                    extra={"error": type(error).__name__},
                )
            self._subscribed.clear()
            self._cache.suspend()
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen_once(self, redis: Redis) -> None:
        async with redis.pubsub() as pubsub:
            await pubsub.subscribe(CHANNEL)
            self._cache.resume()
            self._subscribed.set()
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None:
                    # A quiet second: ping, so a dead connection is noticed within seconds.
                    await pubsub.ping()
                elif message.get("type") == "message":
                    self.received += 1
                    self._cache.evict(revoked_id(message["data"]))

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None

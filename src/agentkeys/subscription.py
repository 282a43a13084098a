"""A Redis pub/sub subscription that notices a dead or silent server within seconds, and a
bounded stop for the task listening to it. Shared by the server's revocation bus and the guard.

Every wait is bounded: connecting (``CONNECT_TIMEOUT_SECONDS``), every command's reply
(``REPLY_TIMEOUT_SECONDS``, the connection's handshake included), and the subscription itself:
a quiet poll sends PING, and no reply of any kind (message, pong, confirmation) for
``SILENCE_SECONDS`` counts as a lost subscription. redis-py's own ``health_check_interval`` only
sends a PING before a read; a server that accepts bytes but never answers (stopped, partitioned)
goes unnoticed by it, so the silence is measured here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 0.5
REPLY_TIMEOUT_SECONDS = 1.0
POLL_SECONDS = 1.0
SILENCE_SECONDS = 3.0
# How long ``stop`` waits for a listener to finish, and how often it cancels it again meanwhile.
STOP_SECONDS = 2.0
RECANCEL_SECONDS = 0.1


class SubscriptionLost(RedisError):
    """The server sent nothing, not even a pong, for ``SILENCE_SECONDS``."""


def subscriber(redis_url: str) -> Redis:
    """A client for one subscription: bounded connect and replies, and no retry of its own.

    redis-py's default retry reconnects and resubscribes inside ``get_message``: the listener
    would never learn that messages may have been missed meanwhile. Without it every loss reaches
    the caller, which turns its cache off and reconnects on its own schedule.
    """
    return Redis.from_url(
        redis_url,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=REPLY_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 0),
    )


async def listen(
    redis: Redis,
    channel: str,
    *,
    on_subscribed: Callable[[], None],
    on_message: Callable[[bytes | str], None],
    monotonic: Callable[[], float] = time.monotonic,
) -> None:
    """Subscribe to ``channel`` and hand every message to ``on_message`` until the subscription
    is lost (raises ``RedisError`` or ``OSError``); ``on_subscribed`` once the server confirmed."""
    async with redis.pubsub() as pubsub:
        await pubsub.subscribe(channel)
        heard = monotonic()
        confirmed = False
        while True:
            message = await pubsub.get_message(timeout=POLL_SECONDS)
            now = monotonic()
            if message is not None:
                heard = now
                kind = message.get("type")
                if kind == "subscribe" and not confirmed:
                    confirmed = True
                    on_subscribed()
                elif kind == "message":
                    on_message(message["data"])
            elif now - heard > SILENCE_SECONDS:
                raise SubscriptionLost(f"no reply from Redis for {SILENCE_SECONDS:g} s")
            else:
                # A quiet poll: the pong (or any message) must come before the silence bound.
                await pubsub.ping()


async def stop(task: asyncio.Task[None] | None, *, seconds: float = STOP_SECONDS) -> None:
    """Cancel ``task`` and wait until it has finished, at most ``seconds``.

    One ``cancel()`` is not enough on Python 3.11: redis-py sends commands under
    ``asyncio.wait_for``, which returns the result and drops the cancellation when the send
    completes in the same loop iteration (CPython gh-86296, fixed in 3.12). A listener loop that
    lost its cancellation would run for ever and its closer wait for ever; so cancel again until
    it is done, and give up (logged) at the bound.
    """
    if task is None or task.done():
        return
    deadline = time.monotonic() + seconds
    while not task.done():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            logger.warning("a Redis listener did not stop in time; left behind")
            return
        task.cancel()
        await asyncio.wait({task}, timeout=min(remaining, RECANCEL_SECONDS))
    if not task.cancelled() and task.exception() is not None:
        logger.warning(
            "a Redis listener ended with an error",
            extra={"error": type(task.exception()).__name__},
        )

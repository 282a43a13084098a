"""Request rate limiting: sliding-window counters in this process's memory (``local``), or in
Redis through the ``limits`` library, shared by every replica (the hot rates through leases,
``leased``).

Failure policy: **fail open**. A credential reaching this point has already been verified
against the database, and the sandbox does no harm at a higher rate; refusing every sandbox
request because Redis is down would turn a rate-limiter outage into an API outage. Every
failure is counted (``agentkeys_backend_errors_total``) and logged (at most once per
``LOG_EVERY_SECONDS``), and the response still carries the policy headers.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItemPerSecond
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool

from agentkeys.metrics import BACKEND_ERRORS
from agentkeys.ratelimit.base import RateDecision, RequestRate, RequestRateLimiter
from agentkeys.ratelimit.leased import LeasedRateLimiter
from agentkeys.ratelimit.local import LocalRateLimiter

logger = logging.getLogger(__name__)
LOG_EVERY_SECONDS = 10.0
REDIS_TIMEOUT_SECONDS = 0.5


class LimitsRateLimiter:
    """A ``RequestRateLimiter`` over any storage of the ``limits`` library."""

    def __init__(
        self,
        storage: Storage,
        rate: RequestRate,
        *,
        backend: str,
        pool: ConnectionPool | None = None,
        namespace: str = "agentkeys",
        operation: str = "rate_limit",
    ) -> None:
        self._pool = pool
        self._strategy = SlidingWindowCounterRateLimiter(storage)
        self._window_seconds = max(1, int(rate.window.total_seconds()))
        # One namespace per rate, so rates sharing a storage never share a counter.
        self._item = RateLimitItemPerSecond(rate.limit, self._window_seconds, namespace=namespace)
        self._backend = backend
        self._operation = operation
        self._last_logged = -math.inf

    async def hit(self, key: str, *, cost: int = 1) -> RateDecision:
        try:
            allowed = await self._strategy.hit(self._item, key, cost=cost)
            stats = await self._strategy.get_window_stats(self._item, key)
        except (StorageError, ConnectionError, TimeoutError, OSError) as error:
            return self._fail_open(error)
        reset = max(1, math.ceil(stats.reset_time - time.time()))
        return RateDecision(
            allowed=allowed,
            limit=self._item.amount,
            remaining=stats.remaining,
            reset_seconds=min(reset, self._window_seconds),
            window_seconds=self._window_seconds,
        )

    def _fail_open(self, error: Exception) -> RateDecision:
        BACKEND_ERRORS.labels(backend=self._backend, operation=self._operation).inc()
        now = time.monotonic()
        if now - self._last_logged >= LOG_EVERY_SECONDS:
            self._last_logged = now
            logger.warning(
                "rate limiter backend failed; letting requests through (fail-open)",
                extra={
                    "backend": self._backend,
                    "operation": self._operation,
                    "error": type(error).__name__,
                },
            )
        return RateDecision(
            allowed=True,
            limit=self._item.amount,
            remaining=self._item.amount,
            reset_seconds=self._window_seconds,
            window_seconds=self._window_seconds,
            degraded=True,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()


class LimiterBackend:
    """Where every rate the service keeps is counted: this process's memory (``storage`` None),
    or one Redis storage shared by the replicas."""

    def __init__(
        self, storage: Storage | None, *, name: str, pool: ConnectionPool | None = None
    ) -> None:
        self._storage = storage
        self.name = name
        self._pool = pool

    def limiter(self, rate: RequestRate, *, namespace: str) -> RequestRateLimiter:
        """A rate of its own: counters (and failure counts) apart from every other rate's.
        Every hit asks the backend (exact over replicas)."""
        if self._storage is None:
            return LocalRateLimiter(rate)
        operation = "rate_limit" if namespace == "credential" else f"{namespace}_rate_limit"
        return LimitsRateLimiter(
            self._storage,
            rate,
            backend=self.name,
            namespace=f"agentkeys:{namespace}",
            operation=operation,
        )

    def hot_limiter(self, rate: RequestRate, *, namespace: str) -> RequestRateLimiter:
        """A rate counted on every verified request (a credential's, a network's): shared
        through leases (``leased``), so most hits ask no other process."""
        shared = self.limiter(rate, namespace=namespace)
        if self._storage is None:
            return shared  # one process: its own memory is already the shared counter
        return LeasedRateLimiter(
            shared,
            limit=rate.limit,
            window_seconds=max(1, int(rate.window.total_seconds())),
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()


def memory_backend() -> LimiterBackend:
    """For one process: counters live in this process only."""
    return LimiterBackend(None, name="memory")


def redis_backend(redis_url: str) -> LimiterBackend:
    """For many replicas: counters in Redis, shared by all of them."""
    pool = ConnectionPool.from_url(
        redis_url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )
    storage = RedisStorage(
        "async+" + redis_url,
        implementation="redispy",
        wrap_exceptions=True,
        connection_pool=pool,  # type: ignore[arg-type]  # limits passes it on to redis-py
    )
    return LimiterBackend(storage, name="redis", pool=pool)


def memory_rate_limiter(rate: RequestRate) -> LocalRateLimiter:
    """A single rate in this process's memory."""
    return LocalRateLimiter(rate)

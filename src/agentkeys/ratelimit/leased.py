"""A rate shared through Redis without a round trip per request: leased budgets.

Each process takes requests from the shared counter in leases: a hit that finds no lease of its
key takes ``n`` requests at once from the shared (Redis) counter, atomically and only if the
rate has room for all ``n``, and spends them locally, one dict entry per key, until they are
gone. The shared counter so counts every request *before* any process admits it, and:

- **Overshoot bound.** A request is counted when its lease is taken, at or before the moment it
  is admitted. In any window of the rate, the requests admitted are those counted in that window
  (at most ``limit``, as the shared counter allows) plus those counted before it and spent
  within it: at most the leases outstanding when the window began, one per process and key.
  A lease is at most ``limit // LEASE_DIVISOR`` requests (1 % of the limit), so with N
  processes a key is admitted at most ``limit + N x (limit // 100)`` requests in any window,
  never more (``tests/integration/test_leased_rates.py`` checks it). A rate under 100 requests
  per window is never leased: every hit asks the shared counter, exactly as before.
- **Early refusals.** Requests leased by a process and not spent there are counted yet never
  served: another process may refuse a request while this one still holds part of a lease (at
  most one lease per process and key). Leases shrink as the shared rate fills (a quarter of
  what the shared counter had left at the previous lease), and a lease the counter cannot grant
  whole is retried for the hit's own cost alone, so near the limit every process asks for
  exactly what it needs.
- **Headers.** ``remaining`` is what the shared counter had left when this process last took a
  lease, plus what is left of that lease: exact when one process serves the key, an estimate
  (other processes may have spent since) otherwise.
- **One refill at a time.** Hits of a key that find no lease while one is being taken wait for
  it and spend it, so a burst of concurrent first hits takes one lease, not one each. When the
  shared counter refused that refill, the hits waiting on it that cost as much are refused with
  the same answer rather than asking in turn (a client hammering past its rate costs one round
  trip per refusal of the burst, not a queue of them).
- **Failures.** A shared counter that cannot be asked fails open, as the limiter it wraps
  (counted and logged there), for the hits that waited on that refill too; no lease is taken,
  so the next hit asks again.

Memory: one small entry per key holding a lease, at most ``max_leases`` of them (the oldest is
dropped first: its unspent requests are simply never served, the safe side).
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass

from agentkeys.ratelimit.base import RateDecision, RequestRateLimiter

# A lease is at most this fraction of the limit: the overshoot bound per process.
LEASE_DIVISOR = 100
# A lease is at most this fraction of what the shared counter had left at the previous one.
SHRINK_DIVISOR = 4
MAX_LEASES = 100_000


@dataclass(slots=True)
class _Lease:
    left: int  # requests taken from the shared counter and not yet spent here
    shared_remaining: int  # what the shared counter had left after granting them
    reset_at: float  # wall-clock instant the shared counter next frees a request


class LeasedRateLimiter:
    """A ``RequestRateLimiter`` spending leases of a shared limiter's requests locally."""

    def __init__(
        self,
        shared: RequestRateLimiter,
        *,
        limit: int,
        window_seconds: int,
        max_leases: int = MAX_LEASES,
    ) -> None:
        self._shared = shared
        self._limit = limit
        self._window = window_seconds
        self._max_lease = limit // LEASE_DIVISOR
        self._max_leases = max_leases
        self._leases: dict[str, _Lease] = {}
        # The refill under way for a key, resolved with its decision and the cost it asked for.
        self._refills: dict[str, asyncio.Future[tuple[RateDecision, int] | None]] = {}

    @property
    def max_lease(self) -> int:
        """The largest lease a process takes (0: every hit asks the shared counter)."""
        return self._max_lease

    async def hit(self, key: str, *, cost: int = 1) -> RateDecision:
        while True:
            lease = self._leases.get(key)
            if lease is not None and lease.left >= cost:
                lease.left -= cost
                return RateDecision(
                    allowed=True,
                    limit=self._limit,
                    remaining=lease.shared_remaining + lease.left,
                    reset_seconds=min(
                        self._window, max(1, math.ceil(lease.reset_at - time.time()))
                    ),
                    window_seconds=self._window,
                )
            refilling = self._refills.get(key)
            if refilling is None:
                break
            # One refill per key at a time: hits missing together wait for it and spend its
            # lease, rather than each taking (and mostly wasting) a lease of its own.
            outcome = await asyncio.shield(refilling)
            if outcome is not None:
                decision, refill_cost = outcome
                if decision.degraded:
                    return decision  # the shared counter is away: fail open with it, not in turn
                if not decision.allowed and cost >= refill_cost:
                    return decision  # no room for as much just now: refused alike, not in turn
        refill: asyncio.Future[tuple[RateDecision, int] | None]
        refill = asyncio.get_running_loop().create_future()
        self._refills[key] = refill
        taken = None
        try:
            taken = await self._take(key, cost, lease)
            return taken
        finally:
            del self._refills[key]
            refill.set_result(None if taken is None else (taken, cost))

    async def _take(self, key: str, cost: int, lease: _Lease | None) -> RateDecision:
        # What a lease at hand could not pay stays there: the hit takes its whole cost anew.
        known = lease.shared_remaining if lease is not None else self._limit
        size = max(cost, min(self._max_lease, known // SHRINK_DIVISOR))
        decision = await self._shared.hit(key, cost=size)
        if not decision.allowed and size > cost:
            # No room for the whole lease: perhaps for this hit alone.
            size = cost
            decision = await self._shared.hit(key, cost=cost)
        if not decision.allowed or decision.degraded:
            return decision
        spare = size - cost
        held = self._leases.get(key)
        if held is not None:  # what was left of it (less than this hit's cost) stays
            held.left += spare
            held.shared_remaining = decision.remaining
            held.reset_at = time.time() + decision.reset_seconds
            spare = held.left
        elif spare > 0:
            if len(self._leases) >= self._max_leases:
                del self._leases[next(iter(self._leases))]
            self._leases[key] = _Lease(
                left=spare,
                shared_remaining=decision.remaining,
                reset_at=time.time() + decision.reset_seconds,
            )
        return RateDecision(
            allowed=True,
            limit=decision.limit,
            remaining=decision.remaining + spare,
            reset_seconds=decision.reset_seconds,
            window_seconds=decision.window_seconds,
        )

    async def close(self) -> None:
        await self._shared.close()

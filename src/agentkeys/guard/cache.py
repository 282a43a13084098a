"""The guard's cache of agentkeys' positive answers: at most 1 s old, bounded, LRU. No I/O.

Keyed by a keyed hash of the agent key (HMAC-SHA256 under a random per-process secret), never
the key: a memory dump of the cache holds nothing anyone can present. One entry per key holds
the identity agentkeys confirmed and the requirements (scopes, or method and path) it granted
it; a requirement not yet granted is asked of agentkeys, so every scope decision is agentkeys'
own (its scope catalog and upstream route table). Refusals are never cached.

Rate: agentkeys counts one request per verification, so a request served from the cache is one
it never sees. The guard counts those itself, per credential, over the credential's rate window
(``rate_window_seconds``: agentkeys' ``[request_rate]`` window): the cache serves a request only
while agentkeys' last reported room exceeds what was served here unseen, and when agentkeys
answers again, its room less those unseen requests is the credential's true room: below zero,
the request is over the rate (the guard answers 429 itself). The cache never refuses anything.

Revocations evict at once (``evict``, called by the revocation listener); ``generation`` makes
sure a verification begun before an eviction cannot store its possibly stale answer after it.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from agentkeys.guard.identity import AgentIdentity, RateLimitState
from agentkeys.guard.verdict import Admission

MAX_CACHE_SECONDS = 1.0
# Requirements remembered per key: a route with ids in its path is one requirement per id.
MAX_REQUIREMENTS_PER_KEY = 64


@dataclass(slots=True)
class _Entry:
    identity: AgentIdentity
    confirmed_at: float
    granted: OrderedDict[bytes, None] = field(default_factory=OrderedDict)


@dataclass(slots=True)
class _Allowance:
    """agentkeys' last word on a credential's rate, and what was served here unseen in this
    window (a fixed window of ``rate_window_seconds`` from ``window_started``)."""

    limit: int
    remaining: int
    resets_at: float
    window_started: float
    drawn: int = 0
    window_seconds: int | None = None

    def state(self, instant: float) -> RateLimitState:
        return RateLimitState(
            limit=self.limit,
            remaining=max(0, self.remaining - self.drawn),
            reset_seconds=max(1, math.ceil(self.resets_at - instant)),
            window_seconds=self.window_seconds,
        )


@dataclass(frozen=True, slots=True)
class Counted:
    """A request agentkeys granted, with the requests served here that it did not see:
    ``over`` when those leave no room for this one; ``wait_seconds`` until they are forgotten."""

    rate: RateLimitState
    over: bool
    wait_seconds: int


class KeyDigester:
    """HMAC-SHA256 of a key under a secret drawn for this process: what the cache is keyed by."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)

    def digest(self, key: str) -> bytes:
        return hmac.digest(self._secret, key.encode("utf-8"), hashlib.sha256)


class IdentityCache:
    """Identities agentkeys confirmed, each for at most ``max_age_seconds`` (≤ 1 s), for at most
    ``max_entries`` keys (the least recently used leave first)."""

    def __init__(
        self,
        *,
        max_age_seconds: float,
        max_entries: int,
        rate_window_seconds: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate_window_seconds <= 0:
            raise ValueError("the rate window must be positive")
        if not 0 <= max_age_seconds <= MAX_CACHE_SECONDS:
            raise ValueError(f"the cache bound must be 0-{MAX_CACHE_SECONDS} s")
        if max_entries < 1:
            raise ValueError("the cache needs room for at least one key")
        self._max_age = max_age_seconds
        self._max_entries = max_entries
        self._rate_window = rate_window_seconds
        self._monotonic = monotonic
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        self._digest_by_id: dict[str, bytes] = {}
        self._allowances: OrderedDict[str, _Allowance] = OrderedDict()
        self._suspended = False
        self._generation = 0

    @property
    def generation(self) -> int:
        """Evictions and clears so far: read before asking agentkeys, handed back to ``store``."""
        return self._generation

    @property
    def enabled(self) -> bool:
        return self._max_age > 0 and not self._suspended

    def serve(self, digest: bytes, requirement: bytes, *, now: datetime) -> Admission | None:
        """This key's cached admission for ``requirement``, drawing one request from its
        credential's allowance; ``None`` when agentkeys must be asked: not cached, older than the
        bound, this requirement never granted, expired at ``now``, or the allowance spent."""
        entry = self._entries.get(digest) if self.enabled else None
        if entry is None:
            return None
        instant = self._monotonic()
        if instant - entry.confirmed_at >= self._max_age:
            self._forget(entry.identity.credential_id)
            return None
        # Expiry is exact: the cached instant is compared on every request.
        if requirement not in entry.granted or now >= entry.identity.expires_at:
            return None
        allowance = self._allowances.get(entry.identity.credential_id)
        if allowance is None or allowance.drawn >= allowance.remaining:
            return None
        allowance.drawn += 1
        self._entries.move_to_end(digest)
        self._allowances.move_to_end(entry.identity.credential_id)
        return Admission(identity=entry.identity, rate=allowance.state(instant), from_cache=True)

    def store(
        self,
        digest: bytes,
        requirement: bytes,
        identity: AgentIdentity,
        rate: RateLimitState,
        *,
        generation: int,
    ) -> Counted:
        """Count agentkeys' grant of ``requirement`` to this key with the requests served here
        unseen, and remember the grant unless anything was evicted since ``generation`` (the
        answer may predate a revocation) or the request is over the rate."""
        instant = self._monotonic()
        allowance = self._remember_rate(identity.credential_id, rate, instant)
        counted = Counted(
            # agentkeys' own wait is the truthful one for a request it counted.
            rate=RateLimitState(
                rate.limit,
                max(0, rate.remaining - allowance.drawn),
                rate.reset_seconds,
                rate.window_seconds,
            ),
            over=rate.remaining < allowance.drawn,
            wait_seconds=max(1, math.ceil(allowance.window_started + self._rate_window - instant)),
        )
        if counted.over or not self.enabled or generation != self._generation:
            return counted
        entry = self._entries.get(digest)
        if entry is None or entry.identity != identity:
            self._forget(identity.credential_id)
            entry = _Entry(identity=identity, confirmed_at=instant)
            self._entries[digest] = entry
            self._digest_by_id[identity.credential_id] = digest
            while len(self._entries) > self._max_entries:
                _, oldest = self._entries.popitem(last=False)
                self._digest_by_id.pop(oldest.identity.credential_id, None)
        entry.confirmed_at = instant
        entry.granted[requirement] = None
        entry.granted.move_to_end(requirement)
        if len(entry.granted) > MAX_REQUIREMENTS_PER_KEY:
            entry.granted.popitem(last=False)
        self._entries.move_to_end(digest)
        return counted

    def _remember_rate(
        self, credential_id: str, rate: RateLimitState, instant: float
    ) -> _Allowance:
        allowance = self._allowances.get(credential_id)
        if allowance is None or instant - allowance.window_started >= self._rate_window:
            # A new window: what was served here in the last one no longer counts.
            allowance = _Allowance(
                limit=rate.limit, remaining=rate.remaining, resets_at=0.0, window_started=instant
            )
            self._allowances[credential_id] = allowance
        allowance.limit = rate.limit
        allowance.remaining = rate.remaining
        allowance.resets_at = instant + rate.reset_seconds
        allowance.window_seconds = rate.window_seconds
        self._allowances.move_to_end(credential_id)
        while len(self._allowances) > self._max_entries:
            self._allowances.popitem(last=False)
        return allowance

    def evict(self, credential_id: str) -> None:
        """Forget a revoked credential, and refuse every ``store`` of an answer begun before."""
        self._generation += 1
        self._forget(credential_id)
        self._allowances.pop(credential_id, None)

    def suspend(self) -> None:
        """Stop serving from the cache and forget it (revocations may be missed meanwhile)."""
        self._suspended = True
        self.clear()

    def resume(self) -> None:
        """Serve from the cache again, from empty."""
        self.clear()
        self._suspended = False

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
        self._digest_by_id.clear()

    def _forget(self, credential_id: str) -> None:
        digest = self._digest_by_id.pop(credential_id, None)
        if digest is not None:
            self._entries.pop(digest, None)

    def __len__(self) -> int:
        return len(self._entries)

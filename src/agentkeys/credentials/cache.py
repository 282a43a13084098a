"""An in-process cache of verified credentials, so the hot path rarely touches the database.

Staleness is bounded twice over: each entry lives at most ``max_age_seconds`` (0.5 s by
default), and a revocation evicts the credential at once here and, through the revocation bus,
on every other replica. Expiry needs no invalidation: the cached ``expires_at`` is checked on
every request. Only verified credentials are cached; unknown keys are not, so guessing cannot
fill the cache.

A look-up that read the database before a revocation committed may finish after the eviction:
``generation`` counts evictions, the verifier reads it before its look-up and passes it to
``put``, and ``put`` stores nothing if any eviction happened in between. So an eviction is never
undone by a stale read, whichever credential it was for (revocations are rare: a look-up that
loses its ``put`` to one just reads again next time).

The cache holds any verified identity with an ``id`` (agent credentials; the admin feature's
admin keys in a cache of their own), and ``SingleFlight`` shares one look-up among the requests
that miss together. ``KeyCaches`` lets the revocation bus evict from several caches at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol

from typing_extensions import TypeVar

from agentkeys.credentials.identity import AuthenticatedCredential
from agentkeys.metrics import KEY_CACHE_HITS, KEY_CACHE_MISSES


class Identified(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=Identified, default=AuthenticatedCredential)


class VerifiedKeyCache(Generic[T]):
    def __init__(
        self,
        *,
        max_age_seconds: float,
        max_entries: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
        name: str = "agent",
    ) -> None:
        # ``name`` labels the hit and miss counters (``agent``, ``admin``): a fixed word.
        self._hits = KEY_CACHE_HITS.labels(cache=name)
        self._misses = KEY_CACHE_MISSES.labels(cache=name)
        self._max_age = max_age_seconds
        self._max_entries = max_entries
        self._monotonic = monotonic
        self._by_digest: dict[str, tuple[float, T]] = {}
        self._digest_by_id: dict[str, str] = {}
        self._suspended = False
        self._generation = 0

    @property
    def generation(self) -> int:
        """How many evictions (revocations, clears) so far: read before a look-up, for ``put``."""
        return self._generation

    @property
    def enabled(self) -> bool:
        return self._max_age > 0 and not self._suspended

    def suspend(self) -> None:
        """Stop caching and forget everything (revocations may be missed meanwhile)."""
        self._suspended = True
        self.clear()

    def resume(self) -> None:
        """Cache again, from empty: whatever was missed while suspended is not in the cache."""
        self.clear()
        self._suspended = False

    def get(self, digest: str) -> T | None:
        entry = None if self._suspended else self._by_digest.get(digest)
        if entry is None:
            self._misses.inc()
            return None
        stored_at, credential = entry
        if self._monotonic() - stored_at >= self._max_age:
            self._forget(credential.id)
            self._misses.inc()
            return None
        self._hits.inc()
        return credential

    def put(self, digest: str, credential: T, *, generation: int) -> None:
        """Store a credential read while the cache was at ``generation``, unless anything was
        evicted since (that read may predate a revocation's commit)."""
        if not self.enabled or generation != self._generation:
            return
        if len(self._by_digest) >= self._max_entries:
            # Oldest first: dicts keep insertion order.
            oldest = next(iter(self._by_digest))
            self._forget(self._by_digest[oldest][1].id)
        self._by_digest[digest] = (self._monotonic(), credential)
        self._digest_by_id[credential.id] = digest

    def evict(self, credential_id: str) -> None:
        """Forget a revoked credential, and refuse every ``put`` of a look-up begun before."""
        self._generation += 1
        self._forget(credential_id)

    def _forget(self, credential_id: str) -> None:
        # Ageing out and making room: nothing changed in the database, no generation passes.
        digest = self._digest_by_id.pop(credential_id, None)
        if digest is not None:
            self._by_digest.pop(digest, None)

    def clear(self) -> None:
        self._generation += 1
        self._by_digest.clear()
        self._digest_by_id.clear()

    def __len__(self) -> int:
        return len(self._by_digest)


class Evicting(Protocol):
    """What the revocation bus needs of the caches it keeps true."""

    def evict(self, credential_id: str) -> None: ...

    def suspend(self) -> None: ...

    def resume(self) -> None: ...


class KeyCaches:
    """Several caches evicted, suspended and resumed together (agent and admin keys): ids of
    different kinds never collide (``ws_agent_cred_…``, ``ws_admin_key_…``)."""

    def __init__(self, *caches: Evicting) -> None:
        self._caches = caches

    def evict(self, credential_id: str) -> None:
        for cache in self._caches:
            cache.evict(credential_id)

    def suspend(self) -> None:
        for cache in self._caches:
            cache.suspend()

    def resume(self) -> None:
        for cache in self._caches:
            cache.resume()


class SingleFlight(Generic[T]):
    """One database look-up per key digest at a time, its result cached unless an eviction
    happened meanwhile.

    When a busy key's cache entry lapses, the requests arriving together share one look-up
    instead of each queueing its own. Only a look-up begun since the last eviction is joined: an
    older one may have read the row before a revocation committed, and a request arriving after
    the revocation must not share it.
    """

    def __init__(self, cache: VerifiedKeyCache[T]) -> None:
        self._cache = cache
        # Per digest: the running look-up and the cache generation it began in.
        self._inflight: dict[str, tuple[int, asyncio.Future[T]]] = {}

    async def load(self, key_digest: str, loader: Callable[[str], Awaitable[T]]) -> T:
        generation = self._cache.generation
        inflight = self._inflight.get(key_digest)
        if inflight is not None and inflight[0] == generation:
            lookup = inflight[1]
        else:
            lookup = asyncio.ensure_future(self._run(key_digest, loader, generation))
            self._inflight[key_digest] = (generation, lookup)
            lookup.add_done_callback(lambda done: self._forget(key_digest, done))
        return await asyncio.shield(lookup)

    async def _run(
        self, key_digest: str, loader: Callable[[str], Awaitable[T]], generation: int
    ) -> T:
        found = await loader(key_digest)
        self._cache.put(key_digest, found, generation=generation)
        return found

    def _forget(self, key_digest: str, lookup: asyncio.Future[T]) -> None:
        # Only this look-up: a newer one for the same key may have replaced it meanwhile.
        inflight = self._inflight.get(key_digest)
        if inflight is not None and inflight[1] is lookup:
            del self._inflight[key_digest]

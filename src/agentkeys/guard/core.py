"""``Guard``: is this request's agent key good for it? Asked of a remote agentkeys, cached ≤ 1 s.

The framework-free heart of ``agentkeys.guard``: the ASGI middleware and the FastAPI dependency
both call ``Guard.check`` with the request's headers and what it needs, and get an ``Admission``
(who, and the rate after this request) or a ``Refusal`` (the envelope to answer).

Order: the key's presence and format (locally: a malformed key is refused without a call), then
the cache, then agentkeys. When agentkeys cannot be asked (down, slow, an unreadable answer, the
guard's own key refused) the answer is 503: the guard fails closed, it never lets a request
through that agentkeys did not vouch for within the cache bound.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import httpx
from pydantic import SecretStr

from agentkeys.errors import echo
from agentkeys.guard.cache import IdentityCache, KeyDigester
from agentkeys.guard.presented import presented_key
from agentkeys.guard.remote import (
    DEFAULT_LIMITS,
    DEFAULT_TIMEOUT,
    MAX_SCOPE_CHARACTERS,
    MAX_SCOPES,
    AgentkeysUnavailable,
    RemoteVerifier,
    Requirement,
)
from agentkeys.guard.revocations import RevocationListener
from agentkeys.guard.verdict import (
    UNAVAILABLE_STATUS,
    Admission,
    Refusal,
    no_route,
    over_the_rate,
    refusal_of,
    unavailable,
)
from agentkeys.redaction import redact

if TYPE_CHECKING:
    from agentkeys.guard.dependency import IdentityDependency

logger = logging.getLogger(__name__)

DEFAULT_CACHE_SECONDS = 0.5
DEFAULT_CACHE_ENTRIES = 10_000
# agentkeys' shipped ``[request_rate]`` window; set the guard's to your policy's.
DEFAULT_RATE_WINDOW_SECONDS = 60.0
# An outage is logged at most this often: a busy service would otherwise log every request.
OUTAGE_LOG_INTERVAL_SECONDS = 10.0


@dataclass(slots=True)
class GuardStats:
    """What the guard did since it started, for a service's own metrics."""

    remote_calls: int = 0
    cache_hits: int = 0
    refusals: int = 0
    unavailable: int = 0


class Guard:
    """Verifies agent keys against a remote agentkeys for a service of your own.

    ``base_url``: where agentkeys serves; ``verify_key``: an admin key (``wsk_admin_…``) with the
    ``verify`` role, which agentkeys asks of every verification caller. ``cache_seconds`` (0-1,
    default 0.5; 0 asks agentkeys on every request) and ``cache_entries`` bound the cache;
    ``rate_window_seconds`` is agentkeys' request-rate window (its policy's ``[request_rate]``),
    over which requests served from the cache, which agentkeys never sees, are counted here;
    ``redis_url``: agentkeys' Redis, when this service can reach it, to evict revoked keys at
    once. Use as ``async with guard:`` (or ``FastAPI(lifespan=guard.lifespan)``); it also starts
    itself on first use.
    """

    def __init__(
        self,
        base_url: str,
        *,
        verify_key: str | SecretStr,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        cache_entries: int = DEFAULT_CACHE_ENTRIES,
        rate_window_seconds: float = DEFAULT_RATE_WINDOW_SECONDS,
        redis_url: str | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        limits: httpx.Limits = DEFAULT_LIMITS,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._remote = RemoteVerifier(
            base_url,
            verify_key=verify_key if isinstance(verify_key, SecretStr) else SecretStr(verify_key),
            timeout=timeout,
            limits=limits,
            transport=transport,
        )
        self._cache = IdentityCache(
            max_age_seconds=cache_seconds,
            max_entries=cache_entries,
            rate_window_seconds=rate_window_seconds,
            monotonic=monotonic,
        )
        self._digester = KeyDigester()
        self._listener = RevocationListener(redis_url, self._cache) if redis_url else None
        self._now = now
        self._monotonic = monotonic
        self._started = False
        self._starting = asyncio.Lock()
        self._outage_logged_at: float | None = None
        self.stats = GuardStats()

    def __repr__(self) -> str:
        return f"Guard({self._remote!r}, revocations={'redis' if self._listener else 'bound'})"

    @property
    def listening_for_revocations(self) -> bool:
        """Whether revocations reach this guard at once (Redis subscribed) right now."""
        return self._listener is not None and self._listener.subscribed

    async def start(self) -> None:
        """Subscribe to revocations (when Redis was given). Idempotent."""
        async with self._starting:
            if self._started:
                return
            self._remote.open()
            if self._listener is not None:
                await self._listener.start()
            self._started = True

    async def close(self) -> None:
        """Stop listening and close the connections to agentkeys and Redis."""
        if self._listener is not None:
            await self._listener.close()
        await self._remote.close()
        self._started = False

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        error_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """A Starlette/FastAPI ``lifespan``: the guard runs while the application does."""
        async with self:
            yield

    def require(self, *scopes: str) -> IdentityDependency:
        """A FastAPI dependency admitting a request whose key holds every one of ``scopes`` (none:
        agentkeys' upstream route table decides by method and path); it returns the
        ``AgentIdentity``. Needs ``install_guard(app)`` once for refusals and RateLimit headers."""
        # Imported here: the guard itself needs no web framework, only this dependency does.
        from agentkeys.guard.dependency import identity_dependency  # noqa: PLC0415

        if len(scopes) > MAX_SCOPES or not all(
            0 < len(scope) <= MAX_SCOPE_CHARACTERS for scope in scopes
        ):
            raise ValueError(
                f"at most {MAX_SCOPES} scopes of 1-{MAX_SCOPE_CHARACTERS} characters each"
            )
        return identity_dependency(self, scopes)

    async def check(
        self,
        headers: Iterable[tuple[bytes, bytes]],
        *,
        scopes: tuple[str, ...] = (),
        method: str,
        path: str,
        client_address: str | None = None,
    ) -> Admission | Refusal:
        """Admit or refuse a request by its raw ASGI ``headers``: it needs every one of
        ``scopes``, or, with none, what agentkeys' upstream route for ``method`` ``path`` needs.
        ``client_address``: the agent's IP, passed on for agentkeys' per-network rate."""
        if not self._started:
            await self.start()
        presented = presented_key(headers)
        requirement = (
            Requirement(scopes=scopes) if scopes else Requirement(method=method, path=path)
        )
        if isinstance(presented, Refusal):
            verdict: Admission | Refusal = presented
        elif not scopes and not requirement.is_routable():
            # No upstream route can name it, and agentkeys would refuse to look it up.
            verdict = no_route(_request(requirement))
        else:
            verdict = await self._verify(
                presented.secret, requirement, client_address=_ip_or_none(client_address)
            )
        if isinstance(verdict, Refusal) and verdict.status != UNAVAILABLE_STATUS:
            self.stats.refusals += 1
        return verdict

    async def _verify(
        self, key: str, requirement: Requirement, *, client_address: str | None
    ) -> Admission | Refusal:
        """From the cache, else from agentkeys (counting what the cache served unseen)."""
        digest = self._digester.digest(key)
        cached = self._cache.serve(digest, requirement.cache_key(), now=self._now())
        if cached is not None:
            self.stats.cache_hits += 1
            return cached
        generation = self._cache.generation
        self.stats.remote_calls += 1
        try:
            answer = await self._remote.verify(key, requirement, client_address=client_address)
        except AgentkeysUnavailable as outage:
            self.stats.unavailable += 1
            self._log_outage(outage.reason)
            return unavailable()
        grant = answer.grant()
        if grant is None:
            return refusal_of(
                answer,
                scopes=tuple(echo(scope) for scope in requirement.scopes),
                request=_request(requirement),
            )
        identity, rate = grant
        counted = self._cache.store(
            digest, requirement.cache_key(), identity, rate, generation=generation
        )
        if counted.over:
            return over_the_rate(counted.rate, counted.wait_seconds)
        return Admission(identity=identity, rate=counted.rate)

    def _log_outage(self, reason: str) -> None:
        instant = self._monotonic()
        if (
            self._outage_logged_at is None
            or instant - self._outage_logged_at >= OUTAGE_LOG_INTERVAL_SECONDS
        ):
            self._outage_logged_at = instant
            logger.error(
                "agentkeys could not verify a key (%s); refusing with 503 (fail closed)", reason
            )


def _ip_or_none(address: str | None) -> str | None:
    """An IP address in its canonical form, or nothing (a Unix socket's peer, a test's name)."""
    if address is None:
        return None
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def _request(requirement: Requirement) -> str:
    """A request judged by agentkeys' upstream routes, for a 403's message: its path quoted short
    and with keys hidden."""
    return f"{echo(redact(requirement.method or ''), 16)} {echo(redact(requirement.path or ''))}"

"""Expired and revoked keys are refused at the exact instant, on every replica.

Two apps in one process share one database and one frozen clock: two replicas. Each holds the
key in its verified-key cache (each is called once first), so a stale cache entry would show.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest

from agentkeys.clock import FrozenClock
from tests.support.app import START, AppFactory, client_for
from tests.support.assertions import assert_envelope, parse_instant
from tests.support.factories import issue_credential, key_header

# Expiry instants as each backend stores and compares them.
pytestmark = pytest.mark.both_backends

SELF = "/v1/agent-credentials/self"
# Sub-millisecond digits on the clock at issuance: expires_at is truncated to the millisecond.
ODD_START = timedelta(seconds=7, microseconds=123_456)
# Measuring after the answer arrives adds a little to what the cache bound allows.
SLACK_SECONDS = 0.05
CACHE_SECONDS = [pytest.param(1.0, id="cached"), pytest.param(0.0, id="uncached")]


@asynccontextmanager
async def two_replicas(
    make_app: AppFactory, **settings: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    async with (
        client_for(make_app(**settings)) as one,
        client_for(make_app(**settings), client_address="203.0.113.8") as two,
    ):
        yield one, two


async def on_both(
    replicas: tuple[httpx.AsyncClient, httpx.AsyncClient], key: str
) -> list[httpx.Response]:
    return [await replica.get(SELF, headers=key_header(key)) for replica in replicas]


async def warm(replicas: tuple[httpx.AsyncClient, httpx.AsyncClient], key: str) -> None:
    """Verify the key once on each replica, so it sits in both caches (when caching is on)."""
    for response in await on_both(replicas, key):
        assert response.status_code == 200, response.text


class TestExactExpiry:
    @pytest.mark.parametrize("cache_seconds", CACHE_SECONDS)
    async def test_refused_from_expires_at_on_every_replica(
        self, make_app: AppFactory, clock: FrozenClock, cache_seconds: float
    ) -> None:
        clock.advance(ODD_START)
        async with two_replicas(make_app, key_cache_seconds=cache_seconds) as replicas:
            issued = await issue_credential(replicas[0], requested_ttl_seconds=60)
            expires_at = parse_instant(issued["expires_at"])
            await warm(replicas, issued["credential"])

            clock.set(expires_at - timedelta(milliseconds=1))
            a_millisecond_before = await on_both(replicas, issued["credential"])
            clock.set(expires_at - timedelta(microseconds=1))
            a_microsecond_before = await on_both(replicas, issued["credential"])
            clock.set(expires_at)
            at_expiry = await on_both(replicas, issued["credential"])
            clock.set(expires_at + timedelta(milliseconds=1))
            after = await on_both(replicas, issued["credential"])

        # The instant shown is the instant enforced: the issue time, truncated to the millisecond,
        # plus the TTL.
        assert expires_at == START + timedelta(seconds=67, milliseconds=123)
        for response in [*a_millisecond_before, *a_microsecond_before]:
            assert response.status_code == 200, response.text
            assert response.json()["expires_at"] == issued["expires_at"]
        for response in [*at_expiry, *after]:
            assert_envelope(response, status=401, code="AUTH_EXPIRED_CREDENTIAL")

    @pytest.mark.parametrize("cache_seconds", CACHE_SECONDS)
    async def test_revoked_then_expired_is_refused_on_every_replica(
        self, make_app: AppFactory, clock: FrozenClock, cache_seconds: float
    ) -> None:
        """Cached on both, revoked through one, then at ``expires_at``: refused everywhere.

        The revoking replica names the revocation (checked before expiry); the other may still
        hold the key in its cache, where only the expiry is known, and must refuse it all the same.
        """
        async with two_replicas(make_app, key_cache_seconds=cache_seconds) as (one, two):
            issued = await issue_credential(one, requested_ttl_seconds=60)
            await warm((one, two), issued["credential"])
            revoked = await two.post(
                issued["revocation_path"], headers=key_header(issued["credential"])
            )
            clock.set(parse_instant(issued["expires_at"]))
            elsewhere, revoker = await on_both((one, two), issued["credential"])

        assert revoked.status_code == 200
        assert_envelope(revoker, status=401, code="AUTH_REVOKED_CREDENTIAL")
        # Uncached, the other replica reads the row and names the revocation too.
        allowed = {"AUTH_REVOKED_CREDENTIAL"}
        if cache_seconds > 0:
            allowed.add("AUTH_EXPIRED_CREDENTIAL")
        assert elsewhere.json()["error_code"] in allowed, elsewhere.text
        assert_envelope(elsewhere, status=401, code=elsewhere.json()["error_code"])


class TestRevocationOnEveryReplica:
    @pytest.mark.parametrize("cache_seconds", [0.3, 1.0])
    async def test_without_redis_the_other_replica_refuses_within_its_cache_bound(
        self, make_app: AppFactory, cache_seconds: float
    ) -> None:
        async with two_replicas(make_app, key_cache_seconds=cache_seconds) as (one, two):
            issued = await issue_credential(one)
            headers = key_header(issued["credential"])
            await warm((one, two), issued["credential"])

            revoked = await one.post(issued["revocation_path"], headers=headers)
            started = time.monotonic()
            on_the_revoking_replica = await one.get(SELF, headers=headers)
            while (answer := await two.get(SELF, headers=headers)).status_code == 200:
                elapsed = time.monotonic() - started
                assert elapsed < cache_seconds + SLACK_SECONDS, "accepted past the cache bound"
                await asyncio.sleep(0.02)

        assert revoked.json()["outcome"] == "revoked"
        assert_envelope(on_the_revoking_replica, status=401, code="AUTH_REVOKED_CREDENTIAL")
        assert_envelope(answer, status=401, code="AUTH_REVOKED_CREDENTIAL")

    @pytest.mark.redis
    async def test_with_redis_the_other_replica_refuses_at_once(
        self, make_app: AppFactory, redis_url: str
    ) -> None:
        async with two_replicas(make_app, redis_url=redis_url, key_cache_seconds=1.0) as replicas:
            one, two = replicas
            issued = await issue_credential(one)
            headers = key_header(issued["credential"])
            await warm(replicas, issued["credential"])

            revoked = await one.post(issued["revocation_path"], headers=headers)
            started = time.monotonic()
            on_the_revoking_replica = await one.get(SELF, headers=headers)
            while (answer := await two.get(SELF, headers=headers)).status_code == 200:
                elapsed = time.monotonic() - started
                assert elapsed < 0.9, "refused only by the cache bound, not the announcement"
                await asyncio.sleep(0.01)

        assert revoked.json()["outcome"] == "revoked"
        assert_envelope(on_the_revoking_replica, status=401, code="AUTH_REVOKED_CREDENTIAL")
        assert_envelope(answer, status=401, code="AUTH_REVOKED_CREDENTIAL")

    @pytest.mark.redis
    async def test_with_redis_a_revocation_through_either_replica_reaches_the_other(
        self, make_app: AppFactory, redis_url: str
    ) -> None:
        """Several keys cached on both; each revoked through the replica that did not issue it."""
        async with two_replicas(make_app, redis_url=redis_url, key_cache_seconds=1.0) as replicas:
            keys = [
                await issue_credential(replicas[n % 2], user_email=f"dev{n}@example.com")
                for n in range(4)
            ]
            for issued in keys:
                await warm(replicas, issued["credential"])
            lag: list[float] = []
            for n, issued in enumerate(keys):
                revoker, other = replicas[(n + 1) % 2], replicas[n % 2]
                headers = key_header(issued["credential"])
                assert (await revoker.post(issued["revocation_path"], headers=headers)).is_success
                started = time.monotonic()
                while (await other.get(SELF, headers=headers)).status_code == 200:
                    assert time.monotonic() - started < 0.9, f"key {n} still accepted"
                    await asyncio.sleep(0.01)
                lag.append(time.monotonic() - started)

        assert max(lag) < 0.9, lag

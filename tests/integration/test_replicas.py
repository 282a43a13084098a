"""Several replicas on one PostgreSQL + Redis: a revocation through one is refused by the others."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from agentkeys.clock import FrozenClock
from tests.support.app import AppFactory, client_for
from tests.support.databases import empty_tables
from tests.support.factories import SEED_REQUEST, issue_credential, key_header
from tests.support.servers import running_server

# Replicas share the database.
pytestmark = pytest.mark.both_backends

SELF = "/v1/agent-credentials/self"
REVOCATION_DEADLINE_SECONDS = 1.0


@pytest.mark.postgres
@pytest.mark.redis
class TestTwoServerProcesses:
    def test_revocation_through_one_is_refused_by_the_other_within_a_second(
        self, postgres_database: str, redis_url: str, tmp_path: Path
    ) -> None:
        asyncio.run(empty_tables(postgres_database))
        # The cache bound at its maximum: a prompt refusal comes from the Redis announcement.
        environment = {"AGENTKEYS_REDIS_URL": redis_url, "AGENTKEYS_KEY_CACHE_SECONDS": "1"}
        with (
            running_server(
                database_url=postgres_database,
                log_path=tmp_path / "one.log",
                extra_env=environment,
            ) as one,
            running_server(
                database_url=postgres_database,
                log_path=tmp_path / "two.log",
                extra_env=environment,
            ) as two,
        ):
            issued = httpx.post(f"{one.base_url}/v1/agent-credentials", json=SEED_REQUEST).json()
            headers = key_header(issued["credential"])
            assert httpx.get(f"{two.base_url}{SELF}", headers=headers).status_code == 200

            revoked = httpx.post(f"{one.base_url}{issued['revocation_path']}", headers=headers)
            assert revoked.json()["outcome"] == "revoked"
            started = time.monotonic()
            while True:
                answer = httpx.get(f"{two.base_url}{SELF}", headers=headers)
                if answer.status_code == 401:
                    break
                assert time.monotonic() - started < REVOCATION_DEADLINE_SECONDS, answer.text
                time.sleep(0.02)

        assert answer.json()["error_code"] == "AUTH_REVOKED_CREDENTIAL"


class TestKeyCacheAcrossApps:
    @pytest.mark.redis
    async def test_redis_announcement_evicts_before_the_cache_bound(
        self, make_app: AppFactory, redis_url: str
    ) -> None:
        async with (
            client_for(make_app(redis_url=redis_url, key_cache_seconds=1.0)) as one,
            client_for(make_app(redis_url=redis_url, key_cache_seconds=1.0)) as two,
        ):
            issued = await issue_credential(one)
            headers = key_header(issued["credential"])
            assert (await two.get(SELF, headers=headers)).status_code == 200

            await one.post(issued["revocation_path"], headers=headers)
            started = time.monotonic()
            while (await two.get(SELF, headers=headers)).status_code == 200:
                assert time.monotonic() - started < 0.9, "refused only by the cache bound"
                await asyncio.sleep(0.02)

    async def test_without_redis_the_cache_bound_limits_staleness(
        self, make_app: AppFactory
    ) -> None:
        async with (
            client_for(make_app(key_cache_seconds=0.3)) as one,
            client_for(make_app(key_cache_seconds=0.3)) as two,
        ):
            issued = await issue_credential(one)
            headers = key_header(issued["credential"])
            assert (await two.get(SELF, headers=headers)).status_code == 200

            await one.post(issued["revocation_path"], headers=headers)
            cached = await two.get(SELF, headers=headers)
            await asyncio.sleep(0.35)
            refused = await two.get(SELF, headers=headers)

        # Served from the other app's cache until the bound, then refused.
        assert cached.status_code == 200
        assert refused.json()["error_code"] == "AUTH_REVOKED_CREDENTIAL"

    async def test_a_cached_key_is_still_refused_at_its_expiry(
        self, make_app: AppFactory, clock: FrozenClock
    ) -> None:
        async with client_for(make_app(key_cache_seconds=1.0)) as client:
            issued = await issue_credential(client, requested_ttl_seconds=60)
            headers = key_header(issued["credential"])
            assert (await client.get(SELF, headers=headers)).status_code == 200
            clock.advance(timedelta(seconds=60))

            expired = await client.get(SELF, headers=headers)

        assert expired.json()["error_code"] == "AUTH_EXPIRED_CREDENTIAL"

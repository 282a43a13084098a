"""Per-credential request rate on sandbox routes: 429 with Retry-After, RateLimit headers, Redis."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY

from agentkeys.credentials.policy import IssuingPolicy
from agentkeys.credentials.policy_file import load_policy
from agentkeys.credentials.scopes import Scope
from agentkeys.db.engine import SQLITE_BUSY_TIMEOUT_MS
from agentkeys.ratelimit.base import RequestRate
from tests.support.app import AppFactory, client_for
from tests.support.databases import DatabaseProbe
from tests.support.factories import issue_credential, key_header, request_credential
from tests.support.policies import with_request_rate

SELF = "/v1/agent-credentials/self"
POLICY_HEADER = re.compile(r'"credential";q=(\d+);w=(\d+)')
STATE_HEADER = re.compile(r'"credential";r=(\d+);t=(\d+)')


def remaining(response: httpx.Response) -> int:
    match = STATE_HEADER.fullmatch(response.headers["ratelimit"])
    assert match, response.headers["ratelimit"]
    return int(match.group(1))


def backend_errors(operation: str) -> float:
    value = REGISTRY.get_sample_value(
        "agentkeys_backend_errors_total", {"backend": "redis", "operation": operation}
    )
    return value or 0.0


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def limiter_url(request: pytest.FixtureRequest) -> str | None:
    """Each limiter backend the app can use: in-process memory (``None``), or Redis."""
    return None if request.param == "memory" else request.getfixturevalue("redis_url")


class TestRatePerCredential:
    """On every limiter backend (``limiter_url``): what a key's own rate answers."""

    async def test_requests_over_the_rate_are_refused_with_retry_after(
        self, make_app: AppFactory, limiter_url: str | None
    ) -> None:
        app = make_app(policy=with_request_rate(3), redis_url=limiter_url)
        async with client_for(app) as client:
            headers = key_header((await issue_credential(client))["credential"])
            allowed = [await client.get(SELF, headers=headers) for _ in range(3)]
            refused = await client.get(SELF, headers=headers)

        assert [response.status_code for response in allowed] == [200, 200, 200]
        assert [remaining(response) for response in allowed] == [2, 1, 0]
        assert refused.status_code == 429
        body = refused.json()
        assert body["error_code"] == "RATE_LIMITED"
        assert 0 < body["retry_after_seconds"] <= 60
        assert refused.headers["retry-after"] == str(body["retry_after_seconds"])

    async def test_every_guarded_response_carries_the_policy_headers(
        self, make_app: AppFactory, limiter_url: str | None
    ) -> None:
        app = make_app(policy=with_request_rate(5, seconds=30), redis_url=limiter_url)
        async with client_for(app) as client:
            headers = key_header((await issue_credential(client))["credential"])
            ok = await client.get(SELF, headers=headers)
            forbidden = await client.post("/v1/feedback", headers=headers, json={})

        for response in (ok, forbidden):
            assert POLICY_HEADER.fullmatch(response.headers["ratelimit-policy"])
            assert response.headers["ratelimit-policy"] == '"credential";q=5;w=30'
            assert STATE_HEADER.fullmatch(response.headers["ratelimit"])
        assert forbidden.status_code == 403

    async def test_each_credential_has_its_own_rate(
        self, make_app: AppFactory, limiter_url: str | None
    ) -> None:
        async with client_for(
            make_app(policy=with_request_rate(1), redis_url=limiter_url)
        ) as client:
            first = key_header((await issue_credential(client))["credential"])
            second = key_header((await issue_credential(client))["credential"])
            await client.get(SELF, headers=first)

            refused = await client.get(SELF, headers=first)
            other = await client.get(SELF, headers=second)

        assert refused.status_code == 429
        assert other.status_code == 200

    async def test_unguarded_routes_carry_no_rate_headers(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")

        assert "ratelimit" not in response.headers


@pytest.mark.redis
class TestRedisOnlyRate:
    """What only a shared limiter does: one rate over replicas, and failing open."""

    async def test_replicas_share_one_rate_through_redis(
        self, make_app: AppFactory, redis_url: str
    ) -> None:
        policy = with_request_rate(2)
        async with (
            client_for(make_app(policy=policy, redis_url=redis_url)) as one,
            client_for(make_app(policy=policy, redis_url=redis_url)) as two,
        ):
            headers = key_header((await issue_credential(one))["credential"])
            statuses = [
                (await one.get(SELF, headers=headers)).status_code,
                (await two.get(SELF, headers=headers)).status_code,
                (await one.get(SELF, headers=headers)).status_code,
                (await two.get(SELF, headers=headers)).status_code,
            ]

        assert statuses == [200, 200, 429, 429]

    async def test_redis_down_fails_open_counted_and_logged(
        self, make_app: AppFactory, caplog: pytest.LogCaptureFixture
    ) -> None:
        before = backend_errors("rate_limit")
        app = make_app(policy=with_request_rate(1), redis_url="redis://127.0.0.1:1/0")
        with caplog.at_level(logging.WARNING, logger="agentkeys"):
            async with client_for(app) as client:
                headers = key_header((await issue_credential(client))["credential"])
                statuses = [(await client.get(SELF, headers=headers)).status_code for _ in range(3)]

        assert statuses == [200, 200, 200]
        assert backend_errors("rate_limit") - before == 3
        assert "fail-open" in caplog.text


def costs(**changes: Any) -> IssuingPolicy:
    policy = load_policy()
    return replace(policy, request_costs=replace(policy.request_costs, **changes))


class TestAggregateRates:
    """Rates per client network over all its keys, and the price of expensive routes."""

    async def test_many_keys_do_not_multiply_a_networks_rate(
        self, make_app: AppFactory, limiter_url: str | None
    ) -> None:
        # A network of its own per run: Redis counters outlive the test.
        network = f"2001:db8:{uuid.uuid4().int % 65536:x}::"
        policy = costs(per_network=RequestRate(3, timedelta(seconds=60)))
        app = make_app(policy=policy, redis_url=limiter_url)
        async with client_for(app, client_address=network + "1") as client:
            first = key_header((await issue_credential(client))["credential"])
            second = key_header((await issue_credential(client))["credential"])
            allowed = [
                await client.get(SELF, headers=first),
                await client.get(SELF, headers=second),
                await client.get(SELF, headers=first),
            ]
            refused = await client.get(SELF, headers=second)
        async with client_for(app, client_address=network + "ffff:1") as same_64:
            also_refused = await same_64.get(SELF, headers=first)
        # Another network, fresh per run too (Redis keeps counts between runs).
        elsewhere_address = f"2001:db8:{uuid.uuid4().int % 65536:x}:1::1"
        async with client_for(app, client_address=elsewhere_address) as elsewhere:
            other = await elsewhere.get(SELF, headers=second)

        assert [response.status_code for response in allowed] == [200, 200, 200]
        assert refused.status_code == 429
        body = refused.json()
        assert body["error_code"] == "RATE_LIMITED"
        assert "client network" in body["message"]
        assert refused.headers["retry-after"] == str(body["retry_after_seconds"])
        # The headers describe the rate that refused: the network's, not the credential's.
        assert refused.headers["ratelimit-policy"] == '"network";q=3;w=60'
        assert refused.headers["ratelimit"] == f'"network";r=0;t={body["retry_after_seconds"]}'
        assert allowed[2].headers["ratelimit-policy"].startswith('"credential";')
        assert also_refused.status_code == 429
        assert other.status_code == 200

    async def test_an_expensive_scope_costs_several_requests(
        self, make_app: AppFactory, limiter_url: str | None
    ) -> None:
        policy = replace(
            costs(scope_costs={Scope.HOMES_READ: 5}),
            request_rate=RequestRate(12, timedelta(seconds=60)),
        )
        async with client_for(make_app(policy=policy, redis_url=limiter_url)) as client:
            headers = key_header((await issue_credential(client))["credential"])
            listed = await client.post("/v1/homes/list", headers=headers)
            described = await client.get(SELF, headers=headers)
            listed_again = await client.post("/v1/homes/list", headers=headers)
            refused = await client.post("/v1/homes/list", headers=headers)

        assert remaining(listed) == 7
        assert remaining(described) == 6
        assert remaining(listed_again) == 1
        assert refused.status_code == 429

    async def test_the_default_policy_prices_the_battery_estimate(self) -> None:
        policy = load_policy()

        assert policy.request_costs.cost_of([Scope.BATTERY_ESTIMATE]) > 1
        assert policy.request_costs.cost_of([Scope.HOMES_READ]) == 1
        assert policy.request_costs.per_network is not None
        assert policy.request_costs.per_network.limit > policy.request_rate.limit


class TestRevocationRate:
    """Failed revocation attempts count per network; a holder's own revocations per credential,
    so no number of anonymous or invalid attempts can stop an owner revoking a leaked key."""

    async def test_failed_attempts_from_a_network_never_block_its_owner(
        self, make_app: AppFactory
    ) -> None:
        policy = load_policy()  # the shipped rate: 30 a minute
        assert policy.request_costs.revocations_per_network is not None
        limit = policy.request_costs.revocations_per_network.limit
        app = make_app(policy=policy)
        async with client_for(app) as client:
            owner = await issue_credential(client)
            stranger = await issue_credential(client)
            path = owner["revocation_path"]
            attempts = [
                await client.post(path),  # no key
                *[
                    await client.post(path, headers={"x-ws-api-key": f"wsk_agent_{n:032d}"})
                    for n in range(limit // 2)
                ],
                # A valid key, but not this credential's.
                *[
                    await client.post(path, headers=key_header(stranger["credential"]))
                    for _ in range(limit)
                ],
            ]
            owners = await client.post(path, headers=key_header(owner["credential"]))
            after = await client.get(SELF, headers=key_header(owner["credential"]))

        statuses = [attempt.status_code for attempt in attempts]
        assert set(statuses[:limit]) <= {401, 404}
        assert statuses[limit:] == [429] * (len(attempts) - limit)
        refused = attempts[-1].json()
        assert refused["error_code"] == "RATE_LIMITED"
        assert "failed revocation attempts" in refused["message"]
        assert attempts[-1].headers["ratelimit-policy"] == f'"failed-revocation";q={limit};w=60'
        assert attempts[-1].headers["ratelimit"].startswith('"failed-revocation";r=0;')
        assert attempts[-1].headers["retry-after"] == str(refused["retry_after_seconds"])
        assert owners.status_code == 200, owners.text
        assert owners.json()["credential_id"] == owner["credential_id"]
        assert after.status_code == 401  # revoked, at once

    async def test_a_holder_s_repeats_are_limited_per_credential(
        self, make_app: AppFactory
    ) -> None:
        policy = costs(revocations_per_network=RequestRate(2, timedelta(seconds=60)))
        app = make_app(policy=policy)
        async with client_for(app) as client:
            keys = [await issue_credential(client) for _ in range(2)]
            first = keys[0]
            repeats = [
                await client.post(first["revocation_path"], headers=key_header(first["credential"]))
                for _ in range(3)
            ]
            # Another holder on the same network is not touched by the first one's repeats.
            other = await client.post(
                keys[1]["revocation_path"], headers=key_header(keys[1]["credential"])
            )

        assert [a.status_code for a in repeats] == [200, 200, 429]
        refused = repeats[2].json()
        assert refused["error_code"] == "RATE_LIMITED"
        assert "This credential may be revoked 2 times per 60 seconds" in refused["message"]
        assert repeats[2].headers["ratelimit-policy"] == '"revocation";q=2;w=60'
        assert (
            repeats[2].headers["ratelimit"]
            == f'"revocation";r=0;t={refused["retry_after_seconds"]}'
        )
        assert other.status_code == 200


# The write lock differs by backend.
@pytest.mark.both_backends
class TestRepeatedRevocation:
    async def test_an_already_revoked_credential_is_answered_without_the_lock(
        self, make_app: AppFactory, database_path: Path | None, database_url: str
    ) -> None:
        """While another transaction holds the lock a revocation would take (SQLite's write
        lock; the credential's row on PostgreSQL), a repeat is answered at once."""
        async with client_for(make_app()) as client:
            issued = await issue_credential(client)
            path, headers = issued["revocation_path"], key_header(issued["credential"])
            assert (await client.post(path, headers=headers)).status_code == 200
            async with held_revocation_lock(database_path, database_url, issued["credential_id"]):
                # Were the lock taken, PostgreSQL would wait for ever: bounded here.
                async with asyncio.timeout(5):
                    repeat = await client.post(path, headers=headers)

        assert repeat.status_code == 200
        assert repeat.json()["credential_id"] == issued["credential_id"]


@asynccontextmanager
async def held_revocation_lock(
    database_path: Path | None, database_url: str, credential_id: str
) -> AsyncIterator[None]:
    if database_path is not None:
        holder = sqlite3.connect(database_path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        async with connection.transaction():
            await connection.execute(
                "SELECT 1 FROM credentials WHERE id = $1 FOR UPDATE", credential_id
            )
            yield
    finally:
        await connection.close()


class TestIssuanceRate:
    """Credential requests per client network, refused before any transaction or lock."""

    async def test_a_network_over_its_rate_is_answered_rate_limited_without_a_ledger_row(
        self, make_app: AppFactory, db: DatabaseProbe
    ) -> None:
        policy = costs(issuance_per_network=RequestRate(2, timedelta(seconds=60)))
        app = make_app(policy=policy)
        async with client_for(app) as client:
            answers = [
                await request_credential(client, organization_name=f"Org {n}") for n in range(3)
            ]
        async with client_for(app, client_address="198.51.100.5") as elsewhere:
            other = await request_credential(elsewhere, organization_name="Org 9")

        assert [a.json()["outcome"] for a in answers] == ["issued", "issued", "rate_limited"]
        refused = answers[2]
        assert refused.status_code == 200
        assert 1 <= refused.json()["retry_after_seconds"] <= 60
        assert refused.headers["retry-after"] == str(refused.json()["retry_after_seconds"])
        assert other.json()["outcome"] == "issued"
        rows = await db.rows("SELECT id FROM credential_requests")
        assert refused.json()["credential_request_id"] not in {row["id"] for row in rows}
        assert len(rows) == 3

    async def test_a_refusal_takes_no_lock(
        self, make_app: AppFactory, database_path: Path | None
    ) -> None:
        """While another writer holds SQLite's write lock, a refused network is answered at once
        (a decision would wait for the lock and answer 503 after the busy timeout)."""
        if database_path is None:
            pytest.skip("the whole-database write lock is SQLite's")
        app = make_app(policy=costs(issuance_per_network=RequestRate(1, timedelta(seconds=60))))
        async with client_for(app) as client:
            first = await request_credential(client)
            holder = sqlite3.connect(database_path, isolation_level=None)
            try:
                holder.execute("BEGIN IMMEDIATE")
                started = time.monotonic()
                refused = await request_credential(client)
                elapsed = time.monotonic() - started
            finally:
                holder.execute("ROLLBACK")
                holder.close()

        assert first.json()["outcome"] == "issued"
        assert refused.status_code == 200
        assert refused.json()["outcome"] == "rate_limited"
        assert elapsed < SQLITE_BUSY_TIMEOUT_MS / 1000

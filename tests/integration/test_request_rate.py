"""Per-credential request rate on sandbox routes: 429 with Retry-After, RateLimit headers, Redis."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from prometheus_client import REGISTRY

from agentkeys.credentials.policy import IssuingPolicy, RequestRate
from agentkeys.policies.loader import load_policy
from tests.conftest import AppFactory, client_for
from tests.factories import issue_credential, key_header

SELF = "/v1/agent-credentials/self"
POLICY_HEADER = re.compile(r'"credential";q=(\d+);w=(\d+)')
STATE_HEADER = re.compile(r'"credential";r=(\d+);t=(\d+)')


def rate(limit: int, seconds: int = 60) -> IssuingPolicy:
    return replace(load_policy(), request_rate=RequestRate(limit, timedelta(seconds=seconds)))


def remaining(response: httpx.Response) -> int:
    match = STATE_HEADER.fullmatch(response.headers["ratelimit"])
    assert match, response.headers["ratelimit"]
    return int(match.group(1))


def backend_errors(operation: str) -> float:
    value = REGISTRY.get_sample_value(
        "agentkeys_backend_errors_total", {"backend": "redis", "operation": operation}
    )
    return value or 0.0


class TestInProcessRate:
    async def test_requests_over_the_rate_are_refused_with_retry_after(
        self, make_app: AppFactory
    ) -> None:
        async with client_for(make_app(policy=rate(3))) as client:
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
        self, make_app: AppFactory
    ) -> None:
        async with client_for(make_app(policy=rate(5, seconds=30))) as client:
            headers = key_header((await issue_credential(client))["credential"])
            ok = await client.get(SELF, headers=headers)
            forbidden = await client.post("/v1/feedback", headers=headers, json={})

        for response in (ok, forbidden):
            assert POLICY_HEADER.fullmatch(response.headers["ratelimit-policy"])
            assert response.headers["ratelimit-policy"] == '"credential";q=5;w=30'
            assert STATE_HEADER.fullmatch(response.headers["ratelimit"])
        assert forbidden.status_code == 403

    async def test_each_credential_has_its_own_rate(self, make_app: AppFactory) -> None:
        async with client_for(make_app(policy=rate(1))) as client:
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
class TestRedisRate:
    async def test_replicas_share_one_rate_through_redis(
        self, make_app: AppFactory, redis_url: str
    ) -> None:
        policy = rate(2)
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
        app = make_app(policy=rate(1), redis_url="redis://127.0.0.1:1/0")
        with caplog.at_level(logging.WARNING, logger="agentkeys"):
            async with client_for(app) as client:
                headers = key_header((await issue_credential(client))["credential"])
                statuses = [(await client.get(SELF, headers=headers)).status_code for _ in range(3)]

        assert statuses == [200, 200, 200]
        assert backend_errors("rate_limit") - before == 3
        assert "fail-open" in caplog.text

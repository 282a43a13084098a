"""The hot routes served without FastAPI's per-request machinery (``api.deps.guarded_endpoint``
for ``/self``, ``served_raw`` for forward auth) answer exactly as FastAPI would: the same
refusals through the same handlers, the same headers, and FastAPI's own parsing for whatever
the fast path does not recognize."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from agentkeys.api.deps import RAW_HANDLERS
from agentkeys.gateway.routes import forward_auth, forward_auth_path
from tests.support.app import AppFactory, client_for
from tests.support.assertions import assert_envelope
from tests.support.factories import issue_credential, key_header
from tests.support.policies import gateway_policy

SELF = "/v1/agent-credentials/self"
FORWARD = "/v1/auth/forward"
METERS = {"X-Original-Method": "GET", "X-Original-URI": "/v2/meters/42"}


def self_route_app(app: FastAPI) -> Any:
    route = next(r for r in app.routes if getattr(r, "path", None) == SELF)
    return getattr(route, "app", None)


class TestSelf:
    def test_is_served_by_its_guard_without_dependency_resolution(
        self, make_app: AppFactory
    ) -> None:
        assert self_route_app(make_app()).__qualname__.startswith("guarded_endpoint.")

    async def test_refusals_go_through_the_application_s_handlers(
        self, make_app: AppFactory
    ) -> None:
        async with client_for(make_app()) as client:
            missing = await client.get(SELF)
            invalid = await client.get(SELF, headers={"x-ws-api-key": "wsk_agent_nope"})
            credential = (await issue_credential(client))["credential"]
            ok = await client.get(SELF, headers=key_header(credential))
            head = await client.head(SELF, headers=key_header(credential))

        assert_envelope(missing, status=401, code="AUTH_MISSING_API_KEY")
        assert_envelope(invalid, status=401, code="AUTH_INVALID_API_KEY")
        assert missing.headers["x-request-id"] == missing.json()["request_id"]
        assert ok.status_code == 200
        assert ok.json()["request_id"] == ok.headers["x-request-id"]
        assert ok.headers["ratelimit-policy"].startswith('"credential";')
        assert head.status_code == 200
        assert head.content == b""


class TestForwardAuth:
    def test_is_served_from_the_request(self) -> None:
        assert forward_auth in RAW_HANDLERS
        assert forward_auth_path in RAW_HANDLERS

    @pytest.mark.parametrize(
        ("query", "status"),
        [("", 429), ("?status_on_limit=403", 403), ("?status_on_limit=429", 429)],
    )
    async def test_the_queries_a_gateway_sends_are_answered(
        self, make_app: AppFactory, query: str, status: int
    ) -> None:
        async with client_for(make_app(policy=gateway_policy(request_limit=1))) as client:
            key = (await issue_credential(client, requested_scopes=["meters:read"]))["credential"]
            allowed = await client.get(FORWARD + query, headers={**key_header(key), **METERS})
            limited = await client.get(FORWARD + query, headers={**key_header(key), **METERS})

        assert allowed.status_code == 200
        assert allowed.content == b""
        assert allowed.headers["x-agentkeys-scopes"] == "meters:read"
        assert limited.status_code == status
        assert limited.headers["x-agentkeys-reason"] == "RATE_LIMITED"

    async def test_any_other_query_is_parsed_as_declared(self, make_app: AppFactory) -> None:
        async with client_for(make_app(policy=gateway_policy(request_limit=1))) as client:
            key = (await issue_credential(client, requested_scopes=["meters:read"]))["credential"]
            headers = {**key_header(key), **METERS}
            envoy = await client.get(FORWARD + "/v2/meters/42?a=b", headers=key_header(key))
            # FastAPI's parsing: another value is no status_on_limit (429), a repeat of 403 is.
            other = await client.get(FORWARD + "?status_on_limit=500", headers=headers)
            extra = await client.get(FORWARD + "?trace=1&status_on_limit=403", headers=headers)

        assert envoy.status_code == 200
        assert other.status_code == 429
        assert extra.status_code == 403
        assert extra.headers["x-agentkeys-reason"] == "RATE_LIMITED"


class TestWhatTheHotPathStillRecords:
    async def test_metrics_last_use_and_route_templates(self, make_app: AppFactory) -> None:
        def duration_count(route: str) -> float:
            labels = {"route": route, "method": "GET", "status": "2xx"}
            value = REGISTRY.get_sample_value(
                "agentkeys_http_request_duration_seconds_count", labels
            )
            return value or 0.0

        def verified_ok() -> float:
            value = REGISTRY.get_sample_value("agentkeys_verifications_total", {"result": "ok"})
            return value or 0.0

        app = make_app(policy=gateway_policy())
        before = (duration_count(SELF), duration_count(FORWARD), verified_ok())
        async with client_for(app) as client:
            issued = await issue_credential(client, requested_scopes=["meters:read"])
            headers = key_header(issued["credential"])
            assert (await client.get(SELF, headers=headers)).status_code == 200
            assert (await client.get(FORWARD, headers={**headers, **METERS})).status_code == 200
            pending = dict(app.state.context.verifier.usage.pending)

        after = (duration_count(SELF), duration_count(FORWARD), verified_ok())
        assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 2]
        assert issued["credential_id"] in pending

"""``agentkeys.guard`` against a real ``agentkeys serve`` (with Redis): a small FastAPI API of a
team's own, in process, guarded through the verification API, both as a dependency (explicit
scopes) and as ASGI middleware (the policy's upstream route table). Valid, missing, bad,
wrong-scope, revoked (within the bound, and at once over Redis), over-the-rate keys, agentkeys
down, the cache sparing agentkeys, and no secret in any log."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette
from starlette.routing import Route

from agentkeys.credentials.keys import AGENT_KEYS
from agentkeys.guard import AgentIdentity, Guard, GuardMiddleware
from agentkeys.guard.dependency import install_guard
from tests.integration.test_admin_cli import created_key, run
from tests.support.databases import sqlite_url
from tests.support.factories import credential_request
from tests.support.guard import Ticker, whoami
from tests.support.policies import relaxed_policy_file
from tests.support.servers import RunningServer, free_port, running_server

pytestmark = pytest.mark.redis

# Well above what the revocation tests' polling serves from the cache (so only a revocation, never
# a spent allowance, sends them back to agentkeys), small enough to spend in a test.
RATE_LIMIT = 100
METER = "/v2/meters/m-42"
UPSTREAM = """
[upstream]

[[upstream.routes]]
method = "GET"
path = "/v2/meters/{id}"
scope = "meters:read"

[[upstream.routes]]
method = ["POST", "PUT"]
path = "/v2/meters/**"
scope = "meters:write"
"""


@pytest.fixture(scope="module")
def agentkeys(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Iterator[tuple[RunningServer, str]]:
    """One server for the module (Redis-announced revocations, a small request rate, two
    upstream scopes and their routes), and an admin key with the ``verify`` role."""
    directory = tmp_path_factory.mktemp("guard")
    policy = relaxed_policy_file(directory)
    text, replaced = re.subn(
        r"(?m)^(\[request_rate\]\n)limit = \d+$", rf"\1limit = {RATE_LIMIT}", policy.read_text()
    )
    assert replaced == 1
    text = text.replace(
        "[scopes]\n",
        '[scopes]\n"meters:read" = "Read meters."\n"meters:write" = "Change meters."\n',
    )
    policy.write_text(text + UPSTREAM)
    database = sqlite_url(directory / "agentkeys.db")
    with running_server(
        database_url=database,
        log_path=directory / "server.log",
        extra_env={"AGENTKEYS_POLICY": str(policy), "AGENTKEYS_REDIS_URL": redis_url},
    ) as server:
        _, verify_key = created_key(
            run(database, "admin", "create-key", "--name", "guard", "--role", "verify")
        )
        yield server, verify_key


def issue(server: RunningServer, *scopes: str) -> dict[str, Any]:
    answer = httpx.post(
        f"{server.base_url}/v1/agent-credentials",
        json=credential_request(requested_scopes=list(scopes)),
    ).json()
    assert answer["outcome"] == "issued", answer
    return dict(answer)


async def revoke(server: RunningServer, issued: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        answer = await http.post(
            issued["revocation_path"], headers={"x-ws-api-key": issued["credential"]}
        )
    assert answer.status_code == 200, answer.text


def guard_of(agentkeys: tuple[RunningServer, str], **options: Any) -> Guard:
    server, verify_key = agentkeys
    return Guard(server.base_url, verify_key=verify_key, **options)


def team_api(guard: Guard) -> FastAPI:
    """The team's own API: meters, read with ``meters:read``, written with ``meters:write``."""
    app = FastAPI(lifespan=guard.lifespan)
    install_guard(app)
    reader, writer = guard.require("meters:read"), guard.require("meters:write")

    @app.get("/v2/meters/{meter_id}")
    async def read_meter(meter_id: str, agent: AgentIdentity = Depends(reader)) -> dict[str, Any]:  # noqa: B008
        return {"meter": meter_id, "credential_id": agent.credential_id, "scopes": agent.scopes}

    @app.post("/v2/meters/{meter_id}")
    async def write_meter(meter_id: str, agent: AgentIdentity = Depends(writer)) -> dict[str, Any]:  # noqa: B008
        return {"meter": meter_id, "written_by": agent.credential_id}

    return app


@pytest.fixture
async def guard(agentkeys: tuple[RunningServer, str]) -> AsyncIterator[Guard]:
    async with guard_of(agentkeys, cache_seconds=1.0) as running:
        yield running


@pytest.fixture
async def api(guard: Guard) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=team_api(guard))
    async with httpx.AsyncClient(transport=transport, base_url="http://meters.test") as http:
        yield http


def key(issued: dict[str, Any]) -> dict[str, str]:
    return {"x-ws-api-key": issued["credential"]}


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error_code"] == code
    assert response.headers["x-request-id"] == response.json()["request_id"]


class TestThroughTheDependency:
    async def test_a_valid_key_reaches_the_handler_with_its_identity(
        self, agentkeys: tuple[RunningServer, str], api: httpx.AsyncClient
    ) -> None:
        issued = issue(agentkeys[0], "meters:read")

        response = await api.get(METER, headers=key(issued))

        assert response.status_code == 200, response.text
        assert response.json() == {
            "meter": "m-42",
            "credential_id": issued["credential_id"],
            "scopes": ["meters:read"],
        }
        # agentkeys' verification says its window: the policy names it (w=).
        assert response.headers["ratelimit-policy"] == f'"credential";q={RATE_LIMIT};w=60'
        assert response.headers["ratelimit"].startswith(f'"credential";r={RATE_LIMIT - 1};')

    async def test_a_missing_key_is_401(self, api: httpx.AsyncClient) -> None:
        response = await api.get(METER)

        assert_refused(response, 401, "AUTH_MISSING_API_KEY")
        assert response.headers["www-authenticate"] == 'Bearer realm="agentkeys"'

    async def test_a_key_agentkeys_never_issued_is_401(
        self, guard: Guard, api: httpx.AsyncClient
    ) -> None:
        # Well-formed, checksum and all: only agentkeys can tell it never issued it.
        stranger = AGENT_KEYS.mint(server_secret=b"another server").secret

        response = await api.get(METER, headers={"x-ws-api-key": stranger})

        assert_refused(response, 401, "AUTH_INVALID_API_KEY")
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
        assert guard.stats.remote_calls == 1

    async def test_a_key_without_the_scope_is_403(
        self, agentkeys: tuple[RunningServer, str], api: httpx.AsyncClient
    ) -> None:
        issued = issue(agentkeys[0], "meters:read")

        response = await api.post(METER, headers=key(issued))

        assert_refused(response, 403, "AUTH_INSUFFICIENT_SCOPE")
        assert response.json()["message"] == (
            "This credential lacks the scope 'meters:write' needed for this route."
        )

    async def test_a_cache_hit_does_not_call_agentkeys(
        self, agentkeys: tuple[RunningServer, str]
    ) -> None:
        issued = issue(agentkeys[0], "meters:read")
        # A frozen clock: however slow the machine, the five requests fall within the bound.
        caching = guard_of(agentkeys, cache_seconds=1.0, monotonic=Ticker())
        transport = httpx.ASGITransport(app=team_api(caching))
        async with caching, httpx.AsyncClient(transport=transport, base_url="http://m") as api:
            answers = [await api.get(METER, headers=key(issued)) for _ in range(5)]

        assert [answer.status_code for answer in answers] == [200] * 5
        assert caching.stats.remote_calls == 1
        assert caching.stats.cache_hits == 4


class TestRevocation:
    async def test_a_revoked_key_is_refused_within_the_bound(
        self, agentkeys: tuple[RunningServer, str], guard: Guard, api: httpx.AsyncClient
    ) -> None:
        issued = issue(agentkeys[0], "meters:read")
        assert (await api.get(METER, headers=key(issued))).status_code == 200
        # The cache entry was confirmed before this instant: nothing may be admitted from it
        # once the bound (1 s) has passed since, however slow the machine.
        confirmed_by = time.monotonic()

        await revoke(agentkeys[0], issued)
        while True:
            asked_at = time.monotonic()
            response = await api.get(METER, headers=key(issued))
            if response.status_code != 200:
                break
            assert asked_at < confirmed_by + 1.0, "admitted after the cache bound"
            await asyncio.sleep(0.01)

        assert_refused(response, 401, "AUTH_REVOKED_CREDENTIAL")

    async def test_with_agentkeys_redis_a_revoked_key_is_refused_at_once(
        self, agentkeys: tuple[RunningServer, str], redis_url: str
    ) -> None:
        issued = issue(agentkeys[0], "meters:read")
        # A frozen clock: the cache's bound never passes, so only the announcement can evict.
        listening = guard_of(agentkeys, cache_seconds=1.0, redis_url=redis_url, monotonic=Ticker())
        transport = httpx.ASGITransport(app=team_api(listening))
        async with listening, httpx.AsyncClient(transport=transport, base_url="http://m") as api:
            assert listening.listening_for_revocations
            assert (await api.get(METER, headers=key(issued))).status_code == 200
            assert (await api.get(METER, headers=key(issued))).status_code == 200

            await revoke(agentkeys[0], issued)
            started = time.monotonic()
            while (response := await api.get(METER, headers=key(issued))).status_code == 200:
                assert time.monotonic() - started < 5, "the announcement never arrived"
                await asyncio.sleep(0.01)

        assert_refused(response, 401, "AUTH_REVOKED_CREDENTIAL")
        # Asked again because the announcement evicted the key, not because its allowance ran out.
        assert listening.stats.remote_calls == 2
        assert listening.stats.cache_hits < RATE_LIMIT - 1


class TestRateAndOutage:
    async def test_over_the_rate_is_429_with_retry_after(
        self, agentkeys: tuple[RunningServer, str]
    ) -> None:
        issued = issue(agentkeys[0], "meters:read")
        # With the cache (the default) as without it: every request counts, here or there.
        async with guard_of(agentkeys) as counting:
            transport = httpx.ASGITransport(app=team_api(counting))
            async with httpx.AsyncClient(transport=transport, base_url="http://m") as api:
                answers = [await api.get(METER, headers=key(issued)) for _ in range(RATE_LIMIT + 1)]

        assert [answer.status_code for answer in answers] == [200] * RATE_LIMIT + [429]
        assert_refused(answers[-1], 429, "RATE_LIMITED")
        assert int(answers[-1].headers["retry-after"]) >= 1
        assert answers[-1].json()["retry_after_seconds"] == int(answers[-1].headers["retry-after"])

    async def test_agentkeys_down_is_503_never_a_grant(
        self, agentkeys: tuple[RunningServer, str]
    ) -> None:
        issued = issue(agentkeys[0], "meters:read")
        nowhere = Guard(f"http://127.0.0.1:{free_port()}", verify_key=agentkeys[1])
        transport = httpx.ASGITransport(app=team_api(nowhere))
        async with nowhere, httpx.AsyncClient(transport=transport, base_url="http://m") as api:
            response = await api.get(METER, headers=key(issued))

        assert_refused(response, 503, "SERVICE_UNAVAILABLE")
        assert response.headers["retry-after"] == "5"

    async def test_a_key_without_the_verify_role_is_503_and_says_why_in_the_log(
        self, agentkeys: tuple[RunningServer, str], caplog: pytest.LogCaptureFixture
    ) -> None:
        issued = issue(agentkeys[0], "meters:read")
        misconfigured = Guard(agentkeys[0].base_url, verify_key=issued["credential"])
        transport = httpx.ASGITransport(app=team_api(misconfigured))
        async with (
            misconfigured,
            httpx.AsyncClient(transport=transport, base_url="http://m") as api,
        ):
            response = await api.get(METER, headers=key(issued))

        assert_refused(response, 503, "SERVICE_UNAVAILABLE")
        assert "verify role" in caplog.text


class TestThroughTheMiddleware:
    async def test_the_upstream_route_table_picks_the_scope(
        self, agentkeys: tuple[RunningServer, str]
    ) -> None:
        reader = issue(agentkeys[0], "meters:read")
        app = Starlette(routes=[Route("/v2/meters/{id}", whoami, methods=["GET", "POST"])])
        async with guard_of(agentkeys) as guard:
            transport = httpx.ASGITransport(app=GuardMiddleware(app, guard=guard))
            async with httpx.AsyncClient(transport=transport, base_url="http://m") as api:
                read = await api.get(METER, headers=key(reader))
                written = await api.post(METER, headers=key(reader))
                unrouted = await api.get("/v2/other", headers=key(reader))

        assert read.status_code == 200, read.text
        assert read.json()["credential_id"] == reader["credential_id"]
        assert_refused(written, 403, "AUTH_INSUFFICIENT_SCOPE")
        assert_refused(unrouted, 403, "AUTH_INSUFFICIENT_SCOPE")
        # agentkeys' verdict does not say which: the message names both causes, no scope.
        assert f"POST {METER}" in written.json()["message"]
        assert "no upstream route maps it" in unrouted.json()["message"]
        assert "scope(s)" not in unrouted.json()["message"]


class TestSecrets:
    async def test_no_key_reaches_a_log(
        self,
        agentkeys: tuple[RunningServer, str],
        api: httpx.AsyncClient,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        issued = issue(agentkeys[0], "meters:read")

        for _ in range(3):
            await api.get(METER, headers=key(issued))
        await api.post(METER, headers=key(issued))

        server_log = Path(agentkeys[0].log_path).read_text()
        for secret in (issued["credential"], agentkeys[1]):
            assert secret not in caplog.text
            assert secret not in server_log

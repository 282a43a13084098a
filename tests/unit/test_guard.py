"""``agentkeys.guard`` against a stand-in for agentkeys' verification API (``httpx.MockTransport``,
answering as the issue specifies): reading the key, refusals in agentkeys' envelope, the cache
and its bound, the local rate allowance, failing closed, and what never reaches a log. The same
behaviour against a real ``agentkeys serve`` is in ``tests/integration/test_guard.py``."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import AsyncIterator, MutableMapping
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from starlette.applications import Starlette

from agentkeys.credentials.keys import ADMIN_KEYS, AGENT_KEYS
from agentkeys.guard import AgentIdentity, Guard, GuardMiddleware
from agentkeys.guard.cache import IdentityCache
from agentkeys.guard.dependency import install_guard
from agentkeys.guard.identity import RateLimitState
from tests.support.guard import METER, VERIFY_KEY, FakeAgentkeys, Ticker, service

BOUND = 0.5


def guard_for(fake: FakeAgentkeys, ticker: Ticker, **options: Any) -> Guard:
    return Guard(
        "http://agentkeys.test",
        verify_key=options.pop("verify_key", VERIFY_KEY),
        transport=fake.transport(),
        now=lambda: fake.now,
        monotonic=ticker,
        **{"cache_seconds": BOUND, **options},
    )


@pytest.fixture
def fake() -> FakeAgentkeys:
    return FakeAgentkeys(routes={("GET", METER): "meters:read", ("POST", METER): "meters:write"})


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
async def guard(fake: FakeAgentkeys, ticker: Ticker) -> AsyncIterator[Guard]:
    async with guard_for(fake, ticker) as running:
        yield running


@pytest.fixture
async def client(guard: Guard) -> AsyncIterator[httpx.AsyncClient]:
    async with service(guard) as http:
        yield http


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error_code"] == code
    assert body["message"]
    assert body["request_id"].startswith("ws_request_")
    assert response.headers["x-request-id"] == body["request_id"]
    return body


class TestReadingTheKey:
    async def test_a_valid_key_reaches_the_handler_with_its_identity(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read")

        response = await client.get(METER, headers={"x-ws-api-key": key})

        assert response.status_code == 200
        assert response.json() == {
            "credential_id": "ws_agent_cred_fake1",
            "scopes": ["meters:read"],
        }
        assert fake.bodies == [{"key": key, "method": "GET", "path": METER}]

    async def test_the_agents_address_is_passed_on_for_the_per_network_rate(
        self, fake: FakeAgentkeys, guard: Guard
    ) -> None:
        key = fake.issue("meters:read")
        app = GuardMiddleware(Starlette(), guard=guard)
        transport = httpx.ASGITransport(app=app, client=("2001:db8::0:1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as http:
            await http.get(METER, headers={"x-ws-api-key": key})

        assert fake.forwarded_for == ["2001:db8::1"]

    async def test_a_bearer_token_is_read_like_the_key_header(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read")

        response = await client.get(METER, headers={"Authorization": f"bearer {key}"})

        assert response.status_code == 200

    async def test_no_key_is_401_missing_with_a_bare_challenge(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient
    ) -> None:
        response = await client.get(METER)

        assert_envelope(response, 401, "AUTH_MISSING_API_KEY")
        assert response.headers["www-authenticate"] == 'Bearer realm="agentkeys"'
        assert fake.calls == 0

    async def test_another_authorization_scheme_is_refused(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient
    ) -> None:
        response = await client.get(METER, headers={"Authorization": "Basic dXNlcjpwYXNz"})

        assert_envelope(response, 401, "AUTH_INVALID_API_KEY")
        assert fake.calls == 0

    async def test_a_malformed_key_is_refused_without_asking_agentkeys(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read")

        mistyped = key[:-1] + ("y" if key.endswith("x") else "x")  # a checksum character changed

        response = await client.get(METER, headers={"x-ws-api-key": mistyped})

        assert_envelope(response, 401, "AUTH_INVALID_API_KEY")
        assert 'error="invalid_token"' in response.headers["www-authenticate"]
        assert fake.calls == 0

    async def test_an_admin_key_is_named_as_such(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient
    ) -> None:
        response = await client.get(METER, headers={"x-ws-api-key": VERIFY_KEY})

        body = assert_envelope(response, 401, "AUTH_INVALID_API_KEY")
        assert "admin key" in body["message"]
        assert fake.calls == 0

    async def test_the_key_header_sent_twice_is_refused(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read")

        response = await client.get(METER, headers=[("x-ws-api-key", key), ("x-ws-api-key", key)])

        assert_envelope(response, 401, "AUTH_INVALID_API_KEY")
        assert fake.calls == 0

    async def test_with_the_key_header_the_services_own_authorization_is_left_alone(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read")

        response = await client.get(
            METER, headers={"x-ws-api-key": key, "Authorization": "Basic dXNlcjpwYXNz"}
        )

        assert response.status_code == 200
        assert fake.bodies[0]["key"] == key

    async def test_an_exempt_path_needs_no_key(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")

        assert response.status_code == 200


class TestAgentkeysVerdicts:
    async def test_an_unknown_key_is_401_invalid(self, client: httpx.AsyncClient) -> None:
        key = AGENT_KEYS.mint(server_secret=b"elsewhere").secret

        response = await client.get(METER, headers={"x-ws-api-key": key})

        assert_envelope(response, 401, "AUTH_INVALID_API_KEY")
        assert 'error="invalid_token"' in response.headers["www-authenticate"]

    async def test_a_revoked_key_is_401_revoked(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read")
        fake.credential(key).revoked = True

        response = await client.get(METER, headers={"x-ws-api-key": key})

        assert_envelope(response, 401, "AUTH_REVOKED_CREDENTIAL")

    async def test_an_expired_key_is_401_expired(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read", expires_at=fake.now)

        response = await client.get(METER, headers={"x-ws-api-key": key})

        assert_envelope(response, 401, "AUTH_EXPIRED_CREDENTIAL")

    async def test_a_route_outside_the_scopes_is_403(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read")

        response = await client.post(METER, headers={"x-ws-api-key": key})

        body = assert_envelope(response, 403, "AUTH_INSUFFICIENT_SCOPE")
        assert f"POST {METER}" in body["message"]
        assert "www-authenticate" not in response.headers

    async def test_over_the_rate_is_429_with_retry_after(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read", limit=1)
        await client.get(METER, headers={"x-ws-api-key": key})

        response = await client.get(METER, headers={"x-ws-api-key": key})

        body = assert_envelope(response, 429, "RATE_LIMITED")
        assert body["retry_after_seconds"] == 60
        assert response.headers["retry-after"] == "60"
        assert response.headers["ratelimit"] == '"credential";r=0;t=60'

    async def test_a_success_carries_the_ratelimit_fields(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read", limit=10)

        response = await client.get(METER, headers={"x-ws-api-key": key})

        assert response.headers["ratelimit-policy"] == '"credential";q=10'
        assert response.headers["ratelimit"] == '"credential";r=9;t=30'


class TestFailingClosed:
    @pytest.mark.parametrize(
        ("status", "body"),
        [
            pytest.param(500, b"oops", id="server-error"),
            pytest.param(401, b'{"error_code": "AUTH_INVALID_API_KEY"}', id="verify-key-refused"),
            pytest.param(200, b"<html>a proxy page</html>", id="not-json"),
            pytest.param(200, b'{"valid": true, "code": "REVOKED"}', id="incoherent"),
            pytest.param(200, b'{"valid": true, "code": "VALID"}', id="grant-without-identity"),
            pytest.param(200, b'{"valid": false, "code": "MAYBE"}', id="unknown-code"),
        ],
    )
    async def test_an_answer_the_guard_cannot_read_is_503_never_a_grant(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient, status: int, body: bytes
    ) -> None:
        key = fake.issue("meters:read")
        fake.status, fake.body = (status if status != 200 else None), body

        response = await client.get(METER, headers={"x-ws-api-key": key})

        body_ = assert_envelope(response, 503, "SERVICE_UNAVAILABLE")
        assert body_["retry_after_seconds"] == 5
        assert response.headers["retry-after"] == "5"

    async def test_a_request_agentkeys_refuses_as_invalid_is_503_and_logged_with_its_field(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        key = fake.issue("meters:read")
        fake.status, fake.body = (
            400,
            (
                b'{"error_code": "VALIDATION_FAILED", "field_errors": [{"field": "scopes[0]", '
                b'"message": "Unknown scope \'meters:rede\'; known: meters:read"}]}'
            ),
        )
        caplog.set_level(logging.ERROR)

        response = await client.get(METER, headers={"x-ws-api-key": key})

        assert_envelope(response, 503, "SERVICE_UNAVAILABLE")
        assert "HTTP 400 VALIDATION_FAILED: Unknown scope 'meters:rede'" in caplog.text

    async def test_agentkeys_down_is_503(
        self, fake: FakeAgentkeys, guard: Guard, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read")
        fake.down = True

        response = await client.get(METER, headers={"x-ws-api-key": key})

        assert_envelope(response, 503, "SERVICE_UNAVAILABLE")
        assert guard.stats.unavailable == 1

    async def test_agentkeys_too_slow_is_503(self, fake: FakeAgentkeys, ticker: Ticker) -> None:
        key = fake.issue("meters:read")

        def hang(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("timed out", request=request)

        async with (
            Guard(
                "http://agentkeys.test", verify_key=VERIFY_KEY, transport=httpx.MockTransport(hang)
            ) as slow,
            service(slow) as http,
        ):
            response = await http.get(METER, headers={"x-ws-api-key": key})

        assert_envelope(response, 503, "SERVICE_UNAVAILABLE")

    async def test_the_cache_does_not_outlive_its_bound_during_an_outage(
        self, fake: FakeAgentkeys, ticker: Ticker, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read")
        await client.get(METER, headers={"x-ws-api-key": key})
        fake.down = True

        within = await client.get(METER, headers={"x-ws-api-key": key})
        ticker.value += BOUND
        after = await client.get(METER, headers={"x-ws-api-key": key})

        assert within.status_code == 200
        assert_envelope(after, 503, "SERVICE_UNAVAILABLE")


class TestCache:
    async def test_a_cache_hit_does_not_call_agentkeys(
        self, fake: FakeAgentkeys, guard: Guard, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read")

        answers = [await client.get(METER, headers={"x-ws-api-key": key}) for _ in range(5)]

        assert [answer.status_code for answer in answers] == [200] * 5
        assert fake.calls == 1
        assert guard.stats.cache_hits == 4

    async def test_agentkeys_is_asked_again_once_the_bound_passes(
        self, fake: FakeAgentkeys, ticker: Ticker, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read")
        await client.get(METER, headers={"x-ws-api-key": key})

        ticker.value += BOUND
        await client.get(METER, headers={"x-ws-api-key": key})

        assert fake.calls == 2

    async def test_a_revoked_key_is_refused_within_the_bound(
        self, fake: FakeAgentkeys, ticker: Ticker, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read")
        await client.get(METER, headers={"x-ws-api-key": key})
        fake.credential(key).revoked = True

        ticker.value += BOUND
        response = await client.get(METER, headers={"x-ws-api-key": key})

        assert_envelope(response, 401, "AUTH_REVOKED_CREDENTIAL")

    async def test_an_evicted_credential_is_asked_about_at_once(
        self, fake: FakeAgentkeys, guard: Guard, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read")
        await client.get(METER, headers={"x-ws-api-key": key})
        fake.credential(key).revoked = True

        guard._cache.evict("ws_agent_cred_fake1")
        response = await client.get(METER, headers={"x-ws-api-key": key})

        assert_envelope(response, 401, "AUTH_REVOKED_CREDENTIAL")

    async def test_expiry_is_exact_for_a_cached_key(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read", expires_at=fake.now + timedelta(milliseconds=1))
        await client.get(METER, headers={"x-ws-api-key": key})

        fake.now += timedelta(milliseconds=1)
        response = await client.get(METER, headers={"x-ws-api-key": key})

        assert_envelope(response, 401, "AUTH_EXPIRED_CREDENTIAL")
        assert fake.calls == 2

    async def test_another_route_is_asked_of_agentkeys_not_assumed(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read")
        await client.get(METER, headers={"x-ws-api-key": key})

        response = await client.post(METER, headers={"x-ws-api-key": key})

        assert_envelope(response, 403, "AUTH_INSUFFICIENT_SCOPE")
        assert fake.calls == 2

    async def test_refusals_are_not_cached(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient
    ) -> None:
        key = AGENT_KEYS.mint(server_secret=b"elsewhere").secret

        for _ in range(3):
            await client.get(METER, headers={"x-ws-api-key": key})

        assert fake.calls == 3

    async def test_no_cache_asks_agentkeys_every_time(
        self, fake: FakeAgentkeys, ticker: Ticker
    ) -> None:
        key = fake.issue("meters:read")
        async with guard_for(fake, ticker, cache_seconds=0) as uncached, service(uncached) as http:
            for _ in range(3):
                await http.get(METER, headers={"x-ws-api-key": key})

        assert fake.calls == 3

    def test_a_bound_over_one_second_is_refused(self, fake: FakeAgentkeys, ticker: Ticker) -> None:
        with pytest.raises(ValueError, match=r"0-1\.0 s"):
            guard_for(fake, ticker, cache_seconds=1.5)

    async def test_the_least_recently_used_key_leaves_a_full_cache(
        self, fake: FakeAgentkeys, ticker: Ticker
    ) -> None:
        first, second, third = (fake.issue("meters:read") for _ in range(3))
        async with guard_for(fake, ticker, cache_entries=2) as small, service(small) as http:
            for key in (first, second, first, third):
                await http.get(METER, headers={"x-ws-api-key": key})
            calls = fake.calls
            await http.get(METER, headers={"x-ws-api-key": first})
            await http.get(METER, headers={"x-ws-api-key": second})

        assert calls == 3
        assert fake.calls == calls + 1  # first stayed (used last), second left

    def test_an_answer_begun_before_an_eviction_is_not_stored(self, ticker: Ticker) -> None:
        cache = IdentityCache(max_age_seconds=BOUND, max_entries=10, monotonic=ticker)
        identity = AgentIdentity("ws_agent_cred_x", ("meters:read",), FakeAgentkeys().now)
        began = cache.generation

        cache.evict("ws_agent_cred_x")
        cache.store(b"digest", b"route", identity, RateLimitState(10, 9, 30), generation=began)

        assert len(cache) == 0


class TestRateAllowance:
    async def test_requests_served_from_the_cache_count_against_the_rate(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read", limit=3)

        answers = [await client.get(METER, headers={"x-ws-api-key": key}) for _ in range(5)]

        # One counted by agentkeys, two served from the room it reported; then agentkeys grants
        # again (it never saw those two), but they leave no room: 429, as one process would say.
        assert [answer.status_code for answer in answers] == [200, 200, 200, 429, 429]
        assert [answer.headers["ratelimit"] for answer in answers[:4]] == [
            '"credential";r=2;t=30',
            '"credential";r=1;t=30',
            '"credential";r=0;t=30',
            '"credential";r=0;t=30',
        ]
        assert answers[3].headers["retry-after"] == "60"
        assert fake.calls == 3

    async def test_the_allowance_starts_again_in_a_new_window(
        self, fake: FakeAgentkeys, ticker: Ticker, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read", limit=2)
        await client.get(METER, headers={"x-ws-api-key": key})
        await client.get(METER, headers={"x-ws-api-key": key})

        ticker.value += 60  # the guard's rate window (agentkeys' default)
        fake.credential(key).used = 0
        response = await client.get(METER, headers={"x-ws-api-key": key})

        assert response.headers["ratelimit"] == '"credential";r=1;t=30'


class TestFastAPIDependency:
    @pytest.fixture
    async def api(self, guard: Guard) -> AsyncIterator[httpx.AsyncClient]:
        app = FastAPI()
        install_guard(app)
        reader = guard.require("meters:read")

        # A default, not an Annotated alias: this module's annotations are strings, and FastAPI
        # resolves them in the module's namespace, where this test's dependency is not.
        @app.get("/v2/meters/{meter_id}")
        async def meter(meter_id: str, agent: AgentIdentity = Depends(reader)) -> dict[str, Any]:  # noqa: B008
            return {"meter": meter_id, "credential_id": agent.credential_id}

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
            yield http

    async def test_the_handler_gets_the_identity(
        self, fake: FakeAgentkeys, api: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read")

        response = await api.get(METER, headers={"x-ws-api-key": key})

        assert response.json() == {"meter": "m1", "credential_id": "ws_agent_cred_fake1"}
        assert fake.bodies[0] == {"key": key, "scopes": ["meters:read"]}
        assert response.headers["ratelimit"] == '"credential";r=99;t=30'

    async def test_the_openapi_description_names_the_key_header(
        self, api: httpx.AsyncClient
    ) -> None:
        described = (await api.get("/openapi.json")).json()

        scheme = described["components"]["securitySchemes"]["AgentKey"]
        assert scheme == {
            "type": "apiKey",
            "in": "header",
            "name": "x-ws-api-key",
            "description": scheme["description"],
        }
        assert described["paths"]["/v2/meters/{meter_id}"]["get"]["security"] == [{"AgentKey": []}]

    async def test_refusals_answer_the_envelope(
        self, fake: FakeAgentkeys, api: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:write")

        missing = await api.get(METER)
        wrong_scope = await api.get(METER, headers={"x-ws-api-key": key})

        assert_envelope(missing, 401, "AUTH_MISSING_API_KEY")
        assert missing.headers["www-authenticate"] == 'Bearer realm="agentkeys"'
        body = assert_envelope(wrong_scope, 403, "AUTH_INSUFFICIENT_SCOPE")
        # Worded as agentkeys' own routes word it: the missing scope, named once.
        assert body["message"] == (
            "This credential lacks the scope 'meters:read' needed for this route."
        )
        assert body["recovery_action"] == "Request a new credential that includes 'meters:read'."


class TestSecrets:
    async def test_no_key_reaches_a_log_line_or_a_repr(
        self,
        fake: FakeAgentkeys,
        guard: Guard,
        client: httpx.AsyncClient,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        key = fake.issue("meters:read")
        caplog.set_level(logging.DEBUG)

        await client.get(METER, headers={"x-ws-api-key": key})
        fake.down = True
        await client.post(METER, headers={"x-ws-api-key": key})

        assert "fail closed" in caplog.text
        for secret in (key, VERIFY_KEY):
            assert secret not in caplog.text
            assert secret not in repr(guard)
        assert key[len("wsk_agent_") :][:20] not in caplog.text

    async def test_a_refused_verify_key_is_logged_by_its_code_not_its_value(
        self, fake: FakeAgentkeys, ticker: Ticker, caplog: pytest.LogCaptureFixture
    ) -> None:
        key = fake.issue("meters:read")
        wrong = ADMIN_KEYS.mint(server_secret=b"other").secret
        async with (
            guard_for(fake, ticker, verify_key=wrong) as misconfigured,
            service(misconfigured) as http,
        ):
            response = await http.get(METER, headers={"x-ws-api-key": key})

        assert_envelope(response, 503, "SERVICE_UNAVAILABLE")
        assert "AUTH_INVALID_API_KEY" in caplog.text
        assert "verify role" in caplog.text
        assert wrong not in caplog.text


def test_the_guard_loads_no_web_framework_or_database() -> None:
    probe = (
        "import sys, agentkeys.guard; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'fastapi', 'starlette', 'sqlalchemy', 'prometheus_client', 'uvicorn'}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout

    assert loaded.strip() == "[]"


class TestLifecycle:
    async def test_a_closed_guard_serves_again_in_a_new_lifespan(
        self, fake: FakeAgentkeys, ticker: Ticker
    ) -> None:
        key = fake.issue("meters:read")
        guard = guard_for(fake, ticker)
        statuses = []
        for _ in range(2):
            async with guard, service(guard) as http:
                statuses.append((await http.get(METER, headers={"x-ws-api-key": key})).status_code)

        assert statuses == [200, 200]

    async def test_the_middleware_runs_the_guard_with_the_applications_lifespan(
        self, fake: FakeAgentkeys, ticker: Ticker
    ) -> None:
        guard = guard_for(fake, ticker)
        app = GuardMiddleware(Starlette(), guard=guard)
        sent: list[str] = []
        messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

        async def receive() -> MutableMapping[str, Any]:
            return next(messages)

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message["type"])

        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)

        assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        assert not guard._started


class TestRequirements:
    async def test_a_method_no_route_can_name_is_403_without_asking_agentkeys(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read")

        response = await client.request("M-SEARCH", METER, headers={"x-ws-api-key": key})

        body = assert_envelope(response, 403, "AUTH_INSUFFICIENT_SCOPE")
        # No scope could allow it: none is named, and the message says why.
        assert body["message"] == f"No upstream route maps M-SEARCH {METER}: no scope allows it."
        assert "lacks" not in body["message"]
        assert fake.calls == 0

    async def test_a_path_longer_than_agentkeys_reads_is_403_not_503(
        self, fake: FakeAgentkeys, client: httpx.AsyncClient
    ) -> None:
        key = fake.issue("meters:read")

        response = await client.get("/v2/meters/" + "x" * 5000, headers={"x-ws-api-key": key})

        body = assert_envelope(response, 403, "AUTH_INSUFFICIENT_SCOPE")
        assert "characters omitted" in body["message"]
        assert fake.calls == 0

    def test_scopes_agentkeys_cannot_take_are_refused_when_the_route_is_declared(
        self, guard: Guard
    ) -> None:
        with pytest.raises(ValueError, match="scopes"):
            guard.require("x" * 129)

    def test_a_naive_expiry_is_no_answer(self) -> None:
        from agentkeys.guard.verdict import VerifyAnswerDto  # noqa: PLC0415

        with pytest.raises(ValueError, match="timezone"):
            VerifyAnswerDto.model_validate(
                {"valid": True, "code": "VALID", "expires_at": "2026-03-01T12:00:00"}
            )


class TestRateLimitFields:
    def test_the_policy_names_the_window_when_agentkeys_said_it(self) -> None:
        from agentkeys.guard.responses import rate_limit_headers  # noqa: PLC0415
        from agentkeys.guard.verdict import VerifyAnswerDto  # noqa: PLC0415

        said = VerifyAnswerDto.model_validate(
            {
                "valid": False,
                "code": "RATE_LIMITED",
                "ratelimit": {"limit": 10, "remaining": 0, "reset": 12, "window": 60},
            }
        ).rate()
        unsaid = RateLimitState(10, 0, 12)

        assert said is not None
        assert dict(rate_limit_headers(said)) == {
            b"ratelimit-policy": b'"credential";q=10;w=60',
            b"ratelimit": b'"credential";r=0;t=12',
        }
        # An agentkeys that does not send the window: no w=, never a guessed one.
        assert dict(rate_limit_headers(unsaid))[b"ratelimit-policy"] == b'"credential";q=10'

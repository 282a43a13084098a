"""Using a credential (CONTRACT §3): the key guard, expiry, revocation, scopes and /self."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

import httpx
import pytest
from pydantic import SecretStr

from agentkeys.clock import FrozenClock
from agentkeys.config import Settings
from agentkeys.credentials import keys
from agentkeys.credentials.scopes import Scope
from tests.support.app import START, AppFactory, client_for
from tests.support.assertions import INSTANT, assert_envelope, assert_request_id, parse_instant
from tests.support.factories import issue_credential, key_header

SELF = "/v1/agent-credentials/self"
FEEDBACK = "/v1/feedback"
FEEDBACK_BODY = {"name": "Avery Developer", "message": "The sandbox answered as documented."}
# Enough for both guarded routes: a refusal below is about the key, never about a scope.
ROUTE_SCOPES = ["calculate", "homes", Scope.FEEDBACK_WRITE]
OTHER_SERVER_SECRET = "another-server-secret-9876543210-zyxwvutsrqpo"

Route = Literal["self", "feedback"]
ROUTES: tuple[Route, ...] = ("self", "feedback")


async def call(
    client: httpx.AsyncClient, route: Route, headers: dict[str, Any] | None = None
) -> httpx.Response:
    """One request to a guarded route, with a body the route accepts."""
    if route == "self":
        return await client.get(SELF, headers=headers)
    return await client.post(FEEDBACK, headers=headers, json=FEEDBACK_BODY)


def assert_refused(
    response: httpx.Response, *, status: int, code: str, secret: str | None = None
) -> dict[str, Any]:
    """The refusal is an error envelope with its request id; it shows no key and no trace."""
    body = assert_envelope(response, status=status, code=code)
    if secret is not None:
        assert secret not in response.text
        random_part = secret.removeprefix("wsk_agent_")
        if len(random_part) >= keys.RANDOM_LENGTH:
            assert random_part not in response.text
    return body


async def describe_self(client: httpx.AsyncClient, issued: dict[str, Any]) -> dict[str, Any]:
    """``GET /self`` with the issued credential; fails the test unless it answers 200."""
    response = await client.get(SELF, headers=key_header(issued["credential"]))
    assert response.status_code == 200, response.text
    described: dict[str, Any] = response.json()
    return described


def flip_one_character(secret: str, *, position: int = 20) -> str:
    replacement = "B" if secret[position] == "A" else "A"
    return secret[:position] + replacement + secret[position + 1 :]


def server_secret(settings: Settings) -> bytes:
    return settings.secret.get_secret_value().encode("utf-8")


class TestMissingKey:
    @pytest.mark.parametrize("route", ROUTES)
    async def test_missing_header_is_refused(self, client: httpx.AsyncClient, route: Route) -> None:
        response = await call(client, route)

        assert_refused(response, status=401, code="AUTH_MISSING_API_KEY")

    @pytest.mark.parametrize("route", ROUTES)
    async def test_empty_header_is_refused_as_missing(
        self, client: httpx.AsyncClient, route: Route
    ) -> None:
        response = await call(client, route, key_header(""))

        assert_refused(response, status=401, code="AUTH_MISSING_API_KEY")


class TestInvalidKey:
    @pytest.mark.parametrize("route", ROUTES)
    @pytest.mark.parametrize(
        "presented",
        [
            "not-a-key",
            "wsk_agent_",
            "wsk_agent_" + "A" * 49 + "==",
            "Bearer wsk_agent_" + "A" * 49,
            "wsk_agent_" + "!" * 49,
        ],
    )
    async def test_malformed_key_is_refused(
        self, client: httpx.AsyncClient, route: Route, presented: str
    ) -> None:
        response = await call(client, route, key_header(presented))

        assert_refused(response, status=401, code="AUTH_INVALID_API_KEY", secret=presented)

    @pytest.mark.parametrize("route", ROUTES)
    async def test_key_with_a_bad_checksum_is_refused(
        self, client: httpx.AsyncClient, route: Route
    ) -> None:
        secret = (await issue_credential(client, requested_scopes=ROUTE_SCOPES))["credential"]
        typo = flip_one_character(secret)
        assert keys.KEY_PATTERN.fullmatch(typo)

        response = await call(client, route, key_header(typo))

        assert_refused(response, status=401, code="AUTH_INVALID_API_KEY", secret=secret)

    @pytest.mark.parametrize("route", ROUTES)
    async def test_truncated_key_is_refused(self, client: httpx.AsyncClient, route: Route) -> None:
        secret = (await issue_credential(client, requested_scopes=ROUTE_SCOPES))["credential"]

        response = await call(client, route, key_header(secret[:-1]))

        assert_refused(response, status=401, code="AUTH_INVALID_API_KEY", secret=secret)

    @pytest.mark.parametrize("route", ROUTES)
    async def test_key_with_an_extra_character_is_refused(
        self, client: httpx.AsyncClient, route: Route
    ) -> None:
        secret = (await issue_credential(client, requested_scopes=ROUTE_SCOPES))["credential"]

        response = await call(client, route, key_header(secret + "0"))

        assert_refused(response, status=401, code="AUTH_INVALID_API_KEY", secret=secret)

    @pytest.mark.parametrize("route", ROUTES)
    async def test_key_with_a_non_ascii_look_alike_is_refused(
        self, client: httpx.AsyncClient, route: Route
    ) -> None:
        secret = (await issue_credential(client, requested_scopes=ROUTE_SCOPES))["credential"]
        forged = secret[:20] + "\u0430" + secret[21:]  # CYRILLIC SMALL LETTER A

        response = await call(client, route, {"x-ws-api-key": forged.encode("utf-8")})

        assert_refused(response, status=401, code="AUTH_INVALID_API_KEY", secret=secret)

    @pytest.mark.parametrize("route", ROUTES)
    async def test_well_formed_but_unknown_key_is_refused(
        self, client: httpx.AsyncClient, settings: Settings, route: Route
    ) -> None:
        unknown = keys.mint(server_secret=server_secret(settings)).secret
        assert keys.is_well_formed(unknown)

        response = await call(client, route, key_header(unknown))

        assert_refused(response, status=401, code="AUTH_INVALID_API_KEY", secret=unknown)

    @pytest.mark.parametrize("route", ROUTES)
    async def test_key_issued_under_another_server_secret_is_refused(
        self, client: httpx.AsyncClient, make_app: AppFactory, route: Route
    ) -> None:
        other_app = make_app(secret=SecretStr(OTHER_SERVER_SECRET))
        async with client_for(other_app) as other_server:
            issued = await issue_credential(other_server, requested_scopes=ROUTE_SCOPES)
            accepted_there = await call(other_server, route, key_header(issued["credential"]))
        assert accepted_there.status_code in {200, 201}, accepted_there.text

        response = await call(client, route, key_header(issued["credential"]))

        assert_refused(
            response, status=401, code="AUTH_INVALID_API_KEY", secret=issued["credential"]
        )


@pytest.mark.both_backends  # stored instants and revocations
class TestExpiry:
    @pytest.mark.parametrize("route", ROUTES)
    async def test_key_is_accepted_one_millisecond_before_expires_at(
        self, client: httpx.AsyncClient, clock: FrozenClock, route: Route
    ) -> None:
        issued = await issue_credential(
            client, requested_scopes=ROUTE_SCOPES, requested_ttl_seconds=3600
        )
        clock.set(parse_instant(issued["expires_at"]) - timedelta(milliseconds=1))

        response = await call(client, route, key_header(issued["credential"]))

        assert response.status_code in {200, 201}, response.text

    @pytest.mark.parametrize("route", ROUTES)
    async def test_key_is_refused_exactly_at_expires_at(
        self, client: httpx.AsyncClient, clock: FrozenClock, route: Route
    ) -> None:
        issued = await issue_credential(
            client, requested_scopes=ROUTE_SCOPES, requested_ttl_seconds=3600
        )
        clock.set(parse_instant(issued["expires_at"]))

        response = await call(client, route, key_header(issued["credential"]))

        assert_refused(
            response, status=401, code="AUTH_EXPIRED_CREDENTIAL", secret=issued["credential"]
        )

    async def test_expiry_follows_the_clock_from_one_request_to_the_next(
        self, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        issued = await issue_credential(client, requested_ttl_seconds=60)
        headers = key_header(issued["credential"])
        assert (await client.get(SELF, headers=headers)).status_code == 200

        clock.advance(timedelta(seconds=60))

        response = await client.get(SELF, headers=headers)
        assert_refused(
            response, status=401, code="AUTH_EXPIRED_CREDENTIAL", secret=issued["credential"]
        )


@pytest.mark.both_backends  # stored instants and revocations
class TestRevokedKey:
    @pytest.mark.parametrize("route", ROUTES)
    async def test_revoked_key_is_refused_at_once(
        self, client: httpx.AsyncClient, route: Route
    ) -> None:
        issued = await issue_credential(client, requested_scopes=ROUTE_SCOPES)
        headers = key_header(issued["credential"])
        revoked = await client.post(issued["revocation_path"], headers=headers)
        assert revoked.status_code == 200, revoked.text

        response = await call(client, route, headers)

        assert_refused(
            response, status=401, code="AUTH_REVOKED_CREDENTIAL", secret=issued["credential"]
        )


class TestScopes:
    async def test_missing_scope_is_refused_naming_the_scope(
        self, client: httpx.AsyncClient
    ) -> None:
        issued = await issue_credential(client, requested_scopes=["homes"])

        response = await call(client, "feedback", key_header(issued["credential"]))

        body = assert_refused(
            response, status=403, code="AUTH_INSUFFICIENT_SCOPE", secret=issued["credential"]
        )
        assert Scope.FEEDBACK_WRITE in body["message"]

    async def test_feedback_write_passes_the_feedback_guard(
        self, client: httpx.AsyncClient
    ) -> None:
        issued = await issue_credential(client, requested_scopes=[Scope.FEEDBACK_WRITE])

        response = await call(client, "feedback", key_header(issued["credential"]))

        assert response.status_code == 201, response.text
        assert re.fullmatch(r"ws_feedback_[0-9A-Za-z]{22}", response.json()["feedback_id"])
        assert response.json()["received"] is True
        assert_request_id(response)

    @pytest.mark.parametrize(
        ("scope", "effective_scopes"),
        [
            pytest.param("homes", [Scope.HOMES_READ, Scope.HOMES_WRITE], id="homes"),
            pytest.param(
                "calculate", [Scope.BATTERY_ESTIMATE, Scope.BILL_IMPACT_READ], id="calculate"
            ),
            pytest.param(Scope.FEEDBACK_WRITE, [Scope.FEEDBACK_WRITE], id="fine-scope-is-itself"),
        ],
    )
    async def test_a_scope_expands_to_its_fine_scopes(
        self, client: httpx.AsyncClient, scope: str, effective_scopes: list[str]
    ) -> None:
        issued = await issue_credential(client, requested_scopes=[scope])

        me = await describe_self(client, issued)

        assert me["scopes"] == [scope]
        assert sorted(me["effective_scopes"]) == effective_scopes

    async def test_self_needs_no_particular_scope(self, client: httpx.AsyncClient) -> None:
        issued = await issue_credential(client, requested_scopes=[Scope.UTILITY_READ])

        me = await describe_self(client, issued)

        assert me["scopes"] == [Scope.UTILITY_READ]


class TestSelf:
    async def test_self_describes_the_presented_credential(self, client: httpx.AsyncClient) -> None:
        issued = await issue_credential(
            client,
            requested_scopes=["homes", Scope.FEEDBACK_WRITE, "calculate", "homes"],
            requested_ttl_seconds=7200,
        )

        me = await describe_self(client, issued)

        assert me["credential_id"] == issued["credential_id"]
        assert me["scopes"] == ["homes", Scope.FEEDBACK_WRITE, "calculate"]
        assert len(me["effective_scopes"]) == len(set(me["effective_scopes"]))
        assert set(me["effective_scopes"]) == {
            Scope.HOMES_READ,
            Scope.HOMES_WRITE,
            Scope.FEEDBACK_WRITE,
            Scope.BILL_IMPACT_READ,
            Scope.BATTERY_ESTIMATE,
        }
        assert me["environment"] == "sandbox"
        assert me["created_at"] == "2026-03-01T12:00:00.000Z"
        assert me["expires_at"] == "2026-03-01T14:00:00.000Z" == issued["expires_at"]

    async def test_self_instants_are_utc_with_milliseconds(
        self, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        clock.set(START + timedelta(microseconds=456_789))
        issued = await issue_credential(client, requested_ttl_seconds=60)

        me = await describe_self(client, issued)

        assert INSTANT.fullmatch(me["created_at"])
        assert INSTANT.fullmatch(me["expires_at"])
        assert me["created_at"] == "2026-03-01T12:00:00.456Z"
        assert me["expires_at"] == "2026-03-01T12:01:00.456Z"

    async def test_self_never_shows_the_secret(self, client: httpx.AsyncClient) -> None:
        issued = await issue_credential(client)
        secret = issued["credential"]

        response = await client.get(SELF, headers=key_header(secret))

        assert response.status_code == 200
        assert secret not in response.text
        assert secret[len("wsk_agent_") :] not in response.text
        assert secret not in str(response.headers)


class TestRequestId:
    async def test_success_carries_the_body_request_id_as_header(
        self, client: httpx.AsyncClient
    ) -> None:
        issued = await issue_credential(client)

        response = await client.get(SELF, headers=key_header(issued["credential"]))

        assert response.json()["request_id"] == assert_request_id(response)

    async def test_each_request_has_its_own_request_id(self, client: httpx.AsyncClient) -> None:
        issued = await issue_credential(client)
        headers = key_header(issued["credential"])

        first = await client.get(SELF, headers=headers)
        second = await client.get(SELF, headers=headers)
        refused = await client.get(SELF)

        request_ids = {assert_request_id(r) for r in (first, second, refused)}
        assert len(request_ids) == 3
        assert issued["request_id"] not in request_ids

"""POST /v1/agent-credentials: the four outcomes, TTLs, quotas and the decision ledger."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from agentkeys.clock import FrozenClock
from agentkeys.credentials import keys
from agentkeys.credentials.scopes import Scope
from tests.support.app import START, TEST_SECRET, AppFactory, client_for
from tests.support.assertions import INSTANT, as_instant, as_json, assert_request_id, parse_instant
from tests.support.databases import DatabaseProbe
from tests.support.factories import SEED_REQUEST, issue_credential, request_credential

ALWAYS_PRESENT = {"outcome", "request_id", "credential_request_id", "environment"}
ALWAYS_PRESENT |= {"production_access", "next_steps"}


async def issue_credentials(client: httpx.AsyncClient, count: int, **overrides: Any) -> None:
    """Issue ``count`` credentials (the organization's hourly quota is ten), each to a user of its
    own, so that only the organization's quota counts them all."""
    for number in range(count):
        await issue_credential(client, user_email=f"developer{number}@example.com", **overrides)


async def production_requests(client: httpx.AsyncClient, count: int) -> None:
    """Make ``count`` decisions that issue nothing: production is always denied."""
    for _ in range(count):
        denied = await request_credential(client, requested_environment="production")
        assert denied.json()["outcome"] == "production_denied"


async def ledger(db: DatabaseProbe) -> dict[str, dict[str, Any]]:
    """The recorded decisions (``credential_requests`` rows) by id."""
    return {row["id"]: row for row in await db.rows("SELECT * FROM credential_requests")}


@pytest.mark.both_backends  # stored credentials, quotas, ledger
class TestIssued:
    async def test_seed_example_is_issued_with_every_field_of_the_seed(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post("/v1/agent-credentials", json=SEED_REQUEST)

        assert response.status_code == 200
        body = response.json()
        assert set(body) == ALWAYS_PRESENT | {
            "credential",
            "credential_id",
            "key_prefix",
            "expires_at",
            "scopes",
            "revocation_method",
            "revocation_path",
        }
        assert body["outcome"] == "issued"
        assert keys.KEY_PATTERN.fullmatch(body["credential"])
        assert re.fullmatch(r"ws_agent_cred_[0-9A-Za-z]{22}", body["credential_id"])
        assert re.fullmatch(r"ws_cred_request_[0-9A-Za-z]{22}", body["credential_request_id"])
        assert body["request_id"] == assert_request_id(response)
        assert body["key_prefix"] == "wsk_agent"
        assert body["scopes"] == ["calculate", "homes"]
        assert body["environment"] == "sandbox"
        assert body["production_access"] is False
        assert body["revocation_method"] == "POST"
        assert body["revocation_path"] == f"/v1/agent-credentials/{body['credential_id']}/revoke"
        assert "x-ws-api-key" in body["next_steps"]

    async def test_issued_answer_may_not_be_cached(self, client: httpx.AsyncClient) -> None:
        response = await request_credential(client)

        assert response.headers["cache-control"] == "no-store"

    async def test_expires_at_is_issue_time_plus_ttl_in_utc_milliseconds(
        self, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        clock.set(START + timedelta(microseconds=123_456))

        body = await issue_credential(client, requested_ttl_seconds=3600)

        assert INSTANT.fullmatch(body["expires_at"])
        assert body["expires_at"] == "2026-03-01T13:00:00.123Z"

    async def test_ttl_defaults_to_one_day(self, client: httpx.AsyncClient) -> None:
        body = await issue_credential(client, requested_ttl_seconds=None)

        assert parse_instant(body["expires_at"]) == START + timedelta(days=1)

    async def test_ttl_above_seven_days_is_clamped_and_said(
        self, client: httpx.AsyncClient
    ) -> None:
        body = await issue_credential(client, requested_ttl_seconds=10**30)

        assert parse_instant(body["expires_at"]) == START + timedelta(days=7)
        assert "604800" in body["next_steps"]

    async def test_ttl_of_exactly_seven_days_is_not_clamped(
        self, client: httpx.AsyncClient
    ) -> None:
        body = await issue_credential(client, requested_ttl_seconds=7 * 86400)

        assert parse_instant(body["expires_at"]) == START + timedelta(days=7)
        assert "shortened" not in body["next_steps"]

    async def test_scopes_echo_request_order_without_duplicates(
        self, client: httpx.AsyncClient
    ) -> None:
        body = await issue_credential(
            client, requested_scopes=["homes", Scope.UTILITY_READ, "homes", "calculate"]
        )

        assert body["scopes"] == ["homes", "utility:read", "calculate"]

    async def test_only_the_digest_is_stored(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        body = await issue_credential(client)

        assert await db.rows("SELECT id, key_digest FROM credentials") == [
            {
                "id": body["credential_id"],
                "key_digest": keys.digest(body["credential"], server_secret=TEST_SECRET.encode()),
            }
        ]
        # The probe does see what was stored, so the secret's absence means something.
        assert await db.holds(body["credential_id"])
        assert not await db.holds(body["credential"])
        assert not await db.holds(body["credential"].removeprefix("wsk_agent_"))


class TestProductionDenied:
    async def test_production_is_denied_and_nothing_is_minted(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        response = await request_credential(client, requested_environment="production")

        body = response.json()
        assert response.status_code == 200
        assert set(body) == ALWAYS_PRESENT
        assert body["outcome"] == "production_denied"
        assert body["environment"] == "sandbox"
        assert body["production_access"] is False
        assert "human" in body["next_steps"]
        assert await db.rows("SELECT count(*) AS stored FROM credentials") == [{"stored": 0}]

    async def test_production_is_denied_before_the_policy_looks_at_scopes(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await request_credential(
            client, requested_environment="production", requested_scopes=["admin"]
        )

        assert response.json()["outcome"] == "production_denied"


class TestNeedsMoreInfo:
    async def test_unknown_scope_names_it_and_lists_the_allowed_ones(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await request_credential(client, requested_scopes=["homes", "admin", "Homes"])

        body = response.json()
        assert body["outcome"] == "needs_more_info"
        assert body["unknown_scopes"] == ["admin", "Homes"]
        assert "homes" in body["allowed_scopes"]
        assert Scope.FEEDBACK_WRITE in body["allowed_scopes"]
        assert "credential" not in body
        assert "admin" in body["next_steps"]

    async def test_missing_email_is_named(self, client: httpx.AsyncClient) -> None:
        response = await request_credential(client, user_email=None)

        body = response.json()
        assert body["outcome"] == "needs_more_info"
        assert body["missing_fields"] == ["user_email"]
        assert body["unknown_scopes"] == []

    async def test_vague_assignment_is_named(self, client: httpx.AsyncClient) -> None:
        response = await request_credential(client, assignment="do the thing")

        body = response.json()
        assert body["outcome"] == "needs_more_info"
        assert body["unclear_fields"] == ["assignment"]

    async def test_every_problem_is_named_at_once(self, client: httpx.AsyncClient) -> None:
        response = await request_credential(
            client, user_email=None, assignment="1234567890", requested_scopes=["root"]
        )

        body = response.json()
        assert body["missing_fields"] == ["user_email"]
        assert body["unknown_scopes"] == ["root"]
        assert body["unclear_fields"] == ["assignment"]

    async def test_corrected_request_is_issued(self, client: httpx.AsyncClient) -> None:
        first = (await request_credential(client, requested_scopes=["admin"])).json()
        allowed = first["allowed_scopes"]

        body = await issue_credential(client, requested_scopes=[allowed[0]])

        assert body["scopes"] == [allowed[0]]


@pytest.mark.both_backends  # stored credentials, quotas, ledger
class TestOrganizationQuota:
    async def test_eleventh_credential_in_an_hour_is_rate_limited(
        self, client: httpx.AsyncClient
    ) -> None:
        await issue_credentials(client, 10)

        response = await request_credential(client)

        body = response.json()
        assert body["outcome"] == "rate_limited"
        assert set(body) == ALWAYS_PRESENT | {"retry_after_seconds"}
        assert body["retry_after_seconds"] == 3600
        assert response.headers["retry-after"] == "3600"

    async def test_organization_names_compare_case_folded_with_whitespace_collapsed(
        self, client: httpx.AsyncClient
    ) -> None:
        await issue_credentials(client, 10, organization_name="Example Energy Co")

        response = await request_credential(client, organization_name="  example   ENERGY co ")

        assert response.json()["outcome"] == "rate_limited"

    async def test_other_organizations_are_not_affected(self, client: httpx.AsyncClient) -> None:
        await issue_credentials(client, 10)
        assert (await request_credential(client)).json()["outcome"] == "rate_limited"

        await issue_credential(
            client, organization_name="Another Utility", user_email="developer@another.example"
        )

    async def test_retry_after_is_truthful(
        self, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        for minute in range(10):
            clock.set(START + timedelta(minutes=minute, milliseconds=250))
            await issue_credential(client)
        clock.set(START + timedelta(minutes=30))

        waited = (await request_credential(client)).json()["retry_after_seconds"]
        clock.advance(timedelta(seconds=waited - 1))
        assert (await request_credential(client)).json()["outcome"] == "rate_limited"
        clock.set(START + timedelta(minutes=30, seconds=waited))

        await issue_credential(client)

    async def test_only_issued_credentials_count(self, client: httpx.AsyncClient) -> None:
        for _ in range(5):
            await production_requests(client, 1)
            needs = (await request_credential(client, requested_scopes=["admin"])).json()
            assert needs["outcome"] == "needs_more_info"

        await issue_credentials(client, 10)


@pytest.mark.both_backends  # stored credentials, quotas, ledger
class TestAddressQuota:
    async def test_sixty_first_decision_from_one_address_is_rate_limited(
        self, make_app: AppFactory, clock: FrozenClock
    ) -> None:
        async with client_for(make_app(), client_address="198.51.100.1") as client:
            for second in range(60):
                clock.set(START + timedelta(seconds=second))
                await request_credential(client, requested_environment="production")

            limited = (await request_credential(client)).json()

        assert limited["outcome"] == "rate_limited"
        # The first decision (at START) leaves the window at START + 1 h.
        assert limited["retry_after_seconds"] == 3600 - 59

    async def test_other_addresses_are_not_affected(
        self, make_app: AppFactory, clock: FrozenClock
    ) -> None:
        app = make_app()
        async with client_for(app, client_address="198.51.100.1") as client:
            await production_requests(client, 60)
            assert (await request_credential(client)).json()["outcome"] == "rate_limited"
        async with client_for(app, client_address="198.51.100.2") as client:
            await issue_credential(client)

    async def test_rate_limited_answers_do_not_extend_the_wait(
        self, make_app: AppFactory, clock: FrozenClock
    ) -> None:
        async with client_for(make_app(), client_address="198.51.100.1") as client:
            await production_requests(client, 60)
            for _ in range(20):
                assert (await request_credential(client)).json()["outcome"] == "rate_limited"
            clock.advance(timedelta(hours=1))

            await issue_credential(client)

    async def test_longest_wait_is_given_when_several_quotas_are_exhausted(
        self, make_app: AppFactory, clock: FrozenClock
    ) -> None:
        async with client_for(make_app(), client_address="198.51.100.1") as client:
            await production_requests(client, 50)
            clock.advance(timedelta(minutes=10))
            await issue_credentials(client, 10)

            limited = (await request_credential(client)).json()

        assert limited["outcome"] == "rate_limited"
        # Address quota frees in 50 minutes, the organization's in 60: the longer wait wins.
        assert limited["retry_after_seconds"] == 3600


@pytest.mark.both_backends  # stored credentials, quotas, ledger
class TestLedger:
    async def test_every_decision_is_recorded_with_the_request(
        self, client: httpx.AsyncClient, clock: FrozenClock, db: DatabaseProbe
    ) -> None:
        issued = await issue_credential(client)
        clock.advance(timedelta(seconds=1))
        denied = (await request_credential(client, requested_environment="production")).json()
        needs = (await request_credential(client, user_email=None)).json()

        rows = await ledger(db)

        assert len(rows) == 3
        assert [rows[b["credential_request_id"]]["outcome"] for b in (issued, denied, needs)] == [
            "issued",
            "production_denied",
            "needs_more_info",
        ]
        issued_row = rows[issued["credential_request_id"]]
        assert issued_row["request_id"] == issued["request_id"]
        assert issued_row["client_address"] == "203.0.113.7"
        denied_row = rows[denied["credential_request_id"]]
        assert as_instant(issued_row["created_at"]) == START
        assert as_instant(denied_row["created_at"]) == START + timedelta(seconds=1)
        assert as_json(issued_row["request"])["assignment"] == SEED_REQUEST["assignment"]

    async def test_rate_limited_decisions_are_recorded_too(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        await issue_credentials(client, 10)
        limited = (await request_credential(client)).json()

        outcomes = {row_id: row["outcome"] for row_id, row in (await ledger(db)).items()}

        assert outcomes[limited["credential_request_id"]] == "rate_limited"
        assert len(outcomes) == 11

"""Storage budgets per client network (policy ``[storage.feedback]``, ``[storage.homes]``): many
keys from one network share one budget of rows and bytes per window; another network is
unaffected; the refusal is 429 ``RATE_LIMITED`` with a truthful ``Retry-After``. Both backends."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest

from agentkeys.clock import FrozenClock
from agentkeys.credentials.policy import IssuingPolicy, StorageBudget, StorageBudgets
from agentkeys.credentials.policy_file import load_policy
from tests.integration.test_feedback import feedback
from tests.support.app import AppFactory, client_for
from tests.support.assertions import assert_envelope
from tests.support.databases import DatabaseProbe
from tests.support.factories import key_with

# Budgets count stored rows and bytes under a write lock: both backends.
pytestmark = pytest.mark.both_backends

NETWORK_A, NETWORK_B = "198.51.100.10", "203.0.113.20"
BIG = StorageBudget(rows=10_000, bytes=100_000_000)


def with_storage(*, feedback: StorageBudget = BIG, homes: StorageBudget = BIG) -> IssuingPolicy:
    return replace(load_policy(), storage=StorageBudgets(feedback=feedback, homes=homes))


async def keys(client: httpx.AsyncClient, scope: str, count: int) -> list[dict[str, str]]:
    return [await key_with(client, scope, organization=f"Org {chr(65 + n)}") for n in range(count)]


def assert_spent(response: httpx.Response, network: str) -> int:
    envelope = assert_envelope(response, status=429, code="RATE_LIMITED")
    assert network in envelope["message"]
    assert response.headers["retry-after"] == str(envelope["retry_after_seconds"])
    wait: int = envelope["retry_after_seconds"]
    return wait


class TestFeedback:
    async def test_many_keys_from_one_network_share_its_rows(
        self, make_app: AppFactory, db: DatabaseProbe, clock: FrozenClock
    ) -> None:
        app = make_app(policy=with_storage(feedback=replace(BIG, rows=3)))
        async with client_for(app, client_address=NETWORK_A) as client:
            writers = await keys(client, "feedback:write", 4)
            sent = [
                await client.post("/v1/feedback", json=feedback(), headers=headers)
                for headers in writers
            ]
            clock.advance(timedelta(hours=1))
            still_spent = await client.post("/v1/feedback", json=feedback(), headers=writers[0])
        async with client_for(app, client_address=NETWORK_B) as elsewhere:
            other = await elsewhere.post("/v1/feedback", json=feedback(), headers=writers[3])

        assert [response.status_code for response in sent[:3]] == [201] * 3
        wait = assert_spent(sent[3], NETWORK_A)
        assert wait == 24 * 3600  # the oldest of the three leaves the window in a day
        assert_spent(still_spent, NETWORK_A)
        assert other.status_code == 201, other.text
        rows = await db.rows("SELECT client_network, stored_bytes FROM feedback")
        assert sorted(row["client_network"] for row in rows) == [f"{NETWORK_A}/32"] * 3 + [
            f"{NETWORK_B}/32"
        ]
        assert all(row["stored_bytes"] > 0 for row in rows)

    async def test_the_bytes_are_budgeted_too_and_free_up_when_they_leave_the_window(
        self, make_app: AppFactory, clock: FrozenClock
    ) -> None:
        app = make_app(policy=with_storage(feedback=replace(BIG, bytes=9_000)))
        body = feedback(message="m" * 2_000)
        async with client_for(app, client_address=NETWORK_A) as client:
            writers = await keys(client, "feedback:write", 3)
            first = await client.post("/v1/feedback", json=body, headers=writers[0])
            clock.advance(timedelta(hours=2))
            second = await client.post("/v1/feedback", json=body, headers=writers[1])
            refused = await client.post("/v1/feedback", json=body, headers=writers[2])
            small = await client.post("/v1/feedback", json=feedback(), headers=writers[2])
            clock.advance(timedelta(seconds=assert_spent(refused, NETWORK_A)))
            fresh = await key_with(client, "feedback:write", organization="Org Z")  # 24 h later
            later = await client.post("/v1/feedback", json=body, headers=fresh)

        assert (first.status_code, second.status_code) == (201, 201)
        assert small.status_code == 201, small.text  # what still fits is stored
        assert later.status_code == 201, later.text  # the first left the window


class TestHomes:
    async def test_many_keys_from_one_network_share_its_homes(
        self, make_app: AppFactory, db: DatabaseProbe
    ) -> None:
        app = make_app(policy=with_storage(homes=replace(BIG, rows=2)))
        body: dict[str, Any] = {"name": "Home", "city": "Oakland"}
        async with client_for(app, client_address=NETWORK_A) as client:
            owners = await keys(client, "homes", 3)
            created = [
                await client.post("/v1/homes/create", json=body, headers=headers)
                for headers in owners
            ]
            home = created[0].json()["id"]
            # Rewriting a home it already counts replaces its size: no new row.
            updated = await client.post(
                f"/v1/homes/{home}/update", json={"city": "Berkeley"}, headers=owners[0]
            )
        async with client_for(app, client_address=NETWORK_B) as elsewhere:
            other = await elsewhere.post("/v1/homes/create", json=body, headers=owners[2])

        assert [response.status_code for response in created[:2]] == [201, 201]
        assert_spent(created[2], NETWORK_A)
        assert updated.status_code == 200, updated.text
        assert other.status_code == 201, other.text
        assert len(await db.rows("SELECT id FROM homes")) == 3

    async def test_home_bytes_are_budgeted_on_create_and_update(self, make_app: AppFactory) -> None:
        app = make_app(policy=with_storage(homes=replace(BIG, bytes=3_000)))
        async with client_for(app, client_address=NETWORK_A) as client:
            first, second = await keys(client, "homes", 2)
            created = await client.post(
                "/v1/homes/create",
                json={"name": "H", "solarInfo": {"n": "x" * 1_200}},
                headers=first,
            )
            other = await client.post("/v1/homes/create", json={"name": "H2"}, headers=second)
            grown = await client.post(
                f"/v1/homes/{other.json()['id']}/update",
                json={"solarInfo": {"n": "y" * 2_000}},
                headers=second,
            )

        assert (created.status_code, other.status_code) == (201, 201)
        assert_spent(grown, NETWORK_A)

"""The address quota counted by running numbers (migration 0014): each counted decision of a
client network carries the network's next number, rate_limited ones none, and the quota's count
of a window (newest number less the last one before the window) is exact as the window slides,
after old rows are purged, and when many decisions of one network arrive at once.

Every test runs on SQLite and PostgreSQL: the numbers are taken under the database's locks.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import bindparam, insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from agentkeys.api.app import create_app
from agentkeys.cli.retention import run_prune
from agentkeys.clock import FrozenClock
from agentkeys.config import Settings
from agentkeys.credentials.models import CredentialRequestRecord
from agentkeys.credentials.policy import Quota
from agentkeys.db import migrate
from agentkeys.db.base import UTCDateTime
from tests.support.app import START, AppFactory, client_for
from tests.support.databases import DatabaseProbe, empty_database
from tests.support.factories import request_credential
from tests.support.policies import relaxed_policy

pytestmark = pytest.mark.both_backends

HOUR = timedelta(hours=1)
ONE, TWO = "198.51.100.1", "198.51.100.2"


async def decide(client: httpx.AsyncClient, number: int, **overrides: Any) -> dict[str, Any]:
    """One decision from an organization and e-mail of its own (no other quota in the way)."""
    body = {
        "organization_name": f"Ordinal Co {number}",
        "user_email": f"dev{number}@example.com",
        **overrides,
    }
    response = await request_credential(client, **body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def ordinals(db: DatabaseProbe, network: str) -> list[tuple[str, int | None]]:
    """The network's decisions in the order they were made: (outcome, running number)."""
    rows = await db.rows(
        "SELECT outcome, network_ordinal FROM credential_requests "
        "WHERE client_network = :network ORDER BY created_at, network_ordinal",
        network=network,
    )
    return [(row["outcome"], row["network_ordinal"]) for row in rows]


async def purge_decisions_until(database_url: str, instant: datetime) -> int:
    """Delete the ledger rows made at or before ``instant`` (and their credentials), as a
    retention purge does: the rows deleted."""
    bound = {"instant": instant}
    # Bound as the column binds instants (SQLite compares the stored text).
    at_or_before = bindparam("instant", type_=UTCDateTime())
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            old = "SELECT id FROM credential_requests WHERE created_at <= :instant"
            await connection.execute(
                text(f"DELETE FROM credentials WHERE credential_request_id IN ({old})").bindparams(  # noqa: S608 - constant SQL
                    at_or_before
                ),
                bound,
            )
            deleted = await connection.execute(
                text("DELETE FROM credential_requests WHERE created_at <= :instant").bindparams(
                    at_or_before
                ),
                bound,
            )
            return deleted.rowcount
    finally:
        await engine.dispose()


class TestRunningNumbers:
    async def test_each_network_numbers_its_decisions_from_one_in_order(
        self, make_app: AppFactory, clock: FrozenClock, db: DatabaseProbe
    ) -> None:
        app = make_app(policy=relaxed_policy())
        async with (
            client_for(app, client_address=ONE) as one,
            client_for(app, client_address=TWO) as two,
        ):
            # Interleaved, every counted outcome: each network's numbers are its own.
            turns: list[tuple[httpx.AsyncClient, dict[str, Any]]] = [
                (one, {}),
                (two, {"requested_environment": "production"}),
                (one, {"user_email": None}),
                (one, {"requested_environment": "production"}),
                (two, {}),
            ]
            for number, (client, overrides) in enumerate(turns):
                clock.advance(timedelta(seconds=1))
                await decide(client, number, **overrides)

        assert await ordinals(db, f"{ONE}/32") == [
            ("issued", 1),
            ("needs_more_info", 2),
            ("production_denied", 3),
        ]
        assert await ordinals(db, f"{TWO}/32") == [("production_denied", 1), ("issued", 2)]

    async def test_rate_limited_decisions_take_no_number_and_do_not_count(
        self, make_app: AppFactory, clock: FrozenClock, db: DatabaseProbe
    ) -> None:
        policy = relaxed_policy(address_decisions=Quota(3, HOUR), email_issued=Quota(1, HOUR))
        async with client_for(make_app(policy=policy), client_address=ONE) as client:
            outcomes = []
            for number, email in enumerate(["a", "a", "a", "b", "c", "d"]):
                clock.advance(timedelta(seconds=1))
                answer = await decide(client, number, user_email=f"{email}@example.com")
                outcomes.append(answer["outcome"])

        # Two refusals by the e-mail quota leave the address quota's three places to a, b, c.
        assert outcomes == [
            "issued",
            "rate_limited",
            "rate_limited",
            "issued",
            "issued",
            "rate_limited",
        ]
        assert await ordinals(db, f"{ONE}/32") == [
            ("issued", 1),
            ("rate_limited", None),
            ("rate_limited", None),
            ("issued", 2),
            ("issued", 3),
            ("rate_limited", None),
        ]


class TestSlidingWindow:
    async def test_the_quota_refuses_at_its_limit_and_frees_as_each_decision_leaves(
        self, make_app: AppFactory, clock: FrozenClock
    ) -> None:
        policy = relaxed_policy(address_decisions=Quota(3, HOUR))
        async with client_for(make_app(policy=policy), client_address=ONE) as client:
            made = []
            for number, minutes in enumerate([0, 10, 20]):
                clock.set(START + timedelta(minutes=minutes))
                made.append((await decide(client, number))["outcome"])
            clock.set(START + timedelta(minutes=30))
            full = await decide(client, 3)

            # The decision at START leaves the window at START + 1 h, not a second sooner.
            clock.set(START + HOUR - timedelta(seconds=1))
            still_full = await decide(client, 4)
            clock.set(START + HOUR)
            freed = await decide(client, 5)
            # Full again: the next to leave is the one at START + 10 min.
            again = await decide(client, 6)
            clock.set(START + HOUR + timedelta(minutes=10))
            freed_again = await decide(client, 7)

        assert made == ["issued"] * 3
        assert full["outcome"] == "rate_limited"
        assert full["retry_after_seconds"] == 1800
        assert still_full["outcome"] == "rate_limited"
        assert still_full["retry_after_seconds"] == 1
        assert freed["outcome"] == "issued"
        assert again["outcome"] == "rate_limited"
        assert again["retry_after_seconds"] == 600
        assert freed_again["outcome"] == "issued"

    async def test_decisions_sharing_an_instant_are_all_counted(
        self, make_app: AppFactory, clock: FrozenClock, db: DatabaseProbe
    ) -> None:
        # The frozen clock stamps every decision alike: the newest number is still the highest.
        policy = relaxed_policy(address_decisions=Quota(4, HOUR))
        async with client_for(make_app(policy=policy), client_address=ONE) as client:
            outcomes = [(await decide(client, number))["outcome"] for number in range(6)]

        assert outcomes == ["issued"] * 4 + ["rate_limited"] * 2
        assert sorted(n for _, n in await ordinals(db, f"{ONE}/32") if n is not None) == [
            1,
            2,
            3,
            4,
        ]


class TestPurgedHistory:
    async def test_the_count_is_exact_once_every_row_before_the_window_is_purged(
        self, make_app: AppFactory, clock: FrozenClock, database_url: str
    ) -> None:
        policy = relaxed_policy(address_decisions=Quota(3, HOUR))
        app = make_app(policy=policy)
        async with client_for(app, client_address=ONE) as client:
            for number in range(3):
                clock.set(START + timedelta(minutes=number))
                await decide(client, number)
            clock.set(START + 2 * HOUR)
            in_window = [(await decide(client, number))["outcome"] for number in (3, 4)]
            # Numbers 1-3 (before the window) are gone; 4 and 5 remain, in the window.
            purged = await purge_decisions_until(database_url, START + HOUR)
            clock.advance(timedelta(minutes=1))
            third = await decide(client, 5)
            fourth = await decide(client, 6)

        assert in_window == ["issued", "issued"]
        assert purged == 3
        assert third["outcome"] == "issued"
        assert fourth["outcome"] == "rate_limited"
        assert fourth["retry_after_seconds"] == 3600 - 60

    async def test_the_count_is_exact_when_only_the_oldest_rows_are_purged(
        self, make_app: AppFactory, clock: FrozenClock, database_url: str
    ) -> None:
        policy = relaxed_policy(address_decisions=Quota(3, HOUR))
        async with client_for(make_app(policy=policy), client_address=ONE) as client:
            for number in range(3):
                clock.set(START + timedelta(minutes=number))
                await decide(client, number)
            clock.set(START + HOUR + timedelta(minutes=30))
            await decide(client, 3)
            # The first two go; the third (START + 2 min) stays, still before the window.
            purged = await purge_decisions_until(database_url, START + timedelta(minutes=1))
            outcomes = [(await decide(client, number))["outcome"] for number in (4, 5, 6)]

        assert purged == 2
        assert outcomes == ["issued", "issued", "rate_limited"]

    async def test_a_window_whose_every_row_was_purged_counts_nothing(
        self, make_app: AppFactory, clock: FrozenClock, database_url: str
    ) -> None:
        policy = relaxed_policy(address_decisions=Quota(2, HOUR))
        async with client_for(make_app(policy=policy), client_address=ONE) as client:
            for number in range(2):
                await decide(client, number)
            clock.advance(timedelta(minutes=5))
            await purge_decisions_until(database_url, START + timedelta(minutes=5))
            outcomes = [(await decide(client, number))["outcome"] for number in (2, 3, 4)]

        # Numbering goes on from nothing stored: 1 and 2 again, then the quota holds.
        assert outcomes == ["issued", "issued", "rate_limited"]

    async def test_the_count_is_exact_after_db_prune_at_the_shortest_retention_allowed(
        self, make_app: AppFactory, clock: FrozenClock, settings: Settings
    ) -> None:
        # `agentkeys db prune` (retention as short as the longest window, which it allows)
        # removes the decisions before the window that issued nothing, and keeps those whose
        # credential lives: the window's count must not see the holes.
        policy = relaxed_policy(address_decisions=Quota(3, HOUR))
        async with client_for(make_app(policy=policy), client_address=ONE) as client:
            before_window = [
                (await decide(client, 0))["outcome"],
                (await decide(client, 1, user_email=None))["outcome"],
                (await decide(client, 2, requested_environment="production"))["outcome"],
            ]
            clock.set(START + timedelta(minutes=90))
            await decide(client, 3)
            now = clock.now()
            pruned = await asyncio.to_thread(
                run_prune,
                settings,
                cutoff=now - HOUR,
                now=now,
                dry_run=False,
                batch_size=100,
            )
            outcomes = [(await decide(client, number))["outcome"] for number in (4, 5, 6)]

        assert before_window == ["issued", "needs_more_info", "production_denied"]
        assert pruned.credential_requests == 2
        # One decision in the window: two more places, then the quota holds.
        assert outcomes == ["issued", "issued", "rate_limited"]


class TestConcurrency:
    async def test_fifty_simultaneous_decisions_of_one_network_take_consecutive_numbers(
        self, make_app: AppFactory, db: DatabaseProbe
    ) -> None:
        # Two replicas on one database, 25 decisions each, all at once.
        policy = relaxed_policy()
        async with (
            client_for(make_app(policy=policy), client_address=ONE) as first,
            client_for(make_app(policy=policy), client_address=ONE) as second,
        ):
            answers = await asyncio.gather(
                *(
                    decide(client, 2 * n + i)
                    for n in range(25)
                    for i, client in enumerate((first, second))
                )
            )

        assert [answer["outcome"] for answer in answers] == ["issued"] * 50
        numbers = sorted(n for _, n in await ordinals(db, f"{ONE}/32") if n is not None)
        assert numbers == list(range(1, 51))

    async def test_the_address_quota_holds_exactly_under_fifty_simultaneous_decisions(
        self, make_app: AppFactory, db: DatabaseProbe
    ) -> None:
        policy = relaxed_policy(address_decisions=Quota(10, HOUR))
        async with (
            client_for(make_app(policy=policy), client_address=ONE) as first,
            client_for(make_app(policy=policy), client_address=ONE) as second,
        ):
            answers = await asyncio.gather(
                *(
                    decide(client, 2 * n + i)
                    for n in range(25)
                    for i, client in enumerate((first, second))
                )
            )

        outcomes = [answer["outcome"] for answer in answers]
        assert outcomes.count("issued") == 10
        assert outcomes.count("rate_limited") == 40
        stored = await ordinals(db, f"{ONE}/32")
        assert sorted(n for _, n in stored if n is not None) == list(range(1, 11))


# Decisions as revision 0013 stores them (no running number), stored out of the order they were
# made: (id, network, minutes after START, outcome). Two share an instant (the id breaks the tie).
OLD_DECISIONS = [
    ("r-a1", "198.51.100.1/32", 10, "issued"),
    ("r-b1", "198.51.100.2/32", 1, "issued"),
    ("r-a2", "198.51.100.1/32", 0, "production_denied"),
    ("r-a3", "198.51.100.1/32", 5, "rate_limited"),
    ("r-a9", "198.51.100.1/32", 15, "issued"),
    ("r-b2", "198.51.100.2/32", 2, "rate_limited"),
    ("r-a4", "198.51.100.1/32", 20, "needs_more_info"),
    ("r-a5", "198.51.100.1/32", 5, "issued"),
    ("r-b3", "198.51.100.2/32", 0, "issued"),
    ("r-a0", "198.51.100.1/32", 15, "issued"),
]
BACKFILLED = {
    "r-a2": 1,
    "r-a5": 2,
    "r-a1": 3,
    "r-a0": 4,
    "r-a9": 5,
    "r-a4": 6,
    "r-a3": None,
    "r-b3": 1,
    "r-b1": 2,
    "r-b2": None,
}


async def store_old_decisions(url: str) -> None:
    rows: list[dict[str, Any]] = [
        {
            "id": row_id,
            "request_id": f"q-{row_id}",
            "created_at": START + timedelta(minutes=minutes),
            "outcome": outcome,
            "client_address": network.removesuffix("/32"),
            "client_network": network,
            "organization_name": "Old Co",
            "organization_key": "old co",
            "user_email_key": None,
            "requested_environment": "sandbox",
            "request": {},
            "details": {},
        }
        for row_id, network, minutes, outcome in OLD_DECISIONS
    ]
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            # One statement per row, in this order: stored in insertion order, not time order.
            for row in rows:
                await connection.execute(insert(CredentialRequestRecord).values(row))
    finally:
        await engine.dispose()


async def stored_ordinals(url: str) -> dict[str, int | None]:
    probe = DatabaseProbe(url, sqlite_path=None)
    rows = await probe.rows("SELECT id, network_ordinal FROM credential_requests")
    return {row["id"]: row["network_ordinal"] for row in rows}


async def ledger_columns(url: str) -> tuple[set[str], int]:
    probe = DatabaseProbe(url, sqlite_path=None)
    rows = await probe.rows("SELECT * FROM credential_requests")
    return set(rows[0]), len(rows)


class TestMigration:
    def test_stored_decisions_are_numbered_per_network_in_the_order_they_were_made(
        self, backend: str, tmp_path: Path
    ) -> None:
        with empty_database(backend, tmp_path) as url:
            migrate.upgrade(url, "0013")
            asyncio.run(store_old_decisions(url))

            migrate.upgrade(url, "0014")
            numbered = asyncio.run(stored_ordinals(url))

        assert numbered == BACKFILLED

    def test_downgrade_drops_the_numbers_and_keeps_the_rows_and_upgrade_numbers_them_again(
        self, backend: str, tmp_path: Path
    ) -> None:
        with empty_database(backend, tmp_path) as url:
            migrate.upgrade(url, "0013")
            asyncio.run(store_old_decisions(url))
            migrate.upgrade(url, "0014")

            command.downgrade(migrate.alembic_config(url), "0013")
            columns, count = asyncio.run(ledger_columns(url))
            migrate.upgrade(url)
            numbered = asyncio.run(stored_ordinals(url))

        assert "network_ordinal" not in columns
        assert count == len(OLD_DECISIONS)
        assert numbered == BACKFILLED

    def test_new_decisions_continue_the_backfilled_numbers_and_the_quota_counts_them(
        self, backend: str, tmp_path: Path, make_app: AppFactory, clock: FrozenClock
    ) -> None:
        # Six counted decisions of 198.51.100.1 are in the hour: one place is left.
        policy = relaxed_policy(address_decisions=Quota(7, HOUR))
        clock.set(START + timedelta(minutes=30))

        async def two_decisions(url: str) -> tuple[dict[str, Any], dict[str, Any]]:
            async with client_for(
                make_app(policy=policy, database_url=url), client_address=ONE
            ) as client:
                return await decide(client, 1), await decide(client, 2)

        with empty_database(backend, tmp_path) as url:
            migrate.upgrade(url, "0013")
            asyncio.run(store_old_decisions(url))
            migrate.upgrade(url)
            last, over = asyncio.run(two_decisions(url))
            numbered = asyncio.run(stored_ordinals(url))

        assert last["outcome"] == "issued"
        assert over["outcome"] == "rate_limited"
        assert over["retry_after_seconds"] == 1800
        assert numbered[last["credential_request_id"]] == 7
        assert numbered[over["credential_request_id"]] is None


class TestReplicaClocks:
    async def test_a_replica_whose_clock_is_a_second_behind_cannot_exceed_the_quota(
        self, settings: Settings, db: DatabaseProbe
    ) -> None:
        # Two replicas of one database whose clocks differ by a second (NTP keeps them close,
        # never equal): one network's requests, spread over both, still get the quota's three.
        policy = relaxed_policy(address_decisions=Quota(3, HOUR))
        ahead, behind = FrozenClock(START + timedelta(seconds=1)), FrozenClock(START)
        async with (
            client_for(create_app(settings, clock=ahead, policy=policy), client_address=ONE) as a,
            client_for(create_app(settings, clock=behind, policy=policy), client_address=ONE) as b,
        ):
            outcomes = [(await decide(a, 0))["outcome"]]
            for number in range(1, 6):
                behind.advance(timedelta(milliseconds=1))
                outcomes.append((await decide(b, number))["outcome"])

        numbers = [n for _, n in await ordinals(db, f"{ONE}/32") if n is not None]
        assert outcomes == ["issued"] * 3 + ["rate_limited"] * 3, numbers
        assert sorted(numbers) == [1, 2, 3]

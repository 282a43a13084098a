"""PostgreSQL's one-statement decision (``agentkeys_record_decision``, migration 0015, through
``CredentialRepository.record_if_room``): under the decision's locks it counts each quota of the
client network afresh and writes the ledger row and the credential only if every one has room;
a full quota writes nothing and gives the locks back; the row takes the network's next running
number, never stamped before the decision it follows; ``durable=False`` is local to its own
transaction. In the same statement, figures read first (the alarms over every network, the
webhook endpoints) must be clear, else the function is not called at all.

The quotas' exactness under fifty simultaneous decisions is tested through the API
(``test_quotas.py``, ``test_network_ordinals.py``), on this function on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import ScalarSelect, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agentkeys.credentials.models import CredentialRecord
from agentkeys.credentials.repository import (
    ORGANIZATION_ISSUED,
    CredentialRepository,
    Figure,
    Room,
    record_if_room_statement,
    record_values,
)
from agentkeys.db import compiled
from agentkeys.db.engine import create_engine
from tests.support.app import START
from tests.support.databases import empty_tables

pytestmark = pytest.mark.postgres

NETWORK = "203.0.113.0/24"
ORGANIZATION = "org:acme"
EMAIL = "email:dev@acme.test"
HOUR = timedelta(hours=1)


@pytest.fixture
async def engine(postgres_database: str) -> AsyncIterator[AsyncEngine]:
    await empty_tables(postgres_database)
    made = create_engine(postgres_database, pool_size=2)
    yield made
    await made.dispose()


def ledger_row(number: int, at: datetime, *, network: str = NETWORK) -> dict[str, Any]:
    return {
        "id": f"ws_agent_req_t{number}",
        "request_id": f"req_{number}",
        "created_at": at,
        "outcome": "issued",
        "client_address": "203.0.113.7",
        "client_network": network,
        "organization_name": "Acme",
        "organization_key": ORGANIZATION,
        "user_email_key": EMAIL,
        "requested_environment": "sandbox",
        "request": {"organization_name": "Acme", "note": "é ✓"},
        "details": {"scopes": ["utility:read"]},
        "network_ordinal": 999,  # the function numbers the row itself
    }


def credential_row(number: int, at: datetime, *, network: str = NETWORK) -> dict[str, Any]:
    return {
        "id": f"ws_agent_cred_t{number}",
        "key_digest": f"{number:064x}",
        "credential_request_id": f"ws_agent_req_t{number}",
        "organization_key": ORGANIZATION,
        "user_email_key": EMAIL,
        "client_network": network,
        "scopes": ["utility:read"],
        "environment": "sandbox",
        "created_at": at,
        "expires_at": at + HOUR,
    }


def room(at: datetime, **quotas: Any) -> Room:
    return Room(
        locks=(f"quota:address:{NETWORK}", f"quota:organization:{ORGANIZATION}|{NETWORK}"),
        network=NETWORK,
        organization_key=ORGANIZATION,
        email_key=EMAIL,
        now=at,
        **quotas,
    )


async def record_on(
    connection: AsyncConnection,
    number: int,
    at: datetime,
    quotas: Room,
    *,
    clear: tuple[Figure, ...] = (),
    none: tuple[tuple[str, ScalarSelect[int]], ...] = (),
) -> tuple[bool | None, dict[str, int]]:
    return await CredentialRepository.record_if_room(
        connection,
        ledger_row(number, at),
        credential_row(number, at),
        room=quotas,
        durable=True,
        clear=clear,
        none=none,
    )


async def record_checked(
    engine: AsyncEngine, number: int, at: datetime, quotas: Room, **checks: Any
) -> tuple[bool | None, dict[str, int]]:
    """Recorded as a decision is: outside a transaction, the statement its own."""
    async with engine.connect() as connection:
        return await record_on(connection, number, at, quotas, **checks)


async def record(engine: AsyncEngine, number: int, at: datetime, quotas: Room) -> bool:
    """Recorded (True) or refused for a full quota (False)."""
    written, _ = await record_checked(engine, number, at, quotas)
    assert written is not None  # nothing to check first
    return written


async def rows(engine: AsyncEngine) -> list[tuple[str, int, datetime, Any]]:
    async with engine.connect() as connection:
        found = await connection.execute(
            text(
                "SELECT r.id, r.network_ordinal, r.created_at, r.request::text"
                " FROM credential_requests AS r JOIN credentials AS c"
                " ON c.credential_request_id = r.id ORDER BY r.network_ordinal"
            )
        )
        return [tuple(row) for row in found]


QUOTAS = ("address_decisions", "email_issued", "organization_active", "organization_issued")


def quota(name: str, at: datetime, limit: int) -> dict[str, Any]:
    """``Room``'s fields for one quota of ``limit`` (a window of an hour before ``at``)."""
    if name == "organization_active":
        return {"organization_active_limit": limit}
    return {name: (at - HOUR, limit)}


class TestRoom:
    @pytest.mark.parametrize("name", QUOTAS)
    async def test_each_quota_records_up_to_its_limit_and_then_writes_nothing(
        self, engine: AsyncEngine, name: str
    ) -> None:
        answers = [
            await record(
                engine, n, START + timedelta(seconds=n), room(START, **quota(name, START, 2))
            )
            for n in range(1, 4)
        ]

        assert answers == [True, True, False]
        assert [row[0] for row in await rows(engine)] == ["ws_agent_req_t1", "ws_agent_req_t2"]

    async def test_a_window_counts_only_what_is_inside_it(self, engine: AsyncEngine) -> None:
        assert await record(engine, 1, START, room(START, **quota("email_issued", START, 1)))
        later = START + 2 * HOUR

        assert await record(engine, 2, later, room(later, **quota("email_issued", later, 1)))
        assert not await record(engine, 3, later, room(later, **quota("email_issued", later, 1)))

    async def test_a_full_quota_gives_its_locks_back(self, engine: AsyncEngine) -> None:
        full = room(START, **quota("address_decisions", START, 1))
        assert await record(engine, 1, START, full)
        assert not await record(engine, 2, START, full)

        async with engine.connect() as connection:
            taken = await connection.execute(
                text("SELECT pg_try_advisory_xact_lock(hashtextextended(:name, 0))"),
                {"name": full.locks[0]},
            )
            assert taken.scalar_one() is True


# The organization's credentials over every network in the hour before now, up to 2.
OVER_EVERY_NETWORK = Figure("alarm:organization_issued", ORGANIZATION_ISSUED, False, HOUR, 2)
ELSEWHERE = "198.51.100.0/24"
# How many credentials another network holds (must be none).
FROM_ELSEWHERE = (
    select(func.count()).where(CredentialRecord.client_network == ELSEWHERE).scalar_subquery()
)


async def recorded_ids(engine: AsyncEngine) -> set[str]:
    return {row[0] for row in await rows(engine)}


async def issue_elsewhere(engine: AsyncEngine, number: int) -> None:
    """A decision of the same organization from another network."""
    async with engine.connect() as connection:
        await CredentialRepository.record_if_room(
            connection,
            ledger_row(number, START, network=ELSEWHERE),
            credential_row(number, START, network=ELSEWHERE),
            room=Room(
                locks=(f"quota:address:{ELSEWHERE}",),
                network=ELSEWHERE,
                organization_key=ORGANIZATION,
                email_key=EMAIL,
                now=START,
            ),
            durable=True,
        )


class TestChecks:
    async def test_a_figure_that_must_be_none_and_is_not_writes_nothing(
        self, engine: AsyncEngine
    ) -> None:
        await issue_elsewhere(engine, 1)

        answer = await record_checked(
            engine,
            2,
            START,
            room(START),
            clear=(OVER_EVERY_NETWORK,),
            none=(("x", FROM_ELSEWHERE),),
        )

        assert answer == (None, {"alarm:organization_issued": 1, "x": 1})
        assert await recorded_ids(engine) == {"ws_agent_req_t1"}

    async def test_a_figure_at_its_cap_writes_nothing_and_takes_no_lock(
        self, engine: AsyncEngine
    ) -> None:
        await issue_elsewhere(engine, 1)
        await issue_elsewhere(engine, 2)
        quotas = room(START)
        async with engine.connect() as holder, holder.begin():
            # Were the function called, it would wait for this lock.
            await holder.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"),
                {"name": quotas.locks[0]},
            )
            answer = await asyncio.wait_for(
                record_checked(engine, 3, START, quotas, clear=(OVER_EVERY_NETWORK,)), timeout=10
            )

        assert answer == (None, {"alarm:organization_issued": 2})
        assert await recorded_ids(engine) == {"ws_agent_req_t1", "ws_agent_req_t2"}

    async def test_below_every_cap_it_records(self, engine: AsyncEngine) -> None:
        await issue_elsewhere(engine, 1)

        answer = await record_checked(engine, 2, START, room(START), clear=(OVER_EVERY_NETWORK,))

        assert answer == (True, {"alarm:organization_issued": 1})
        assert await recorded_ids(engine) == {"ws_agent_req_t1", "ws_agent_req_t2"}


class TestNumbering:
    async def test_rows_take_the_next_number_and_never_go_back_in_time(
        self, engine: AsyncEngine
    ) -> None:
        unlimited = room(START)
        assert await record(engine, 1, START + timedelta(seconds=5), unlimited)
        # A replica whose clock is behind: stamped at the newest decision's instant.
        assert await record(engine, 2, START, unlimited)

        stored = await rows(engine)

        assert [(row[0], row[1]) for row in stored] == [
            ("ws_agent_req_t1", 1),
            ("ws_agent_req_t2", 2),
        ]
        assert stored[1][2] == START + timedelta(seconds=5)

    async def test_json_columns_are_stored_as_sent(self, engine: AsyncEngine) -> None:
        assert await record(engine, 1, START, room(START))

        (stored,) = await rows(engine)

        assert stored[3] == '{"organization_name":"Acme","note":"é ✓"}'


async def synchronous_commit(connection: AsyncConnection) -> str:
    setting = await connection.execute(text("SELECT current_setting('synchronous_commit')"))
    return str(setting.scalar_one())


async def record_in_transaction(connection: AsyncConnection, *, durable: bool) -> Any:
    """``record_if_room``'s statement inside the connection's open transaction (which
    ``record_if_room`` refuses), so that the function's setting can be seen after it."""
    values = record_values(
        ledger_row(1, START), credential_row(1, START), room=room(START), durable=durable
    )
    (row,) = await compiled.run(connection, record_if_room_statement((), ()), values)
    return row[0]


class TestDurability:
    async def test_a_fast_decision_turns_synchronous_commit_off_for_its_transaction_only(
        self, engine: AsyncEngine
    ) -> None:
        async with engine.connect() as connection:
            async with connection.begin():
                recorded = await record_in_transaction(connection, durable=False)
                inside = await synchronous_commit(connection)
            after = await synchronous_commit(connection)

        assert recorded is True
        assert (inside, after) == ("off", "on")

    async def test_a_durable_decision_leaves_it_on(self, engine: AsyncEngine) -> None:
        async with engine.connect() as connection, connection.begin():
            await record_in_transaction(connection, durable=True)
            inside = await synchronous_commit(connection)

        assert inside == "on"

    async def test_record_if_room_refuses_a_connection_in_a_transaction(
        self, engine: AsyncEngine
    ) -> None:
        async with engine.connect() as connection, connection.begin():
            with pytest.raises(RuntimeError, match="no transaction"):
                await record_on(connection, 1, START, room(START))

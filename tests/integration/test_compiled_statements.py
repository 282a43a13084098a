"""``db.compiled.run``: a decision's statements run on the driver's own connection still fail as
SQLAlchemy statements do. A constraint violation is ``IntegrityError`` on both backends and the
transaction's earlier writes roll back with it; on PostgreSQL a connection terminated inside an
open decision transaction is a ``DBAPIError`` that ``is_database_unavailable`` recognises, so
the request is answered 503 and the next one is served (no mock: a real backend terminated).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import bindparam, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from agentkeys.api.app import create_app
from agentkeys.clock import FrozenClock
from agentkeys.config import Mode, Settings
from agentkeys.credentials.models import CredentialRequestRecord
from agentkeys.credentials.repository import CredentialRepository
from agentkeys.db import compiled
from agentkeys.db.engine import begin_write, create_engine, create_session_factory
from agentkeys.db.outages import is_database_unavailable
from tests.support.app import START, TEST_SECRET, client_for
from tests.support.assertions import assert_envelope
from tests.support.databases import DatabaseProbe, empty_tables, postgres_admin
from tests.support.factories import request_credential
from tests.support.policies import relaxed_policy


def decision(row_id: str) -> dict[str, Any]:
    """A ledger row as the issuance writes it."""
    return {
        "id": row_id,
        "request_id": f"ws_request_{row_id}",
        "created_at": START,
        "outcome": "issued",
        "client_address": "203.0.113.7",
        "client_network": "203.0.113.7/32",
        "organization_name": "Compiled Co",
        "organization_key": "compiled co",
        "user_email_key": None,
        "requested_environment": "sandbox",
        "request": {"organization_name": "Compiled Co"},
        "details": {},
        "network_ordinal": 1,
    }


def credential(credential_id: str, *, of: str, digest: str) -> dict[str, Any]:
    return {
        "id": credential_id,
        "key_digest": digest,
        "credential_request_id": of,
        "organization_key": "compiled co",
        "user_email_key": None,
        "client_network": "203.0.113.7/32",
        "scopes": ["homes:read"],
        "environment": "sandbox",
        "created_at": START,
        "expires_at": START + timedelta(days=1),
    }


@pytest.mark.both_backends
class TestConstraintViolations:
    async def test_a_duplicate_ledger_row_is_an_integrity_error(
        self, database_url: str, db: DatabaseProbe
    ) -> None:
        engine = create_engine(database_url)
        try:
            async with create_session_factory(engine)() as session:
                await begin_write(session, "quota:test")
                repository = CredentialRepository(session)
                await repository.record_decision(decision("r1"))
                with pytest.raises(IntegrityError):
                    await repository.record_decision(decision("r1"))
                await session.rollback()
        finally:
            await engine.dispose()

        assert await db.rows("SELECT id FROM credential_requests") == []

    async def test_a_credential_whose_digest_exists_is_an_integrity_error_and_undoes_its_row(
        self, database_url: str, db: DatabaseProbe
    ) -> None:
        # PostgreSQL: one statement (a data-modifying CTE); SQLite: the row, then the credential.
        engine = create_engine(database_url)
        try:
            factory = create_session_factory(engine)
            async with factory() as session:
                await begin_write(session, "quota:test")
                await CredentialRepository(session).record_decision(
                    decision("r1"), credential("c1", of="r1", digest="d" * 64)
                )
                await session.commit()
            async with factory() as session:
                await begin_write(session, "quota:test")
                with pytest.raises(IntegrityError):
                    await CredentialRepository(session).record_decision(
                        decision("r2"), credential("c2", of="r2", digest="d" * 64)
                    )
                await session.rollback()
        finally:
            await engine.dispose()

        assert [row["id"] for row in await db.rows("SELECT id FROM credential_requests")] == ["r1"]
        assert [row["id"] for row in await db.rows("SELECT id FROM credentials")] == ["c1"]

    async def test_the_connection_serves_the_next_transaction_after_a_violation(
        self, database_url: str, db: DatabaseProbe
    ) -> None:
        engine = create_engine(database_url, pool_size=1)
        try:
            factory = create_session_factory(engine)
            async with factory() as session:
                await begin_write(session, "quota:test")
                repository = CredentialRepository(session)
                await repository.record_decision(decision("r1"))
                with pytest.raises(IntegrityError):
                    await repository.record_decision(decision("r1"))
                await session.rollback()
            async with factory() as session:
                await begin_write(session, "quota:test")
                await CredentialRepository(session).record_decision(decision("r2"))
                await session.commit()
        finally:
            await engine.dispose()

        assert [row["id"] for row in await db.rows("SELECT id FROM credential_requests")] == ["r2"]


LOOK_UP = select(CredentialRequestRecord.id).where(CredentialRequestRecord.id == bindparam("id"))


def terminate(pid: int) -> None:
    """Terminate server process ``pid`` and wait until it is gone (from a thread of its own:
    callable where an event loop is running)."""

    def run() -> None:
        asyncio.run(postgres_admin(f"SELECT pg_terminate_backend({pid}, 10000)"))

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(30)


@contextmanager
def terminated_before(part: str) -> Iterator[list[int]]:
    """Terminate the server process of the first statement holding ``part`` just before it is
    sent (the engine's ``before_cursor_execute``, which ``compiled.run`` calls too)."""
    killed: list[int] = []

    def kill(connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if killed or part not in statement:
            return
        pid: int = connection.connection.driver_connection.get_server_pid()
        killed.append(pid)
        terminate(pid)

    event.listen(Engine, "before_cursor_execute", kill)
    try:
        yield killed
    finally:
        event.remove(Engine, "before_cursor_execute", kill)


@pytest.mark.postgres
class TestTerminatedConnection:
    async def test_run_raises_an_error_the_outage_check_recognises(
        self, postgres_database: str
    ) -> None:
        await empty_tables(postgres_database)
        engine = create_engine(postgres_database)
        try:
            async with create_session_factory(engine)() as session:
                await begin_write(session, "quota:test")
                connection = await session.connection()
                (pid,) = await compiled.run(connection, select(func.pg_backend_pid()), {})
                await asyncio.to_thread(terminate, pid[0])
                with pytest.raises(DBAPIError) as raised:
                    await compiled.run(connection, LOOK_UP, {"id": "r1"})
                await session.rollback()
        finally:
            await engine.dispose()

        assert is_database_unavailable(raised.value), repr(raised.value)

    async def test_a_decision_whose_connection_dies_is_503_and_the_next_is_served(
        self, postgres_database: str
    ) -> None:
        # The decision's one statement (checks, locks, counts, rows).
        part = "agentkeys_record_decision("
        await empty_tables(postgres_database)
        settings = Settings(
            mode=Mode.PRODUCTION,
            secret=TEST_SECRET,
            database_url=postgres_database,
            webhooks_deliver=False,
        )
        app = create_app(settings, clock=FrozenClock(START), policy=relaxed_policy())
        async with client_for(app) as client:
            await request_credential(client, organization_name="Warm Up Co")
            with terminated_before(part) as killed:
                lost = await request_credential(client, organization_name="Lost Co")
            served = await request_credential(client, organization_name="Served Co")
        rows = await DatabaseProbe(postgres_database, sqlite_path=None).rows(
            "SELECT organization_name FROM credential_requests ORDER BY organization_name"
        )

        assert len(killed) == 1
        assert_envelope(lost, status=503, code="SERVICE_UNAVAILABLE")
        assert served.status_code == 200, served.text
        assert served.json()["outcome"] == "issued"
        assert [row["organization_name"] for row in rows] == ["Served Co", "Warm Up Co"]

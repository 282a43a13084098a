"""SQLite's driver shim (``db.sqlite_driver``): each statement is one hop to aiosqlite's thread,
a rollback with nothing to roll back none, ``BEGIN IMMEDIATE`` with the write lock free and
``COMMIT`` none either, a lock held by another process waited for with the loop running, and
results, row counts and errors are what SQLAlchemy's own adapter gives. A hop is one call of
aiosqlite's ``Connection._execute``."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import literal, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from agentkeys.db import compiled, sqlite_driver
from agentkeys.db.engine import begin_write, create_engine, create_session_factory
from tests.support.app import client_for
from tests.support.databases import sqlite_url
from tests.support.factories import request_credential

# What an issued decision achieves with the write lock free: none. BEGIN IMMEDIATE and COMMIT
# run on the loop's thread, and so do the counts and the inserts (``db.compiled``). Before:
# 5, one per statement and the commit; SQLAlchemy's adapter took 15 (cursor, execute, fetch and
# close apart, and a rollback when the pool took the committed connection back).
ISSUED_DECISION_HOPS = 0


@contextmanager
def counted_hops(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The hops to aiosqlite's thread inside the block (the name of what each ran)."""
    hops: list[str] = []
    original: Any = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        hops.append(getattr(fn, "__qualname__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(aiosqlite.Connection, "_execute", counted)
        yield hops


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url(tmp_path / "driver.db"))
    async with engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)")
        )
    try:
        yield engine
    finally:
        await engine.dispose()


class TestOneHopPerStatement:
    async def test_a_select_is_one_hop_and_returns_its_rows_and_columns(
        self, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async with engine.connect() as connection:
            await connection.execute(text("INSERT INTO notes (body) VALUES ('a'), ('b')"))
            with counted_hops(monkeypatch) as hops:
                result = await connection.execute(text("SELECT id, body FROM notes ORDER BY id"))
            rows = [dict(row) for row in result.mappings()]

        assert hops == ["_run"]
        assert rows == [{"id": 1, "body": "a"}, {"id": 2, "body": "b"}]

    async def test_an_empty_result_still_names_its_columns(self, engine: AsyncEngine) -> None:
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT id, body FROM notes"))

        assert list(result.keys()) == ["id", "body"]
        assert result.all() == []

    async def test_writes_report_their_row_counts_and_last_row_id(
        self, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async with engine.begin() as connection:
            with counted_hops(monkeypatch) as hops:
                many = await connection.execute(
                    text("INSERT INTO notes (body) VALUES (:body)"),
                    [{"body": "x"}, {"body": "y"}, {"body": "z"}],
                )
            changed = await connection.execute(text("UPDATE notes SET body = body || '!'"))
            one = await connection.execute(text("INSERT INTO notes (body) VALUES ('w')"))

        assert hops == ["_run"]
        assert (many.rowcount, changed.rowcount, one.lastrowid) == (3, 3, 4)

    async def test_a_constraint_failure_is_sqlalchemys_integrity_error(
        self, engine: AsyncEngine
    ) -> None:
        async with engine.connect() as connection:
            await connection.execute(text("INSERT INTO notes (body) VALUES ('same')"))
            with pytest.raises(IntegrityError):
                await connection.execute(text("INSERT INTO notes (body) VALUES ('same')"))

    async def test_a_statement_on_a_closed_driver_connection_is_an_operational_error(
        self, engine: AsyncEngine
    ) -> None:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            await raw.driver_connection.close()  # type: ignore[union-attr]
            with pytest.raises(OperationalError):
                await connection.execute(text("SELECT 1"))
            await connection.invalidate()


class TestRollback:
    async def test_a_rollback_undoes_the_transaction(self, engine: AsyncEngine) -> None:
        sessions = create_session_factory(engine)
        async with sessions() as session:
            await session.execute(text("INSERT INTO notes (body) VALUES ('gone')"))
            await session.rollback()
            remaining = (await session.execute(text("SELECT count(*) FROM notes"))).scalar()

        assert remaining == 0

    async def test_committing_and_taking_back_the_connection_cost_no_hop(
        self, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        sessions = create_session_factory(engine)
        async with sessions() as session:
            await session.execute(text("INSERT INTO notes (body) VALUES ('kept')"))
            with counted_hops(monkeypatch) as hops:
                await session.commit()
                await session.close()  # the pool resets the connection it takes back

        assert hops == []  # the commit runs on the loop's thread
        async with sessions() as session:  # and it was a commit: the row is there
            assert (await session.execute(text("SELECT body FROM notes"))).scalar_one() == "kept"


class TestWriteLock:
    async def test_a_free_write_lock_is_taken_without_a_hop(
        self, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        sessions = create_session_factory(engine)
        async with sessions() as session:
            with counted_hops(monkeypatch) as hops:
                await begin_write(session)
            # It is the write lock: another connection cannot write meanwhile.
            other = sqlite3.connect(engine.url.database or "", timeout=0)
            try:
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()
            await session.commit()

        assert hops == []

    async def test_a_lock_another_process_holds_is_waited_for_with_the_loop_running(
        self, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        holder = sqlite3.connect(engine.url.database or "", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        sessions = create_session_factory(engine)
        try:
            async with sessions() as session:
                with counted_hops(monkeypatch) as hops:
                    waiting = asyncio.create_task(begin_write(session))
                    await asyncio.sleep(0.3)
                    assert not waiting.done()
                    assert ticks >= 10  # the loop ran while the writer waited
                    holder.execute("COMMIT")
                    await asyncio.wait_for(waiting, timeout=5)
                await session.execute(text("INSERT INTO notes (body) VALUES ('after the wait')"))
                await session.commit()
        finally:
            ticker.cancel()
            holder.close()

        assert hops == []  # asked again on the loop's thread, never waiting in SQLite

    async def test_a_lock_held_past_the_busy_timeout_is_database_is_locked(
        self, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(sqlite_driver, "BUSY_TIMEOUT_MS", 300)
        holder = sqlite3.connect(engine.url.database or "", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        sessions = create_session_factory(engine)
        try:
            async with sessions() as session:
                started = asyncio.get_running_loop().time()
                with pytest.raises(OperationalError, match="database is locked"):
                    await begin_write(session)
                waited = asyncio.get_running_loop().time() - started
        finally:
            holder.close()

        assert 0.3 <= waited < 4  # the timeout set here, not the default 5 s


class TestStatementsOnTheLoop:
    async def test_run_on_the_loop_only_while_holding_the_write_lock(
        self, engine: AsyncEngine
    ) -> None:
        statement = select(literal(1))
        sessions = create_session_factory(engine)
        async with sessions() as session:
            await session.execute(text("SELECT 1"))  # a read transaction: not the write lock
            with pytest.raises(RuntimeError, match="write transaction"):
                await compiled.run(await session.connection(), statement, {})
        async with sessions() as session:
            await begin_write(session)
            rows = await compiled.run(await session.connection(), statement, {})
            await session.commit()
            # Committed: the lock is given up, and so is running on the loop.
            with pytest.raises(RuntimeError, match="write transaction"):
                await compiled.run(await session.connection(), statement, {})

        assert [tuple(row) for row in rows] == [(1,)]


class TestDecisionHops:
    async def test_an_issued_decision_never_hops_to_the_driver_thread(
        self, make_app: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async with client_for(make_app()) as client:
            await request_credential(client)  # the pool's first connection
            with counted_hops(monkeypatch) as hops:
                response = await request_credential(
                    client, organization_name="Hop Counting Co", user_email="hops@example.com"
                )

        assert response.json()["outcome"] == "issued"
        assert len(hops) <= ISSUED_DECISION_HOPS, hops

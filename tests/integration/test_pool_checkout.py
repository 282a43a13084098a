"""PostgreSQL's pool hands out live connections without a round trip for one in steady use:
a connection the server closed is replaced, one idle past ``IDLE_PING_SECONDS`` is pinged first
(and replaced if the ping fails), one in steady use goes out as it is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection
from sqlalchemy.ext.asyncio import AsyncEngine

from agentkeys.db import engine as engine_module
from agentkeys.db.engine import create_engine
from tests.support.databases import postgres_admin
from tests.support.waiting import until

pytestmark = pytest.mark.postgres

# Longer than any test: only a closed connection can be replaced.
NEVER = 1e9


@pytest.fixture
async def engine(postgres_database: str) -> AsyncIterator[AsyncEngine]:
    made = create_engine(postgres_database, pool_size=1)
    yield made
    await made.dispose()


@pytest.fixture
def pings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every ping the pool sends, counted."""
    seen: list[int] = []
    real = AsyncAdapt_asyncpg_connection.ping

    def counted(self: Any) -> None:
        seen.append(1)
        real(self)  # type: ignore[no-untyped-call]

    monkeypatch.setattr(AsyncAdapt_asyncpg_connection, "ping", counted)
    return seen


async def checked_out(engine: AsyncEngine) -> tuple[int, Any]:
    """The server process of the connection the pool hands out, and asyncpg's connection."""
    async with engine.connect() as connection:
        pid: int = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        raw = await connection.get_raw_connection()
        return pid, raw.driver_connection


async def test_a_connection_in_steady_use_goes_out_without_a_ping(
    engine: AsyncEngine, pings: list[int]
) -> None:
    first, _ = await checked_out(engine)

    again = [await checked_out(engine) for _ in range(5)]

    assert [pid for pid, _ in again] == [first] * 5
    assert pings == []


async def test_an_idle_connection_is_pinged_before_it_goes_out(
    engine: AsyncEngine, pings: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = await checked_out(engine)
    monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 0.0)

    again, _ = await checked_out(engine)

    assert again == first
    assert pings == [1]


async def test_a_connection_the_server_closed_is_replaced_without_a_ping(
    engine: AsyncEngine, pings: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", NEVER)
    first, driver = await checked_out(engine)
    await postgres_admin(f"SELECT pg_terminate_backend({first})")
    # The pooled connection learns of it from its socket: no statement is sent.
    await until(driver.is_closed)

    replaced, _ = await checked_out(engine)

    assert replaced != first
    assert pings == []


async def test_an_idle_connection_whose_ping_fails_is_replaced(
    engine: AsyncEngine, pings: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, driver = await checked_out(engine)
    await postgres_admin(f"SELECT pg_terminate_backend({first})")
    await until(driver.is_closed)
    # As if the close had gone unseen: only the ping can tell.
    monkeypatch.setattr(type(driver), "is_closed", lambda _self: False)
    monkeypatch.setattr(engine_module, "IDLE_PING_SECONDS", 0.0)

    replaced, _ = await checked_out(engine)

    assert replaced != first
    assert pings == [1]


async def test_a_burst_opens_at_most_the_pool_size_and_keeps_every_connection(
    postgres_database: str,
) -> None:
    """Twice as many sessions as the pool holds, twice: the second burst is served by the very
    connections the first opened (no connection closed under load and opened again)."""
    engine = create_engine(postgres_database, pool_size=3)
    try:

        async def one_session() -> int:
            async with engine.connect() as connection:
                pid: int = (
                    await connection.execute(text("SELECT pg_backend_pid() FROM pg_sleep(0.05)"))
                ).scalar_one()
                return pid

        first = set(await asyncio.gather(*(one_session() for _ in range(6))))
        second = set(await asyncio.gather(*(one_session() for _ in range(6))))
        assert len(first) == 3
        assert second == first
    finally:
        await engine.dispose()

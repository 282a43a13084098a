"""The test databases: service URLs, reachability, PostgreSQL administration, a probe that reads
the stored data from outside the app, and databases in the states an operator can leave them in
(never migrated, behind, missing)."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from agentkeys.tables import metadata

POSTGRES_ADMIN_URL = os.environ.get(
    "AGENTKEYS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("AGENTKEYS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require_reachable(service: str, url: str) -> None:
    """Skip (or, with AGENTKEYS_REQUIRE_SERVICES=1, fail) when a service does not answer."""
    parsed = make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 0), timeout=2):
            return
    except OSError as error:
        reason = f"{service} at {parsed.host}:{parsed.port} is unreachable: {error}"
    if os.environ.get("AGENTKEYS_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (AGENTKEYS_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


async def postgres_admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def empty_tables(url: str) -> None:
    """Delete every row, dependents first. DELETE, not TRUNCATE: on the few rows a test leaves,
    it takes milliseconds where TRUNCATE, which replaces each table's files, takes a fifth of a
    second, and every PostgreSQL test pays it."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                await connection.execute(table.delete())
    finally:
        await engine.dispose()


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


class DatabaseProbe:
    """Reads the test's database from outside the app, whatever the backend."""

    def __init__(self, url: str, *, sqlite_path: Path | None) -> None:
        self.url = url
        self.sqlite_path = sqlite_path

    async def rows(self, sql: str, **params: object) -> list[dict[str, Any]]:
        """Run one read-only statement (named ``:params``) and return its rows as dicts."""
        engine = create_async_engine(self.url)
        try:
            async with engine.connect() as connection:
                result = await connection.execute(text(sql), params)
                return [dict(row._mapping) for row in result]
        finally:
            await engine.dispose()

    async def holds(self, needle: str) -> bool:
        """Whether ``needle`` appears anywhere in the stored data (for SQLite: in the files)."""
        if self.sqlite_path is not None:
            stored = b"".join(
                path.read_bytes()
                for path in self.sqlite_path.parent.glob(f"{self.sqlite_path.name}*")
            )
            return needle.encode() in stored
        everything = []
        for table in metadata.sorted_tables:
            everything.extend(await self.rows(f"SELECT * FROM {table.name}"))  # noqa: S608 - our own table names
        return needle in repr(everything)


@dataclass(frozen=True)
class ServedDatabase:
    """A database for real server processes: a SQLite file the server will create itself, or
    the run's PostgreSQL database, migrated (``serve`` migrates SQLite only) and empty."""

    url: str
    sqlite_path: Path | None

    def probe(self) -> DatabaseProbe:
        return DatabaseProbe(self.url, sqlite_path=self.sqlite_path)


def postgres_url(name: str) -> str:
    return str(make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+asyncpg", database=name))


def unused_database_name() -> str:
    return f"agentkeys_fresh_{os.getpid()}_{secrets.token_hex(4)}"


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """An empty database of its own on the PostgreSQL server (no schema), dropped at the end."""
    require_reachable("PostgreSQL", POSTGRES_ADMIN_URL)
    name = unused_database_name()
    asyncio.run(postgres_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url(name)
    finally:
        asyncio.run(postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def empty_database(backend: str, directory: Path) -> Iterator[str]:
    """A database nobody migrated: a new SQLite file, or a new PostgreSQL database."""
    if backend == "sqlite":
        yield sqlite_url(directory / "empty.db")
        return
    with fresh_postgres_database() as url:
        yield url

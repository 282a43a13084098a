"""Fixtures: a migrated database per test (SQLite, and PostgreSQL when reachable), a frozen clock,
and an HTTP client on the app.

Every test that touches the database runs once per backend. PostgreSQL tests use a database of
their own for the run (created here, dropped at the end) and empty its tables before each test.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from agentkeys.api.app import create_app
from agentkeys.clock import FrozenClock
from agentkeys.config import Mode, Settings
from agentkeys.credentials.policy import IssuingPolicy
from agentkeys.db import migrate
from agentkeys.tables import metadata

TEST_SECRET = "test-server-secret-0123456789-abcdefghijklmnop"
START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

AppFactory = Callable[..., FastAPI]
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]
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
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            names = ", ".join(table.name for table in metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {names} CASCADE"))
    finally:
        await engine.dispose()


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database built by the migrations; each test gets a copy (fast, and fully isolated)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(sqlite_url(path))
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of this run's own on the PostgreSQL server, migrated, dropped at the end."""
    require_reachable("PostgreSQL", POSTGRES_ADMIN_URL)
    name = f"agentkeys_test_{os.getpid()}_{secrets.token_hex(4)}"
    asyncio.run(postgres_admin(f'CREATE DATABASE "{name}"'))
    url = str(make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+asyncpg", database=name))
    try:
        migrate.upgrade(url)
        yield url
    finally:
        asyncio.run(postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The machine's Redis (AGENTKEYS_TEST_REDIS_URL); tests use keys of their own credentials."""
    require_reachable("Redis", REDIS_URL)
    return REDIS_URL


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def database_path(backend: str, migrated_template: Path, tmp_path: Path) -> Path | None:
    """The SQLite file of this test (``None`` on PostgreSQL)."""
    if backend != "sqlite":
        return None
    path = tmp_path / "agentkeys.db"
    shutil.copyfile(migrated_template, path)
    return path


@pytest.fixture
def database_url(backend: str, database_path: Path | None, request: pytest.FixtureRequest) -> str:
    if database_path is not None:
        return sqlite_url(database_path)
    url: str = request.getfixturevalue("postgres_database")
    asyncio.run(empty_tables(url))
    return url


@dataclass(frozen=True)
class ServedDatabase:
    """A database for real server processes: a SQLite file the server will create itself, or
    the run's PostgreSQL database, migrated (``serve`` migrates SQLite only) and empty."""

    url: str
    sqlite_path: Path | None

    def probe(self) -> DatabaseProbe:
        return DatabaseProbe(self.url, sqlite_path=self.sqlite_path)


@pytest.fixture
def served_database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> ServedDatabase:
    if backend == "sqlite":
        path = tmp_path / "served.db"
        return ServedDatabase(sqlite_url(path), path)
    url: str = request.getfixturevalue("postgres_database")
    asyncio.run(empty_tables(url))
    return ServedDatabase(url, None)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(mode=Mode.PRODUCTION, secret=TEST_SECRET, database_url=database_url)


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


@pytest.fixture
def db(settings: Settings, database_path: Path | None) -> DatabaseProbe:
    return DatabaseProbe(settings.database_url, sqlite_path=database_path)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def make_app(settings: Settings, clock: FrozenClock) -> AppFactory:
    def build(*, policy: IssuingPolicy | None = None, **overrides: object) -> FastAPI:
        configured = settings.model_copy(update=overrides) if overrides else settings
        return create_app(configured, clock=clock, policy=policy)

    return build


@pytest.fixture
async def client(make_app: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(make_app()) as http:
        yield http


class client_for:  # noqa: N801 - reads as a function at the call site
    """``async with client_for(app) as http``: an HTTP client on the app, lifespan included."""

    def __init__(self, app: FastAPI, *, client_address: str = "203.0.113.7") -> None:
        self._app = app
        self._client_address = client_address
        self._lifespan = app.router.lifespan_context(app)
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> httpx.AsyncClient:
        await self._lifespan.__aenter__()
        transport = httpx.ASGITransport(app=self._app, client=(self._client_address, 50000))
        self._http = httpx.AsyncClient(transport=transport, base_url="http://agentkeys.test")
        return self._http

    async def __aexit__(self, *exc: object) -> None:
        assert self._http is not None
        await self._http.aclose()
        await self._lifespan.__aexit__(None, None, None)

"""Fixtures: a migrated SQLite database per test, a frozen clock, and an HTTP client on the app."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from agentkeys.api.app import create_app
from agentkeys.clock import FrozenClock
from agentkeys.config import Mode, Settings
from agentkeys.credentials.policy import IssuingPolicy
from agentkeys.db import migrate
from agentkeys.db.models import metadata

TEST_SECRET = "test-server-secret-0123456789-abcdefghijklmnop"
START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

AppFactory = Callable[..., FastAPI]


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database built by the migrations; each test gets a copy (fast, and fully isolated)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(sqlite_url(path))
    return path


@pytest.fixture
def database_path(migrated_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "agentkeys.db"
    shutil.copyfile(migrated_template, path)
    return path


@pytest.fixture
def settings(database_path: Path) -> Settings:
    return Settings(
        mode=Mode.PRODUCTION, secret=TEST_SECRET, database_url=sqlite_url(database_path)
    )


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
def db(settings: Settings, database_path: Path) -> DatabaseProbe:
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

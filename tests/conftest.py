"""Fixtures only (helpers live in ``tests/support/``): a migrated database per test (SQLite, and
PostgreSQL when reachable), a frozen clock, and an HTTP client on the app.

A test that touches the database runs on SQLite; one whose module or class is marked
``both_backends`` (storage behaviour: quotas, races, revocation, migrations, stored data, …; the
rule is in ARCHITECTURE.md, "Tests") runs once per backend. PostgreSQL tests use a database of
their own for the run (created here, dropped at the end) and empty its tables before each test.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import make_url

from agentkeys.api.app import create_app
from agentkeys.clock import FrozenClock
from agentkeys.config import Mode, Settings
from agentkeys.credentials.policy import IssuingPolicy
from agentkeys.db import migrate
from tests.support.app import START, TEST_SECRET, AppFactory, client_for
from tests.support.databases import (
    POSTGRES_ADMIN_URL,
    REDIS_URL,
    DatabaseProbe,
    ServedDatabase,
    empty_tables,
    postgres_admin,
    require_reachable,
    sqlite_url,
)

SQLITE = pytest.param("sqlite", id="sqlite")
BACKENDS = [SQLITE, pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test using the database gets ``backend``: both when marked ``both_backends``."""
    if "backend" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("both_backends") is not None
        metafunc.parametrize("backend", BACKENDS if both else [SQLITE], indirect=True)


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


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgresql``, as ``pytest_generate_tests`` chose for the test."""
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
    # No webhook worker in the tests' apps: its rounds would take connections and SQLite's
    # write lock at moments tests measure; the webhook tests drive it (or start it) themselves.
    return Settings(
        mode=Mode.PRODUCTION,
        secret=TEST_SECRET,
        database_url=database_url,
        webhooks_deliver=False,
    )


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

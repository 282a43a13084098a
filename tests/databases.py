"""Databases in the states an operator can leave them in: never migrated, behind, missing."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import make_url

from tests.conftest import POSTGRES_ADMIN_URL, postgres_admin, require_reachable, sqlite_url


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

"""Engine and session factory. SQLite: WAL, foreign keys and a busy timeout on each connection."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 5_000


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # Hand transaction control to SQLAlchemy's "begin" hook below, so writers can take the
    # write lock up front (BEGIN IMMEDIATE) instead of failing on a lock upgrade mid-transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _begin_sqlite(connection: Any) -> None:
    mode = "IMMEDIATE" if connection.get_execution_options().get("write_lock") else "DEFERRED"
    connection.exec_driver_sql(f"BEGIN {mode}")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def json_dumps(value: Any) -> str:
    """JSON columns as UTF-8 text: an emoji takes its 4 bytes, not a 12-byte escape pair.

    Non-finite numbers are refused (``ValueError``): JSON has none, and PostgreSQL rejects them.
    """
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def create_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url, pool_pre_ping=not is_sqlite(url), json_serializer=json_dumps)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        event.listen(engine.sync_engine, "begin", _begin_sqlite)
    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def begin_write(session: AsyncSession, *lock_names: str) -> None:
    """Start the session's transaction as a writer that holds the named locks until it ends.

    SQLite: ``BEGIN IMMEDIATE``, one writer at a time for the whole database. PostgreSQL: a
    transaction-scoped advisory lock per name, taken in sorted order so two writers can never
    wait on each other. Call it before the first read of a read-then-write unit of work (a quota
    count, then an insert): whoever holds the locks sees every earlier writer's commit.
    """
    connection = await session.connection(execution_options={"write_lock": True})
    if connection.dialect.name == "postgresql":
        for name in sorted(set(lock_names)):
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name}
            )


AfterCommit = Callable[[], Awaitable[None]]
AFTER_COMMIT = "agentkeys.after_commit"


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run ``callback`` once the unit of work around ``session`` commits (never on rollback)."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


def pop_after_commit(session: AsyncSession) -> list[AfterCommit]:
    callbacks: list[AfterCommit] = session.info.pop(AFTER_COMMIT, [])
    return callbacks

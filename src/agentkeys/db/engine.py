"""Engine and session factory. SQLite: WAL, foreign keys and a busy timeout on each connection,
and one writer per process at a time (a queue in front of ``BEGIN IMMEDIATE``)."""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import bindparam, event, exc, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import Text

from agentkeys.db import sqlite_driver

SQLITE_BUSY_TIMEOUT_MS = sqlite_driver.BUSY_TIMEOUT_MS


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


class _Hold:
    """One transaction's place at the head of its process's write queue, given up exactly once:
    when the transaction commits or rolls back, or else when its connection goes back to the pool
    or is invalidated."""

    __slots__ = ("_lock", "_loop", "released")

    def __init__(self, lock: asyncio.Lock, loop: asyncio.AbstractEventLoop) -> None:
        self._lock = lock
        self._loop = loop
        self.released = False

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._lock.release()
        elif not self._loop.is_closed():  # a connection collected outside the loop's thread
            self._loop.call_soon_threadsafe(self._lock.release)


class WriteQueue:
    """The SQLite writers of one process, in arrival order (an ``asyncio.Lock`` per event loop).

    SQLite has one writer at a time per database. Without a queue, every transaction waiting in
    ``BEGIN IMMEDIATE`` polls the lock in its own thread with SQLite's busy handler, which
    sleeps up to 100 ms between tries and serves no one in order: under a burst, a few writers
    waited seconds (p99 1.7 s, and 503s past the busy timeout with two processes). Queued here,
    a process sends one writer at a time to SQLite, woken as soon as the previous one is done;
    only writers of *other* processes on the same file still meet in the busy handler.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    async def hold(self) -> _Hold:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        await lock.acquire()
        return _Hold(lock, loop)


_HOLD = "agentkeys.write_queue_hold"
_WRITE_QUEUES: weakref.WeakKeyDictionary[Engine, WriteQueue] = weakref.WeakKeyDictionary()


def _release_hold(_dbapi_connection: Any, record: Any, *_args: Any) -> None:
    hold = record.info.pop(_HOLD, None) if record is not None else None
    if hold is not None:
        hold.release()


def _session_ended(session: Session, *_args: Any) -> None:
    """Give the queue up as soon as the transaction has committed or rolled back, before the
    connection goes back to the pool (a pool event would release it a step later)."""
    hold = session.info.get(_HOLD)
    if hold is not None:
        hold.release()


event.listen(Session, "after_commit", _session_ended)
event.listen(Session, "after_rollback", _session_ended)


def create_engine(url: str, *, pool_size: int | None = None) -> AsyncEngine:
    """The engine of ``url``. ``pool_size`` (PostgreSQL) bounds this process's connections
    (``Settings.database_pool_size``): the pool opens up to that many as they are needed and
    keeps them. No overflow: a pool that closes under load what it opened under load churns
    exactly when busy, and a new PostgreSQL connection is a backend started, authenticated and
    warmed (catalog caches, the decision function compiled) at a cost of several decisions."""
    options: dict[str, Any] = {}
    if pool_size is not None and not is_sqlite(url):
        options = {"pool_size": pool_size, "max_overflow": 0}
    if is_sqlite(url):
        # One hop to aiosqlite's thread per statement (``db.sqlite_driver``).
        options["module"] = sqlite_driver.dbapi()
        # A decision's statements run on the event loop's thread (``db.compiled``), between
        # statements run on aiosqlite's: never both at once (each hop is awaited).
        options["connect_args"] = {"check_same_thread": False}
    engine = create_async_engine(url, json_serializer=json_dumps, **options)
    if not is_sqlite(url):
        event.listen(engine.sync_engine.pool, "checkin", _checked_in)
        event.listen(engine.sync_engine.pool, "checkout", _check_out)
    if is_sqlite(url):
        sync_engine = engine.sync_engine
        event.listen(sync_engine, "connect", _configure_sqlite)
        event.listen(sync_engine, "begin", _begin_sqlite)
        _WRITE_QUEUES[sync_engine] = WriteQueue()
        for name in ("checkin", "invalidate", "close_detached", "detach"):
            event.listen(sync_engine.pool, name, _release_hold)
    return engine


# A pooled connection idle longer than this is pinged before it is handed out (PostgreSQL).
IDLE_PING_SECONDS = 1.0
_CHECKED_IN_AT = "agentkeys.checked_in_at"


def _checked_in(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info[_CHECKED_IN_AT] = time.monotonic()


def _check_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Hand out a live connection, without a round trip for one in steady use.

    ``pool_pre_ping`` pinged on every checkout: three round trips on asyncpg (``BEGIN``, a
    statement, ``ROLLBACK``), a third of an issuance's. Here a connection the driver already
    knows is closed (the server went away: asyncpg sees the socket close) is replaced for free,
    and only one idle for over ``IDLE_PING_SECONDS`` is pinged; a failure replaces it
    (``DisconnectionError``: the pool retries with a new connection). A connection in use while
    the server goes away fails its statement (503), and that disconnect recycles every connection
    of the pool opened before it.
    """
    driver = record.driver_connection  # asyncpg's own
    if driver is not None and driver.is_closed():
        raise exc.DisconnectionError("the connection was closed")
    checked_in_at = record.info.get(_CHECKED_IN_AT)
    if checked_in_at is None or time.monotonic() - checked_in_at < IDLE_PING_SECONDS:
        return  # new, or in steady use
    try:
        dbapi_connection.ping()
    except Exception as error:
        raise exc.DisconnectionError(str(error)) from error


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def begin_write(session: AsyncSession, *lock_names: str, durable: bool = True) -> None:
    """Start the session's transaction as a writer that holds the named locks until it ends.

    SQLite: ``BEGIN IMMEDIATE``, one writer at a time for the whole database, after a place in
    this process's write queue (``WriteQueue``). PostgreSQL: a transaction-scoped advisory lock
    per name, all taken by one statement in sorted order so two writers can never wait on each
    other. Call it before the first read of a read-then-write unit of work (a quota
    count, then an insert): whoever holds the locks sees every earlier writer's commit.
    ``durable=False`` (PostgreSQL): the transaction commits without waiting for the disk
    (``SET LOCAL synchronous_commit = off``, before the locks), so its locks are given up sooner.
    """
    queue = _WRITE_QUEUES.get(session.get_bind())  # type: ignore[arg-type]
    held: _Hold | None = session.info.get(_HOLD)
    if queue is None or (held is not None and not held.released):
        # PostgreSQL, or this transaction already holds its process's write queue.
        connection = await session.connection(execution_options={"write_lock": True})
    else:
        hold = await queue.hold()
        try:
            connection = await session.connection(execution_options={"write_lock": True})
        except BaseException:
            hold.release()
            raise
        # Given up at commit or rollback (session events), else when the connection goes back.
        connection.info[_HOLD] = session.info[_HOLD] = hold
    if connection.dialect.name == "postgresql" and lock_names:
        if not durable:
            await connection.execute(_FAST_COMMIT)
        await connection.execute(_ADVISORY_LOCKS, {"names": sorted(set(lock_names))})


# Every named lock in one round trip, in the order given (ORDER BY ordinality in a subquery the
# planner keeps: it has its own ORDER BY), so two writers never wait on each other.
_ADVISORY_LOCKS = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(ordered.name, 0)) FROM"
    " (SELECT name FROM unnest(:names) WITH ORDINALITY AS named(name, position)"
    " ORDER BY position) AS ordered"
).bindparams(bindparam("names", type_=ARRAY(Text())))


_FAST_COMMIT = text("SET LOCAL synchronous_commit = off")

AfterCommit = Callable[[], Awaitable[None]]
AFTER_COMMIT = "agentkeys.after_commit"


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run ``callback`` once the unit of work around ``session`` commits (never on rollback)."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


def pop_after_commit(session: AsyncSession) -> list[AfterCommit]:
    callbacks: list[AfterCommit] = session.info.pop(AFTER_COMMIT, [])
    return callbacks

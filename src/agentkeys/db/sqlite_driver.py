"""SQLite through aiosqlite, one thread hop per statement (SQLAlchemy's adapter takes three or
four) and none to roll back a connection that holds no transaction; ``BEGIN IMMEDIATE`` and
``COMMIT`` on the event loop's thread, with no hop at all."""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

# What one statement leaves for the cursor: description, rows, rowcount, lastrowid.
# How long a writer waits for another process's write lock (``PRAGMA busy_timeout``).
BUSY_TIMEOUT_MS = 5_000
# The pauses of a writer waiting for another process's write lock (``_begin_immediate``).
FIRST_PAUSE_SECONDS = 0.0005
LONGEST_PAUSE_SECONDS = 0.005
_Outcome = tuple[Any, Sequence[Any], int, int | None]


def _run(
    connection: aiosqlite.Connection, operation: str, parameters: Any, *, many: bool
) -> _Outcome:
    """On the connection's own thread: the statement, its rows, and the cursor closed."""
    cursor = connection._conn.cursor()  # the sqlite3 connection, on its thread
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else ()
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A statement run in one call on the connection's thread: open a cursor, execute, fetch
    every row, close. SQLAlchemy's own adapter awaits each of those separately, and every await
    is a hop to aiosqlite's thread and back (a queue put, a wake-up of the event loop through
    its self-pipe, a turn of the loop): measured at a third of a decision's CPU, with 15 hops
    for 4 statements. Rows are buffered as the adapter's default cursor buffers them."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        # No aiosqlite cursor is opened here (the parent's constructor spends a hop on it).
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._rows = collections.deque()
        self._soft_closed_memoized = EMPTY_DICT
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    def _hop(self, operation: Any, parameters: Any, *, many: bool) -> None:
        try:
            outcome: _Outcome = await_(
                # aiosqlite's queue to its thread (private, as SQLAlchemy's adapter uses it).
                self._connection._execute(_run, self._connection, operation, parameters, many=many)
            )
        except Exception as error:  # translated as the adapter translates them
            self._adapt_connection._handle_exception(error)
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        if operation == "BEGIN IMMEDIATE" and not parameters:
            self._begin_immediate()
            self._description, self._rowcount, self._lastrowid = None, -1, None
            self._rows = collections.deque()
            return
        self._hop(operation, parameters, many=False)

    def _begin_immediate(self) -> None:
        """Take the write lock on the event loop's thread, without a hop.

        Free, it is taken at once (~10 µs). Held by another process, SQLite is asked again after
        a pause that doubles from 0.5 ms up to 5 ms, the loop serving everything else
        meanwhile, until ``BUSY_TIMEOUT_MS``: then ``database is locked`` as before. SQLite's
        own busy handler, waiting on the driver's thread, slept 1, 2, 5 … up to 100 ms
        between tries, so a writer that had waited long was the last to notice the lock free.
        """
        native: sqlite3.Connection = self._connection._conn
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        pause = FIRST_PAUSE_SECONDS
        while True:
            try:
                _begin_without_waiting(native)
            except sqlite3.OperationalError as error:
                # SQLITE_BUSY or one of its extended codes (a log being recovered, 261).
                busy = error.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() >= deadline:
                    self._adapt_connection._handle_exception(error)
            else:
                adapted: Any = self._adapt_connection  # a OneHopConnection
                adapted.writing = True
                return
            await_(asyncio.sleep(pause))
            pause = min(pause * 2, LONGEST_PAUSE_SECONDS)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        self._hop(operation, seq_of_parameters, many=True)

    async def _async_soft_close(self) -> None:
        return  # closed on its thread already

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        return  # sqlite3's does nothing


def _begin_without_waiting(native: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, or ``SQLITE_BUSY`` at once if another connection holds the lock."""
    native.execute("PRAGMA busy_timeout = 0")
    try:
        native.execute("BEGIN IMMEDIATE")
    finally:
        native.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """The adapter's connection with ``OneHopCursor``, a commit on the loop's thread, and a
    rollback that costs nothing when there is nothing to roll back (the pool resets every
    connection it takes back, after the unit of work has committed)."""

    # True from a successful BEGIN IMMEDIATE to the end of its transaction: this connection
    # holds the database's write lock (``db.compiled`` runs statements on the loop only then).
    __slots__ = ("writing",)
    _cursor_cls = OneHopCursor

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writing = False

    def holds_the_write_lock(self) -> bool:
        return self.writing and bool(self._connection._conn.in_transaction)

    def commit(self) -> None:
        """On the event loop's thread: a WAL commit writes the transaction's pages to the log
        without a sync (``synchronous=NORMAL``) and waits for no lock, ~15 µs against a hop's
        ~50. One commit in a few hundred also runs SQLite's automatic checkpoint (every 1,000
        log pages), which stops the loop for its few milliseconds (at most 7 ms measured)."""
        native = self._connection._conn
        self.writing = False
        if native.in_transaction:
            try:
                native.commit()
            except Exception as error:
                self._handle_exception(error)

    def rollback(self) -> None:
        self.writing = False
        connection = self._connection
        try:
            idle = connection._connection is not None and not connection.in_transaction
        except sqlite3.ProgrammingError:  # a driver that checks the calling thread: ask it
            idle = False
        if not idle:
            super().rollback()


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    """The aiosqlite DBAPI shim handing out ``OneHopConnection`` (``create_engine(module=…)``)."""

    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


def dbapi() -> OneHopDbapi:
    return OneHopDbapi(aiosqlite, sqlite3)

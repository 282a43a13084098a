"""Statements compiled once and run on the driver's own connection, inside the transaction the
session opened: for a hot unit of work (a credential decision) whose every statement is known.

SQLAlchemy's execution of a Core statement (an execution context, parameter processing, a
result object, and on asyncio a greenlet and an await per statement) cost more CPU than the
statement itself here. ``run`` keeps what matters of it: the SQL is SQLAlchemy's, compiled once
per dialect; parameters go through the same bind processors (dates, JSON); driver errors are
raised as SQLAlchemy's ``DBAPIError`` family, so an outage is answered as on every other route.

On SQLite the statement runs on the event loop's thread rather than aiosqlite's: only inside a
write transaction this process already holds (``BEGIN IMMEDIATE`` done), where in WAL mode a
statement never waits for a lock, and only for the decision's few indexed statements, each
bounded by its caps. A hop to aiosqlite's thread and back cost more than such a statement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


@dataclass(frozen=True, slots=True)
class Compiled:
    """One statement for one dialect: its SQL and, in order, each parameter's name and bind
    processor (None: passed as it is)."""

    sql: str
    names: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    # Values the statement carries itself (a literal's anonymous parameter), by name.
    carried: Mapping[str, Any]

    def parameters(self, values: Mapping[str, Any]) -> list[Any]:
        carried = self.carried
        return [
            value if process is None else process(value)
            for value, process in zip(
                (values[name] if name not in carried else carried[name] for name in self.names),
                self.processors,
                strict=True,
            )
        ]


_COMPILED: dict[tuple[int, str, tuple[str, ...]], tuple[ClauseElement, Compiled]] = {}
# A handful of statements per policy; cleared (and compiled again) if ever more.
_COMPILED_KEPT = 128


def compiled(statement: ClauseElement, dialect: Dialect, keys: Sequence[str] = ()) -> Compiled:
    """``statement`` compiled for ``dialect`` (``keys``: the columns an INSERT is given)."""
    key = (id(statement), dialect.name, tuple(keys))
    found = _COMPILED.get(key)
    # The statement is kept beside its compiled form, so its id cannot be reused meanwhile.
    if found is not None and found[0] is statement:
        return found[1]
    if len(_COMPILED) >= _COMPILED_KEPT:
        _COMPILED.clear()
    result = statement.compile(dialect=dialect, column_keys=list(keys) if keys else None)
    assert isinstance(result, SQLCompiler)  # noqa: S101 - a Core statement's compiler
    if not dialect.positional or result.positiontup is None:
        raise ValueError(f"{dialect.name}: only positional parameters are run directly")
    names = tuple(result.positiontup)
    processors: list[Callable[[Any], Any] | None] = []
    for name in names:
        process = result._bind_processors.get(name)
        if process is not None and not callable(process):  # a tuple-valued parameter's
            raise ValueError(f"{name}: only single-valued parameters are run directly")
        processors.append(process)
    carried = {
        name: bind.effective_value
        for bind, name in result.bind_names.items()
        if not bind.required and name in names
    }
    made = Compiled(
        sql=result.string,
        names=names,
        processors=tuple(processors),
        carried=carried,
    )
    _COMPILED[key] = (statement, made)
    return made


async def run(
    connection: AsyncConnection,
    statement: ClauseElement,
    values: Mapping[str, Any],
    *,
    keys: Sequence[str] = (),
    own_transaction: bool = False,
) -> list[Any]:
    """Run ``statement`` with ``values`` in the connection's open transaction; its rows.

    ``own_transaction`` (PostgreSQL): the statement is a transaction of its own, on a
    connection that has none open (it is an error otherwise) and is left with none: the
    driver's implicit transaction, as in autocommit, without switching the connection's
    isolation level there and back.
    """
    dialect = connection.dialect
    made = compiled(statement, dialect, keys)
    parameters = made.parameters(values)
    raw = await connection.get_raw_connection()
    adapted: Any = raw.dbapi_connection
    if own_transaction and (
        dialect.name != "postgresql"
        or connection.in_transaction()
        or getattr(adapted, "_transaction", None) is not None
    ):
        raise RuntimeError("own_transaction needs a PostgreSQL connection with no transaction")
    direct = dialect.name == "sqlite" or (
        # The adapter's asyncpg transaction (SQLAlchemy 2.1) is open: run inside it; or the
        # statement is its own transaction.
        dialect.name == "postgresql"
        and (own_transaction or getattr(adapted, "_transaction", None) is not None)
    )
    if not direct:  # the adapter begins its transaction as SQLAlchemy expects
        result = await connection.exec_driver_sql(made.sql, tuple(parameters))
        return list(result.all()) if result.returns_rows else []
    sync = connection.sync_connection
    if sync is not None and (sync._has_events or sync.engine._has_events):
        # Listeners of the engine's statements (tracing, counting) see these too.
        sync.dispatch.before_cursor_execute(sync, None, made.sql, parameters, None, False)
    if dialect.name == "sqlite":
        return _on_sqlite(adapted, made.sql, parameters)
    return await _on_asyncpg(adapted, dialect, made.sql, parameters)


def _on_sqlite(adapted: Any, sql: str, parameters: list[Any]) -> list[Any]:
    if not adapted.holds_the_write_lock():  # else a statement could wait for it on the loop
        raise RuntimeError("run() on SQLite needs the session's write transaction (begin_write)")
    native: sqlite3.Connection = adapted.driver_connection._conn
    try:
        cursor = native.execute(sql, parameters)
        try:
            return cursor.fetchall() if cursor.description else []
        finally:
            cursor.close()
    except sqlite3.Error as error:
        raise DBAPIError.instance(sql, parameters, error, sqlite3.Error) from error


async def _on_asyncpg(adapted: Any, dialect: Dialect, sql: str, parameters: list[Any]) -> list[Any]:
    native = adapted.driver_connection
    try:
        return list(await native.fetch(sql, *parameters))
    except Exception as error:
        dbapi: Any = dialect.loaded_dbapi
        try:
            adapted._handle_exception(error)
        except dbapi.Error as translated:
            raise DBAPIError.instance(sql, parameters, translated, dbapi.Error) from error
        raise

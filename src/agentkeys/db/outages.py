"""Which database errors mean "the database is away or not migrated" rather than a bad statement.

Infrastructure knowledge, kept beside the engine: ``api.errors`` answers these 503, and anything
else that reads the database may ask the same question.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

# PostgreSQL error classes meaning "the server is not there right now": 08 connection exception,
# 57 operator intervention (shutting down, starting up, terminated by the administrator),
# 28 invalid authorization (the server refuses our role), 3D invalid catalog name (the database
# does not exist).
_UNAVAILABLE_SQLSTATE_CLASSES = ("08", "57", "28", "3D")
# A schema that is missing or behind the migrations (never migrated, or `db upgrade` not run
# after an upgrade of the code): 42P01 undefined_table, 42703 undefined_column. Nothing was
# decided; it is answered 503 until an operator migrates, and /readyz says so. (SQLite's
# "no such table" / "no such column" are OperationalError, covered above.)
_UNAVAILABLE_SQLSTATES = ("42P01", "42703")
# asyncpg's own words when a connection died under an operation (no SQLSTATE of its own).
_UNAVAILABLE_MESSAGES = ("connection was closed", "cannot switch to state", "connection is closed")


def is_database_unavailable(error: DBAPIError) -> bool:
    """Whether a database error is the database being away or not migrated (retryable once an
    operator acts), not a bad statement."""
    if isinstance(error, OperationalError | InterfaceError) or error.connection_invalidated:
        return True
    original = error.orig
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if isinstance(sqlstate, str) and (
        sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES or sqlstate in _UNAVAILABLE_SQLSTATES
    ):
        return True
    text = str(original).lower()
    return any(marker in text for marker in _UNAVAILABLE_MESSAGES)

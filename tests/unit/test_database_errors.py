"""Which database errors mean "the database is away or not migrated" (503), and which are bugs."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

from agentkeys.db.outages import is_database_unavailable


class DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"driver error {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    "sqlstate",
    [
        "42P01",  # undefined_table: never migrated
        "42703",  # undefined_column: migrations behind the code
        "3D000",  # invalid_catalog_name: the database does not exist
        "08006",  # connection_failure
        "08001",  # could not connect
        "57P01",  # admin_shutdown
        "57P03",  # cannot_connect_now (starting up)
        "28P01",  # invalid_password
        "28000",  # invalid_authorization_specification
    ],
)
def test_missing_or_unreachable_databases_are_unavailable(sqlstate: str) -> None:
    error = ProgrammingError("SELECT 1", {}, DriverError(sqlstate))

    assert is_database_unavailable(error)


@pytest.mark.parametrize(
    ("error_type", "sqlstate"),
    [
        (IntegrityError, "23505"),  # unique_violation
        (DBAPIError, "22P02"),  # invalid_text_representation
        (ProgrammingError, "42601"),  # syntax_error: a bug, not an outage
        (ProgrammingError, "42883"),  # undefined_function
        (DBAPIError, "40P01"),  # deadlock_detected
    ],
)
def test_statement_errors_are_bugs(error_type: type[DBAPIError], sqlstate: str) -> None:
    error = error_type("SELECT 1", {}, DriverError(sqlstate))

    assert not is_database_unavailable(error)


@pytest.mark.parametrize(
    "message",
    ["no such table: credentials", "table credentials has no column named user_email_key"],
)
def test_sqlite_schema_errors_are_unavailable(message: str) -> None:
    # SQLite reports a schema that is missing or behind as OperationalError.
    error = OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))

    assert is_database_unavailable(error)

"""Run the Alembic migrations shipped inside the package (no alembic.ini needed), read where a
database's schema stands, and say in one line why a database cannot be used."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from agentkeys.db.engine import create_engine

MIGRATIONS = Path(__file__).with_name("migrations")
UPGRADE_COMMAND = "agentkeys db upgrade"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser treats % as interpolation; URLs may contain it (escaped passwords).
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database to ``revision``. Synchronous: call it outside an event loop."""
    command.upgrade(alembic_config(database_url), revision)


def head_revisions() -> frozenset[str]:
    return frozenset(_scripts().get_heads())


@dataclass(frozen=True)
class SchemaState:
    current: frozenset[str]
    head: frozenset[str]

    @property
    def at_head(self) -> bool:
        return self.current == self.head

    def problem(self) -> str | None:
        """``None`` at head; otherwise one sentence naming the state and the fix."""
        if self.at_head:
            return None
        if not self.current:
            return f"the database schema was never created; run `{UPGRADE_COMMAND}`"
        known = {script.revision for script in _scripts().walk_revisions()}
        current = ", ".join(sorted(self.current))
        head = ", ".join(sorted(self.head))
        if not self.current <= known:
            return (
                f"the database schema is at revision {current}, unknown to this version "
                f"(which expects {head}); run the agentkeys version that migrated it"
            )
        return (
            f"the database schema is at revision {current}, behind {head}; run `{UPGRADE_COMMAND}`"
        )


@functools.cache
def unknown_revision(revision: str) -> str | None:
    """Why ``revision`` names no migration of this version (one line), or ``None`` if it does.

    Checked before any database is opened: an unknown revision is the command's mistake, not
    the database's, and must not leave a new SQLite file behind.
    """
    scripts = _scripts()
    try:
        found = scripts.get_revisions(revision)
    except Exception:
        found = ()
    if found:
        return None
    known = [script.revision for script in scripts.walk_revisions()][::-1]
    return (
        f"unknown revision {revision[:80]!r}; this version knows head, base and {', '.join(known)}"
    )


def is_in_memory_sqlite(database_url: str) -> bool:
    """``sqlite://``, ``sqlite:///:memory:`` or a ``mode=memory`` URI: a database that lives only
    as long as one connection of one process."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return False
    database = url.database or ""
    return (
        database in {"", ":memory:"}
        or "mode=memory" in database
        or (url.query.get("mode") == "memory")
    )


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(""))


def _current_revisions(connection: Connection) -> frozenset[str]:
    return frozenset(MigrationContext.configure(connection).get_current_heads())


async def schema_state(connection: AsyncConnection) -> SchemaState:
    """Where the schema behind ``connection`` stands against the migrations shipped."""
    current = await connection.run_sync(_current_revisions)
    return SchemaState(current=current, head=head_revisions())


def check_schema(database_url: str) -> SchemaState:
    """Connect once and read the schema's revision. Synchronous: call it outside an event loop.

    Raises ``DatabaseUnusable`` (one line: what is wrong and what to do) when the database
    cannot be reached at all.
    """

    async def read() -> SchemaState:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                return await schema_state(connection)
        finally:
            await engine.dispose()

    ensure_sqlite_opens(database_url)
    try:
        return asyncio.run(read())
    except Exception as error:
        raise DatabaseUnusable(describe_failure(database_url, error)) from error


class DatabaseUnusable(Exception):
    """The database cannot be used; the message is one line naming it and the fix."""


def ensure_sqlite_opens(database_url: str) -> None:
    """Open a SQLite file with the standard library first (creating it if missing): a file that
    cannot be opened or is not a database is reported in one line. (Through aiosqlite, a failed
    open leaves a worker thread that reports on an event loop already closed.)"""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    try:
        with contextlib.closing(sqlite3.connect(url.database)) as connection:
            connection.execute("PRAGMA schema_version")
    except sqlite3.Error as error:
        raise DatabaseUnusable(describe_failure(database_url, error)) from error


# PostgreSQL SQLSTATEs worth their own sentence when connecting.
_INVALID_CATALOG = "3D000"
_AUTHORIZATION_CLASS = "28"


def describe_failure(database_url: str, error: BaseException) -> str:
    """One line for an error met while connecting to or migrating ``database_url``.

    Never quotes the password: the URL is rendered without it.
    """
    url = make_url(database_url)
    shown = url.render_as_string(hide_password=True)
    original: BaseException = error
    if isinstance(error, DBAPIError) and error.orig is not None:
        original = error.orig
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate == _INVALID_CATALOG:
        return (
            f"database {url.database!r} does not exist on {url.host or 'localhost'}:"
            f"{url.port or 5432}; create it (e.g. `createdb {url.database}`), then run "
            f"`{UPGRADE_COMMAND}`"
        )
    if isinstance(sqlstate, str) and sqlstate.startswith(_AUTHORIZATION_CLASS):
        return f"the database refused the connection to {shown}: {_first_line(original)}"
    if isinstance(original, OSError):
        return f"cannot connect to the database at {shown}: {_first_line(original)}"
    if url.get_backend_name() == "sqlite":
        return f"cannot open the SQLite database {url.database!r}: {_first_line(original)}"
    return f"cannot use the database at {shown}: {type(original).__name__}: {_first_line(original)}"


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__

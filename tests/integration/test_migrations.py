"""The schema comes from the migrations, and the migrations agree with the models."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from agentkeys.db import migrate
from agentkeys.db.models import metadata
from tests.conftest import sqlite_url


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


class TestMigrations:
    def test_models_and_migrations_agree(self, migrated_template: Path) -> None:
        engine = create_engine(f"sqlite:///{migrated_template}")
        try:
            with engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                differences = compare_metadata(context, metadata)
        finally:
            engine.dispose()

        assert differences == []

    def test_downgrade_to_base_and_upgrade_again(self, tmp_path: Path) -> None:
        path = tmp_path / "roundtrip.db"
        migrate.upgrade(sqlite_url(path))
        assert {"credentials", "credential_requests", "feedback"} <= tables(path)

        migrate.upgrade(sqlite_url(path))  # idempotent at head
        command.downgrade(migrate.alembic_config(sqlite_url(path)), "base")
        assert tables(path) == {"alembic_version"}
        migrate.upgrade(sqlite_url(path))
        assert {"credentials", "credential_requests", "feedback"} <= tables(path)

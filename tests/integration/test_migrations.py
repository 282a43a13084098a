"""The schema comes from the migrations, and the migrations agree with the models."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from agentkeys.db import migrate
from agentkeys.tables import metadata
from tests.support.catalog import E_TOU_C, LEGACY_IDS, UNKNOWN_PLAN
from tests.support.databases import (
    POSTGRES_ADMIN_URL,
    postgres_admin,
    require_reachable,
    sqlite_url,
)

# The migrations run on each backend.
pytestmark = pytest.mark.both_backends


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

    @pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
    def test_rows_from_before_networks_take_their_address_as_network(
        self, tmp_path: Path, backend_name: str
    ) -> None:
        with fresh_database(backend_name, tmp_path) as url:
            migrate.upgrade(url, "0004")
            asyncio.run(run(url, *OLD_ROWS))

            migrate.upgrade(url)
            networks = asyncio.run(
                run(
                    url,
                    "SELECT client_network FROM credential_requests",
                    "SELECT client_network FROM credentials",
                )
            )
            # And back, and up again, with the rows in place.
            command.downgrade(migrate.alembic_config(url), "0004")
            migrate.upgrade(url)

        assert networks == [[("2001:db8::7",)], [("2001:db8::7",)]]

    @pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
    def test_homes_on_a_former_plan_id_take_its_urdb_label_and_back(
        self, tmp_path: Path, backend_name: str
    ) -> None:
        with fresh_database(backend_name, tmp_path) as url:
            # Rows as the homes' first revision stores them (later ones add nullable columns).
            migrate.upgrade(url, "0004")
            homes = [
                *[(f"h{n}", old) for n, old in enumerate(LEGACY_IDS)],
                ("h-current", E_TOU_C),
                ("h-none", None),
                ("h-other", UNKNOWN_PLAN),
            ]
            asyncio.run(run(url, *OLD_ROWS, *(old_home(home_id, plan) for home_id, plan in homes)))
            select = "SELECT id, rate_plan_id FROM homes ORDER BY id"

            migrate.upgrade(url)
            upgraded = plans_of(asyncio.run(run(url, select))[0])
            command.downgrade(migrate.alembic_config(url), "0009")
            downgraded = plans_of(asyncio.run(run(url, select))[0])

        assert upgraded == {
            **{f"h{n}": LEGACY_IDS[old] for n, old in enumerate(LEGACY_IDS)},
            "h-current": E_TOU_C,
            "h-none": None,
            "h-other": UNKNOWN_PLAN,
        }
        # Back to the ids the earlier code knows: a home already on E-TOU-C's label too.
        assert downgraded == {
            **{f"h{n}": old for n, old in enumerate(LEGACY_IDS)},
            "h-current": "8fafe26c6f12cd7da414d3cd",
            "h-none": None,
            "h-other": UNKNOWN_PLAN,
        }


OLD_ROWS = (
    "INSERT INTO credential_requests (id, request_id, created_at, outcome, client_address, "
    "organization_name, organization_key, requested_environment, request, details) VALUES "
    "('r1', 'q1', '2026-11-30 10:00:00+00', 'issued', '2001:db8::7', 'Org', 'org', 'sandbox', "
    "'{}', '{}')",
    "INSERT INTO credentials (id, key_digest, credential_request_id, organization_key, scopes, "
    "environment, created_at, expires_at) VALUES ('c1', 'd1', 'r1', 'org', '[]', 'sandbox', "
    "'2026-11-30 10:00:00+00', '2026-12-01 10:00:00+00')",
)


def plans_of(rows: list[tuple[object, ...]]) -> dict[object, object]:
    return {row[0]: row[1] for row in rows}


def old_home(home_id: str, rate_plan_id: str | None) -> str:
    """A home row as revision 0004 stores it, of credential ``c1`` (``OLD_ROWS``)."""
    plan = "NULL" if rate_plan_id is None else f"'{rate_plan_id}'"
    return (
        "INSERT INTO homes (id, credential_id, created_at, updated_at, name, rate_plan_id, "  # noqa: S608 - the test's own ids
        "carbon_signal_intensity, enabled, energy_market_bidding_enabled) VALUES "
        f"('{home_id}', 'c1', '2026-11-30 10:00:00+00', '2026-11-30 10:00:00+00', 'Home', "
        f"{plan}, 'MEDIUM', TRUE, FALSE)"
    )


async def run(url: str, *statements: str) -> list[list[tuple[object, ...]]]:
    engine = create_async_engine(url)
    results = []
    try:
        async with engine.begin() as connection:
            for statement in statements:
                result = await connection.execute(text(statement))
                results.append([tuple(row) for row in result] if result.returns_rows else [])
    finally:
        await engine.dispose()
    return results


@contextmanager
def fresh_database(backend_name: str, tmp_path: Path) -> Iterator[str]:
    if backend_name == "sqlite":
        yield sqlite_url(tmp_path / "old.db")
        return
    require_reachable("PostgreSQL", POSTGRES_ADMIN_URL)
    name = f"agentkeys_migration_{secrets.token_hex(4)}"
    asyncio.run(postgres_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield str(make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+asyncpg", database=name))
    finally:
        asyncio.run(postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

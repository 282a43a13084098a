"""Migration 0007 on both backends: admin keys' table, and `holder` revocations become `self`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command

from agentkeys.db import migrate
from tests.integration.test_migrations import OLD_ROWS, fresh_database, run

REVOKED_BY_HOLDER = (
    "UPDATE credentials SET revoked_at = '2026-11-30 11:00:00+00', revoked_by = 'holder'"
)


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
def test_holder_revocations_become_self_and_back(tmp_path: Path, backend_name: str) -> None:
    with fresh_database(backend_name, tmp_path) as url:
        migrate.upgrade(url, "0004")
        asyncio.run(run(url, *OLD_ROWS))
        migrate.upgrade(url, "0006")
        asyncio.run(run(url, REVOKED_BY_HOLDER))

        migrate.upgrade(url, "0007")
        upgraded = asyncio.run(
            run(url, "SELECT revoked_by FROM credentials", "SELECT count(*) FROM admin_keys")
        )
        command.downgrade(migrate.alembic_config(url), "0006")
        downgraded = asyncio.run(run(url, "SELECT revoked_by FROM credentials"))
        migrate.upgrade(url, "0007")

    assert upgraded == [[("self",)], [(0,)]]
    assert downgraded == [[("holder",)]]

"""Migration 0006 on both backends: feedback and homes written before it take their
credential's network and their measured size, and the revision goes down and up with rows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command

from agentkeys.db import migrate
from tests.integration.test_migrations import OLD_ROWS, fresh_database, run

ROWS_AT_0005 = (
    OLD_ROWS[0]
    .replace("client_address, ", "client_address, client_network, ")
    .replace("'2001:db8::7', ", "'2001:db8::7', '2001:db8::/64', "),
    "INSERT INTO credentials (id, key_digest, credential_request_id, organization_key, scopes, "
    "environment, created_at, expires_at, client_network) VALUES ('c1', 'd1', 'r1', 'org', "
    "'[]', 'sandbox', '2026-11-30 10:00:00+00', '2026-12-01 10:00:00+00', '2001:db8::/64')",
    "INSERT INTO feedback (id, credential_id, request_id, created_at, feedback_type, name, "
    "message, details) VALUES ('f1', 'c1', 'q2', '2026-11-30 10:00:00+00', 'other', 'Ada', "
    "'héllo', '{\"message\": \"héllo\"}')",
    "INSERT INTO homes (id, credential_id, created_at, updated_at, name, "
    "carbon_signal_intensity, enabled, energy_market_bidding_enabled, city) VALUES ('h1', 'c1', "
    "'2026-11-30 10:00:00+00', '2026-11-30 10:00:00+00', 'Home', 'LOW', true, false, 'Oakland')",
)


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
def test_rows_before_storage_budgets_take_their_credentials_network_and_size(
    tmp_path: Path, backend_name: str
) -> None:
    with fresh_database(backend_name, tmp_path) as url:
        migrate.upgrade(url, "0005")
        asyncio.run(run(url, *ROWS_AT_0005))

        migrate.upgrade(url)
        feedback, homes = asyncio.run(
            run(
                url,
                "SELECT client_network, stored_bytes FROM feedback",
                "SELECT client_network, stored_bytes FROM homes",
            )
        )
        command.downgrade(migrate.alembic_config(url), "0005")
        migrate.upgrade(url)

    # 'Ada' + 'héllo' (6 bytes) + the details' JSON text; 'Home' + 'Oakland'.
    assert feedback[0][0] == "2001:db8::/64"
    assert int(str(feedback[0][1])) >= len("Ada") + len("héllo".encode()) + len(
        '{"message": "héllo"}'
    )
    assert homes[0] == ("2001:db8::/64", len("Home") + len("Oakland"))

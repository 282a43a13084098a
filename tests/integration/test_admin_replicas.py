"""Two real servers on one PostgreSQL + Redis: a bulk revocation through one is refused by the
other at once (the announcement, not the cache bound)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.test_admin_cli import created_key, run
from tests.support.databases import empty_tables
from tests.support.factories import credential_request, key_header
from tests.support.servers import running_server

SELF = "/v1/agent-credentials/self"
# Under the cache bound (1 s): only the announcement can refuse the keys this soon.
REVOCATION_DEADLINE_SECONDS = 0.75


@pytest.mark.postgres
@pytest.mark.redis
def test_a_bulk_revocation_through_one_is_refused_by_the_other_at_once(
    postgres_database: str, redis_url: str, tmp_path: Path
) -> None:
    asyncio.run(empty_tables(postgres_database))
    _, admin_key = created_key(run(postgres_database, "admin", "create-key", "--name", "ops"))
    environment = {"AGENTKEYS_REDIS_URL": redis_url, "AGENTKEYS_KEY_CACHE_SECONDS": "1"}
    with (
        running_server(
            database_url=postgres_database, log_path=tmp_path / "one.log", extra_env=environment
        ) as one,
        running_server(
            database_url=postgres_database, log_path=tmp_path / "two.log", extra_env=environment
        ) as two,
    ):
        agent_keys = []
        for number in range(3):
            body = credential_request(
                organization_name="Acme Power", user_email=f"dev{number}@acme.example"
            )
            issued = httpx.post(f"{one.base_url}/v1/agent-credentials", json=body).json()
            agent_keys.append(issued["credential"])
        other = httpx.post(
            f"{one.base_url}/v1/agent-credentials",
            json=credential_request(organization_name="Other Grid"),
        ).json()["credential"]
        for key in [*agent_keys, other]:
            # Verified, and so cached, on the second server.
            assert httpx.get(f"{two.base_url}{SELF}", headers=key_header(key)).status_code == 200

        answer = httpx.post(
            f"{one.base_url}/v1/admin/credentials/revoke",
            json={"organization": "acme power", "reason": "incident"},
            headers={"Authorization": f"Bearer {admin_key}"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["revoked"] == 3
        started = time.monotonic()
        pending = list(agent_keys)
        while pending:
            pending = [
                key
                for key in pending
                if httpx.get(f"{two.base_url}{SELF}", headers=key_header(key)).status_code != 401
            ]
            assert time.monotonic() - started < REVOCATION_DEADLINE_SECONDS, pending
            time.sleep(0.02)
        refused = httpx.get(f"{two.base_url}{SELF}", headers=key_header(agent_keys[0]))
        assert refused.json()["error_code"] == "AUTH_REVOKED_CREDENTIAL"
        assert httpx.get(f"{two.base_url}{SELF}", headers=key_header(other)).status_code == 200

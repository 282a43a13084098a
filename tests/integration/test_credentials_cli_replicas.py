"""A real server on PostgreSQL + Redis refuses a key at once when `agentkeys credentials revoke`
(another process, database-direct) revokes it: the announcement, not the cache bound."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.app import TEST_SECRET
from tests.support.databases import empty_tables
from tests.support.factories import credential_request, key_header
from tests.support.servers import RunningServer, running_server

SELF = "/v1/agent-credentials/self"
# Under the cache bound (1 s): only the announcement can refuse the keys this soon.
REVOCATION_DEADLINE_SECONDS = 0.75
EXECUTABLE = Path(sys.executable).with_name("agentkeys")


def agentkeys(database_url: str, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "AGENTKEYS_MODE": "production",
        "AGENTKEYS_SECRET": TEST_SECRET,
        "AGENTKEYS_DATABASE_URL": database_url,
        "AGENTKEYS_REDIS_URL": redis_url,
    }
    return subprocess.run(
        [str(EXECUTABLE), *args], env=environment, capture_output=True, text=True, check=False
    )


def issued_key(server: RunningServer, organization: str, email: str) -> tuple[str, str]:
    body = credential_request(organization_name=organization, user_email=email)
    answer = httpx.post(f"{server.base_url}/v1/agent-credentials", json=body).json()
    return answer["credential_id"], answer["credential"]


def assert_refused_at_once(server: RunningServer, keys: list[str]) -> None:
    started = time.monotonic()
    pending = list(keys)
    while pending:
        pending = [
            key
            for key in pending
            if httpx.get(f"{server.base_url}{SELF}", headers=key_header(key)).status_code != 401
        ]
        assert time.monotonic() - started < REVOCATION_DEADLINE_SECONDS, pending
        time.sleep(0.02)
    refused = httpx.get(f"{server.base_url}{SELF}", headers=key_header(keys[0]))
    assert refused.json()["error_code"] == "AUTH_REVOKED_CREDENTIAL"


@pytest.mark.postgres
@pytest.mark.redis
def test_a_command_line_revocation_is_refused_by_a_running_server_at_once(
    postgres_database: str, redis_url: str, tmp_path: Path
) -> None:
    asyncio.run(empty_tables(postgres_database))
    environment = {"AGENTKEYS_REDIS_URL": redis_url, "AGENTKEYS_KEY_CACHE_SECONDS": "1"}
    with running_server(
        database_url=postgres_database, log_path=tmp_path / "server.log", extra_env=environment
    ) as server:
        one_id, one = issued_key(server, "Acme Power", "dev1@acme.example")
        acme = [issued_key(server, "Acme Power", f"dev{n}@acme.example") for n in (2, 3)]
        _, other = issued_key(server, "Other Grid", "dev@other.example")
        for key in [one, *(key for _, key in acme), other]:
            # Verified, and so cached, by the server.
            assert httpx.get(f"{server.base_url}{SELF}", headers=key_header(key)).status_code == 200

        revoked = agentkeys(
            postgres_database, redis_url, "credentials", "revoke", one_id, "--reason", "leaked"
        )
        assert revoked.returncode == 0, revoked.stderr
        assert revoked.stderr == ""
        assert_refused_at_once(server, [one])

        bulk = agentkeys(
            postgres_database,
            redis_url,
            "credentials",
            "revoke",
            "--organization",
            "ACME power",
            "--reason",
            "incident",
            "--yes",
        )
        assert bulk.returncode == 0, bulk.stderr
        assert bulk.stdout == "revoked 2 active credentials of organization 'ACME power'\n"
        assert_refused_at_once(server, [key for _, key in acme])
        assert httpx.get(f"{server.base_url}{SELF}", headers=key_header(other)).status_code == 200

"""`agentkeys admin create-key / list-keys / revoke-key` on both backends: the key shown once and
stored as a digest, clear refusals without a traceback, and revocations announced on Redis."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from agentkeys.cli.main import app as cli
from agentkeys.config import Settings
from agentkeys.credentials import keys
from tests.support.app import TEST_SECRET, AppFactory, client_for
from tests.support.assertions import STACK_TRACE_MARKERS, assert_envelope
from tests.support.databases import DatabaseProbe, sqlite_url

# The CLI works on the database directly: both backends.
pytestmark = pytest.mark.both_backends

LIST = "/v1/admin/credentials"
ADMIN_KEY = re.compile(r"wsk_admin_[0-9A-Za-z]{49}")


def run(database_url: str, *args: str, redis_url: str | None = None) -> Result:
    environment = {
        "AGENTKEYS_MODE": "production",
        "AGENTKEYS_SECRET": TEST_SECRET,
        "AGENTKEYS_DATABASE_URL": database_url,
        "AGENTKEYS_REDIS_URL": redis_url,
    }
    return CliRunner().invoke(cli, list(args), env=environment)


async def run_async(database_url: str, *args: str, redis_url: str | None = None) -> Result:
    # The command runs its own event loop: in a thread of its own, off the test's loop.
    return await asyncio.to_thread(run, database_url, *args, redis_url=redis_url)


def created_key(result: Result) -> tuple[str, str]:
    """(id, key) from create-key's output."""
    assert result.exit_code == 0, result.output
    fields = dict(line.split(":", 1) for line in result.stdout.splitlines())
    return fields["id"].strip(), fields["key"].strip()


def assert_refused(result: Result, *words: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr
    for marker in STACK_TRACE_MARKERS:
        assert marker not in result.output, marker


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class TestCreateKey:
    async def test_the_key_is_shown_once_and_stored_as_a_digest(
        self, settings: Settings, db: DatabaseProbe, client: httpx.AsyncClient
    ) -> None:
        result = await run_async(settings.database_url, "admin", "create-key", "--name", "ops")
        key_id, key = created_key(result)
        assert ADMIN_KEY.fullmatch(key)
        assert keys.ADMIN_KEYS.is_well_formed(key)
        assert key_id.startswith("ws_admin_key_")
        assert "role: admin" in result.stdout
        assert "shown only this once" in result.stderr
        assert not await db.holds(key)
        rows = await db.rows("SELECT name, role, key_digest, revoked_at FROM admin_keys")
        assert rows == [
            {
                "name": "ops",
                "role": "admin",
                "key_digest": keys.digest(key, server_secret=TEST_SECRET.encode()),
                "revoked_at": None,
            }
        ]
        assert (await client.get(LIST, headers=bearer(key))).status_code == 200

        listing = await run_async(settings.database_url, "admin", "list-keys")
        assert key not in listing.output

    async def test_a_viewer_key(self, settings: Settings, client: httpx.AsyncClient) -> None:
        result = await run_async(
            settings.database_url, "admin", "create-key", "--name", "audit", "--role", "viewer"
        )
        _, key = created_key(result)
        assert "role: viewer" in result.stdout
        assert (await client.get(LIST, headers=bearer(key))).status_code == 200
        refused = await client.post(
            f"{LIST}/revoke", json={"organization": "A", "reason": "r"}, headers=bearer(key)
        )
        assert_envelope(refused, status=403, code="FORBIDDEN")

    async def test_a_verify_key_verifies_and_may_not_read(
        self, settings: Settings, client: httpx.AsyncClient
    ) -> None:
        result = await run_async(
            settings.database_url, "admin", "create-key", "--name", "gateway", "--role", "verify"
        )
        _, key = created_key(result)
        assert "role: verify" in result.stdout
        verified = await client.post(
            "/v1/keys/verify", json={"key": "wsk_agent_x"}, headers=bearer(key)
        )
        assert verified.json()["code"] == "NOT_FOUND"
        assert_envelope(await client.get(LIST, headers=bearer(key)), status=403, code="FORBIDDEN")

    def test_a_duplicate_name_is_refused(self, settings: Settings) -> None:
        created_key(run(settings.database_url, "admin", "create-key", "--name", "ops"))
        again = run(
            settings.database_url, "admin", "create-key", "--name", "ops", "--role", "viewer"
        )
        assert_refused(again, "'ops' already exists")

    @pytest.mark.parametrize("name", ["", "two words", "-leading", "n" * 49, "tab\tname"])
    def test_a_bad_name_is_refused(self, settings: Settings, name: str) -> None:
        assert_refused(
            run(settings.database_url, "admin", "create-key", "--name", name), "invalid name"
        )

    def test_a_bad_role_is_refused(self, settings: Settings) -> None:
        result = run(settings.database_url, "admin", "create-key", "--name", "x", "--role", "root")
        assert result.exit_code == 2
        assert "Traceback" not in result.output

    def test_a_database_without_the_schema_is_named(self, tmp_path: Path) -> None:
        empty = sqlite_url(tmp_path / "empty.db")
        result = run(empty, "admin", "create-key", "--name", "ops")
        assert_refused(result, "agentkeys db upgrade")


class TestListKeys:
    def test_an_aligned_table_and_json(self, settings: Settings) -> None:
        ops_id, _ = created_key(run(settings.database_url, "admin", "create-key", "--name", "ops"))
        audit_id, _ = created_key(
            run(
                settings.database_url,
                "admin",
                "create-key",
                "--name",
                "audit.team@example",
                "--role",
                "viewer",
            )
        )
        assert run(settings.database_url, "admin", "revoke-key", audit_id).exit_code == 0

        table = run(settings.database_url, "admin", "list-keys")
        assert table.exit_code == 0, table.output
        lines = [line for line in table.stdout.splitlines() if line.strip()]
        header = next(line for line in lines if "name" in line and "role" in line)
        ops = next(line for line in lines if ops_id in line)
        audit = next(line for line in lines if audit_id in line)
        # Aligned: each column starts at the same place on every line.
        for column, ops_value, audit_value in (
            ("name", "ops", "audit.team@example"),
            ("role", "admin", "viewer"),
            ("status", "active", "revoked"),
        ):
            starts = [
                line.index(f" {value} ") + 1
                for line, value in ((header, column), (ops, ops_value), (audit, audit_value))
            ]
            assert len(set(starts)) == 1, (column, starts)

        listed = json.loads(run(settings.database_url, "admin", "list-keys", "--json").stdout)
        assert [(key["id"], key["name"], key["role"], key["status"]) for key in listed] == [
            (ops_id, "ops", "admin", "active"),
            (audit_id, "audit.team@example", "viewer", "revoked"),
        ]
        assert set(listed[0]) == {"id", "name", "role", "status", "created_at", "revoked_at"}
        assert listed[0]["revoked_at"] is None
        assert listed[1]["revoked_at"] is not None

    def test_no_keys(self, settings: Settings) -> None:
        assert json.loads(run(settings.database_url, "admin", "list-keys", "--json").stdout) == []


class TestRevokeKey:
    async def test_revoked_keys_are_refused_and_revoking_again_says_so(
        self, settings: Settings, make_app: AppFactory
    ) -> None:
        key_id, key = created_key(
            await run_async(settings.database_url, "admin", "create-key", "--name", "ops")
        )
        revoked = await run_async(settings.database_url, "admin", "revoke-key", key_id)
        assert revoked.exit_code == 0, revoked.output
        assert f"revoked admin key {key_id} (ops)" in revoked.stdout
        again = await run_async(settings.database_url, "admin", "revoke-key", key_id)
        assert again.exit_code == 0
        assert "already revoked" in again.stdout
        async with client_for(make_app()) as client:
            answer = await client.get(LIST, headers=bearer(key))
        assert_envelope(answer, status=401, code="AUTH_REVOKED_CREDENTIAL")

    def test_an_unknown_id_is_refused(self, settings: Settings) -> None:
        assert_refused(
            run(settings.database_url, "admin", "revoke-key", "ws_admin_key_nope"),
            "no admin key with id 'ws_admin_key_nope'",
        )

    @pytest.mark.redis
    async def test_the_revocation_is_announced_to_running_servers(
        self, settings: Settings, make_app: AppFactory, redis_url: str
    ) -> None:
        key_id, key = created_key(
            await run_async(settings.database_url, "admin", "create-key", "--name", "ops")
        )
        # The cache bound at its maximum: a prompt refusal comes from the announcement.
        async with client_for(make_app(redis_url=redis_url, key_cache_seconds=1.0)) as client:
            assert (await client.get(LIST, headers=bearer(key))).status_code == 200
            result = await run_async(
                settings.database_url, "admin", "revoke-key", key_id, redis_url=redis_url
            )
            assert result.exit_code == 0, result.output
            assert "warning" not in result.stderr
            started = time.monotonic()
            while (answer := await client.get(LIST, headers=bearer(key))).status_code == 200:
                assert time.monotonic() - started < 0.9, "refused only by the cache bound"
                await asyncio.sleep(0.02)
        assert_envelope(answer, status=401, code="AUTH_REVOKED_CREDENTIAL")

    def test_redis_away_is_a_warning_not_a_failure(self, settings: Settings) -> None:
        key_id, _ = created_key(run(settings.database_url, "admin", "create-key", "--name", "ops"))
        result = run(
            settings.database_url, "admin", "revoke-key", key_id, redis_url="redis://127.0.0.1:1/0"
        )
        assert result.exit_code == 0, result.output
        assert "revoked admin key" in result.stdout
        assert result.stderr.startswith("warning: could not announce")
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr

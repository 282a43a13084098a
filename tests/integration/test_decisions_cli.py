"""`agentkeys decisions list / export` and `agentkeys stats` on both backends: the API's answers
from the database directly, tables for people and JSON for scripts, one-line refusals."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from agentkeys.cli.main import app as cli
from agentkeys.config import Settings
from tests.support.admin import create_admin_key
from tests.support.app import START, TEST_SECRET
from tests.support.assertions import STACK_TRACE_MARKERS
from tests.support.ledger import OUTCOMES, decision_id, seed_decisions

# The CLI works on the database directly: both backends.
pytestmark = pytest.mark.both_backends

ORGANIZATIONS = ("Acme Power", "Other Grid", "Third Co")


def run(database_url: str, *args: str) -> Result:
    environment = {
        "AGENTKEYS_MODE": "production",
        "AGENTKEYS_SECRET": TEST_SECRET,
        "AGENTKEYS_DATABASE_URL": database_url,
    }
    return CliRunner().invoke(cli, list(args), env=environment)


async def run_async(database_url: str, *args: str) -> Result:
    # The command runs its own event loop: in a thread of its own, off the test's loop.
    return await asyncio.to_thread(run, database_url, *args)


def succeeded(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def assert_refused(result: Result, *words: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: "), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    for marker in STACK_TRACE_MARKERS:
        assert marker not in result.output, marker


@pytest.fixture
async def admin(settings: Settings) -> dict[str, str]:
    _, key = await create_admin_key(settings, "ops")
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def twelve(settings: Settings) -> None:
    """Twelve decisions a minute apart, the last a minute before the tests' clock: three of
    each outcome, four of each organization."""
    await seed_decisions(
        settings.database_url,
        12,
        start=START - timedelta(minutes=12),
        step=timedelta(minutes=1),
        organizations=ORGANIZATIONS,
    )


def ids_of(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["credential_request_id"] for entry in entries]


class TestList:
    async def test_json_is_the_apis_entries(
        self,
        settings: Settings,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        twelve: None,
    ) -> None:
        result = succeeded(await run_async(settings.database_url, "decisions", "list", "--json"))
        listed = json.loads(result.stdout)
        page = (await client.get("/v1/admin/decisions", headers=admin)).json()
        assert listed == page["items"]
        assert ids_of(listed) == [decision_id(number) for number in range(11, -1, -1)]

    async def test_filters_and_limit(self, settings: Settings, twelve: None) -> None:
        async def ids(*args: str) -> list[str]:
            result = await run_async(settings.database_url, "decisions", "list", "--json", *args)
            return ids_of(json.loads(succeeded(result).stdout))

        assert await ids("--outcome", "rate_limited") == [decision_id(n) for n in (10, 6, 2)]
        assert await ids("--organization", "OTHER grid") == [decision_id(n) for n in (10, 7, 4, 1)]
        assert await ids("--organization", "Other Grid", "--outcome", "issued") == [decision_id(4)]
        assert await ids("--since", "2026-03-01T11:58:00Z") == [decision_id(n) for n in (11, 10)]
        assert await ids("--until", "2026-03-01T11:50:00Z") == [decision_id(n) for n in (1, 0)]
        assert await ids("--user-email", "Developer+x@Example.com", "--limit", "1") == [
            decision_id(11)
        ]
        assert await ids("--client-address", "203.0.113.8") == []
        limited = await run_async(settings.database_url, "decisions", "list", "--limit", "2")
        assert "showing the newest 2" in succeeded(limited).stderr

    async def test_since_a_time_ago(self, settings: Settings) -> None:
        now = datetime.now(UTC)
        await seed_decisions(
            settings.database_url, 3, start=now - timedelta(hours=3), step=timedelta(hours=1)
        )
        for since, expected in (("90m", 1), ("150m", 2), ("4h", 3), ("1d", 3)):
            result = await run_async(
                settings.database_url, "decisions", "list", "--json", "--since", since
            )
            assert len(json.loads(succeeded(result).stdout)) == expected, since

    async def test_a_table_for_people(self, settings: Settings, twelve: None) -> None:
        result = succeeded(await run_async(settings.database_url, "decisions", "list"))
        lines = result.stdout.splitlines()
        header = next(line for line in lines if "decided_at" in line)
        for column in ("outcome", "organization", "client_address", "credential_id", "said"):
            assert column in header
        rows = [line for line in lines if "2026-03-01T" in line]
        assert len(rows) == 12
        assert "rate_limited" in rows[1]
        assert "retry after 120 s (organization_issued)" in rows[1]
        assert "missing: user_email" in rows[2]
        assert "ws_agent_cred_seed00000008" in rows[3]

    @pytest.mark.parametrize(
        ("args", "words"),
        [
            (("--outcome", "lost"), ("--outcome", "issued, needs_more_info")),
            (("--since", "yesterday"), ("--since", "ISO 8601")),
            (("--until", "1999-01-01T00:00:00Z"), ("--until",)),
            (("--limit", "0"), ("--limit",)),
            (("--limit", "1001"), ("--limit",)),
            (("--organization", "   "), ("--organization",)),
        ],
    )
    def test_bad_options_are_one_line(
        self, settings: Settings, args: tuple[str, ...], words: tuple[str, ...]
    ) -> None:
        assert_refused(run(settings.database_url, "decisions", "list", *args), *words)

    def test_a_database_without_the_schema_is_one_line(self, tmp_path: Any) -> None:
        empty = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        assert_refused(run(empty, "decisions", "list"), "agentkeys db upgrade")


class TestExport:
    async def test_json_lines_are_the_apis_export(
        self,
        settings: Settings,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        twelve: None,
    ) -> None:
        result = succeeded(await run_async(settings.database_url, "decisions", "export"))
        api = await client.get("/v1/admin/decisions/export", headers=admin)
        assert result.stdout == api.text
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert ids_of(lines) == [decision_id(number) for number in range(12)]
        assert "exported 12 decisions" in result.stderr

    async def test_since_until_and_filters(self, settings: Settings, twelve: None) -> None:
        result = await run_async(
            settings.database_url,
            "decisions",
            "export",
            "--since",
            "2026-03-01T11:50:00Z",
            "--until",
            "2026-03-01T11:55:00Z",
        )
        lines = [json.loads(line) for line in succeeded(result).stdout.splitlines()]
        assert ids_of(lines) == [decision_id(number) for number in range(2, 7)]
        issued = await run_async(
            settings.database_url, "decisions", "export", "--outcome", "issued"
        )
        lines = [json.loads(line) for line in succeeded(issued).stdout.splitlines()]
        assert ids_of(lines) == [decision_id(number) for number in (0, 4, 8)]

    def test_bad_options_are_one_line(self, settings: Settings) -> None:
        assert_refused(
            run(settings.database_url, "decisions", "export", "--since", "soon"), "--since"
        )


class TestStats:
    async def test_json_is_the_apis_answer_shape_with_its_counts(self, settings: Settings) -> None:
        now = datetime.now(UTC)
        await seed_decisions(
            settings.database_url,
            12,
            start=now - timedelta(hours=3),
            step=timedelta(minutes=10),
            organizations=ORGANIZATIONS,
        )
        result = succeeded(
            await run_async(settings.database_url, "stats", "--window", "7d", "--json")
        )
        stats = json.loads(result.stdout)
        assert stats["window"] == "7d"
        assert stats["window_seconds"] == 7 * 86400
        assert stats["decisions"] == {
            "total": 12,
            "by_outcome": dict.fromkeys(OUTCOMES, 3),
        }
        assert len(stats["decisions_by_hour"]) == 7 * 24 + 1  # both ends' hours
        assert sum(hour["total"] for hour in stats["decisions_by_hour"]) == 12
        assert stats["credentials"] == {"issued": 3, "active": 3}
        assert [row["decisions"] for row in stats["top_organizations"]] == [4, 4, 4]
        assert stats["revocations"] == {"total": 0, "by_revoked_by": {}}
        narrow = succeeded(
            await run_async(settings.database_url, "stats", "--window", "1h", "--json")
        )
        assert json.loads(narrow.stdout)["decisions"]["total"] < 12

    async def test_tables_for_people(self, settings: Settings) -> None:
        await seed_decisions(
            settings.database_url,
            4,
            start=datetime.now(UTC) - timedelta(minutes=30),
            step=timedelta(minutes=1),
            organizations=ORGANIZATIONS,
        )
        result = succeeded(await run_async(settings.database_url, "stats"))
        for title in (
            "(24h)",
            "decisions",
            "decisions by hour",
            "credentials",
            "top organizations",
            "revocations",
        ):
            assert title in result.stdout
        assert "acme power" in result.stdout

    @pytest.mark.parametrize("window", ["0h", "31d", "5w", "24"])
    def test_a_bad_window_is_one_line(self, settings: Settings, window: str) -> None:
        assert_refused(run(settings.database_url, "stats", "--window", window), "--window", "30d")

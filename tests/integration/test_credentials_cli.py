"""`agentkeys credentials list / show / revoke` on both backends: the admin API's items and
records, aligned tables and JSON, the confirmation of a revocation by organization, clear
refusals, and revocations announced on Redis."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from agentkeys.cli import credentials as credentials_cli
from agentkeys.cli.main import app as cli
from agentkeys.clock import FrozenClock, format_instant
from agentkeys.config import Settings
from tests.integration.test_admin_cli import assert_refused, bearer, run, run_async
from tests.support.admin import create_admin_key
from tests.support.app import TEST_SECRET, AppFactory, client_for
from tests.support.assertions import STACK_TRACE_MARKERS, assert_envelope
from tests.support.databases import DatabaseProbe
from tests.support.factories import issue_credential, key_header

pytestmark = pytest.mark.both_backends

LIST = "/v1/admin/credentials"
SELF = "/v1/agent-credentials/self"


@pytest.fixture(autouse=True)
def same_clock_as_the_app(monkeypatch: pytest.MonkeyPatch, clock: FrozenClock) -> None:
    """The command judges active and expired against the app's frozen clock."""
    monkeypatch.setattr(credentials_cli, "clock", clock)


def answered(database_url: str, *args: str, answer: str) -> Result:
    """The command run with ``answer`` typed at its prompt."""
    environment = {
        "AGENTKEYS_MODE": "production",
        "AGENTKEYS_SECRET": TEST_SECRET,
        "AGENTKEYS_DATABASE_URL": database_url,
        "AGENTKEYS_REDIS_URL": None,
    }
    return CliRunner().invoke(cli, list(args), env=environment, input=answer)


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def issue(
    client: httpx.AsyncClient, clock: FrozenClock, organization: str, number: int, **fields: Any
) -> dict[str, Any]:
    """A credential of ``organization``, a second after the last (newest first is a clear order)."""
    clock.advance(timedelta(seconds=1))
    return await issue_credential(
        client,
        organization_name=organization,
        user_email=f"dev{number}@{organization.split(maxsplit=1)[0].lower()}.example",
        **fields,
    )


async def admin_view(client: httpx.AsyncClient, settings: Settings, path: str) -> Any:
    _, key = await create_admin_key(settings, f"reader{time.monotonic_ns()}")
    answer = await client.get(path, headers=bearer(key))
    assert answer.status_code == 200, answer.text
    return answer.json()


def column_starts(lines: list[str], values: list[str]) -> set[int]:
    return {line.index(f" {value} ") + 1 for line, value in zip(lines, values, strict=True)}


class TestList:
    async def test_the_same_items_as_the_admin_api_as_json_and_an_aligned_table(
        self, settings: Settings, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        first = await issue(client, clock, "Acme Power", 1)
        second = await issue(client, clock, "Other Grid Company", 2)
        await client.post(first["revocation_path"], headers=key_header(first["credential"]))

        listed = as_json(await run_async(settings.database_url, "credentials", "list", "--json"))
        api = await admin_view(client, settings, LIST)
        assert listed == api["items"]
        assert [item["credential_id"] for item in listed] == [
            second["credential_id"],
            first["credential_id"],
        ]
        assert listed[1]["status"] == "revoked"
        assert listed[1]["revoked_by"] == "self"

        table = await run_async(settings.database_url, "credentials", "list")
        assert table.exit_code == 0, table.output
        lines = table.stdout.splitlines()
        header = next(line for line in lines if "credential_id" in line)
        rows = [next(line for line in lines if item["credential_id"] in line) for item in listed]
        for column, key in (
            ("organization_name", "organization_name"),
            ("user_email", "user_email"),
            ("status", "status"),
            ("created_at", "created_at"),
        ):
            values = [column] + [str(item[key]) for item in listed]
            assert len(column_starts([header, *rows], values)) == 1, column
        assert "Other Grid Company" in rows[0]
        assert "revoked" in rows[1]
        for item in listed:
            assert item["credential_id"] in table.stdout
        assert first["credential"] not in table.stdout + json.dumps(listed)

    async def test_organization_status_and_limit(
        self, settings: Settings, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        short = await issue(client, clock, "Acme Power", 1, requested_ttl_seconds=60)
        revoked = await issue(client, clock, "Acme Power", 2)
        await client.post(revoked["revocation_path"], headers=key_header(revoked["credential"]))
        active = [await issue(client, clock, "Acme Power", number) for number in (3, 4)]
        other = await issue(client, clock, "Other Grid", 5)
        clock.advance(timedelta(minutes=2))

        async def ids(*args: str) -> list[str]:
            listed = await run_async(settings.database_url, "credentials", "list", "--json", *args)
            return [item["credential_id"] for item in as_json(listed)]

        # The quota identity: case and spacing do not matter.
        acme = await ids("--organization", "  ACME   power ")
        assert acme == [
            active[1]["credential_id"],
            active[0]["credential_id"],
            revoked["credential_id"],
            short["credential_id"],
        ]
        assert await ids("--status", "expired") == [short["credential_id"]]
        assert await ids("--status", "revoked") == [revoked["credential_id"]]
        assert await ids("--status", "active", "--organization", "Other Grid") == [
            other["credential_id"]
        ]
        assert await ids("--status", "active") == [
            other["credential_id"],
            active[1]["credential_id"],
            active[0]["credential_id"],
        ]
        limited = await run_async(
            settings.database_url, "credentials", "list", "--json", "--limit", "2"
        )
        assert [item["credential_id"] for item in as_json(limited)] == [
            other["credential_id"],
            active[1]["credential_id"],
        ]
        assert "more match" in limited.stderr
        every = await run_async(settings.database_url, "credentials", "list")
        assert "more match" not in every.stderr

    async def test_more_than_a_page_of_the_admin_api(
        self,
        settings: Settings,
        client: httpx.AsyncClient,
        monkeypatch: pytest.MonkeyPatch,
        clock: FrozenClock,
    ) -> None:
        monkeypatch.setattr(credentials_cli, "PAGE", 2)
        issued = [await issue(client, clock, "Acme Power", number) for number in range(5)]
        newest_first = [item["credential_id"] for item in reversed(issued)]
        every = as_json(await run_async(settings.database_url, "credentials", "list", "--json"))
        assert [item["credential_id"] for item in every] == newest_first
        three = await run_async(
            settings.database_url, "credentials", "list", "--json", "--limit", "3"
        )
        assert [item["credential_id"] for item in as_json(three)] == newest_first[:3]

    def test_no_credentials(self, settings: Settings) -> None:
        assert as_json(run(settings.database_url, "credentials", "list", "--json")) == []
        table = run(settings.database_url, "credentials", "list")
        assert table.exit_code == 0
        assert "no credentials match" in table.stderr

    @pytest.mark.parametrize(
        "args",
        [
            ("--status", "dead"),
            ("--limit", "0"),
            ("--limit", "10001"),
            ("--organization", "   "),
            ("--organization", "x" * 256),
        ],
    )
    def test_bad_options_are_refused(self, settings: Settings, args: tuple[str, ...]) -> None:
        result = run(settings.database_url, "credentials", "list", *args)
        assert result.exit_code == 2, result.output
        for marker in STACK_TRACE_MARKERS:
            assert marker not in result.output


class TestShow:
    async def test_the_item_and_its_decision_as_the_admin_api_shows_them(
        self, settings: Settings, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        issued = await issue(client, clock, "Acme Power", 1)
        shown = as_json(
            await run_async(
                settings.database_url, "credentials", "show", issued["credential_id"], "--json"
            )
        )
        assert shown == await admin_view(client, settings, f"{LIST}/{issued['credential_id']}")
        assert shown["decision"]["credential_request_id"] == issued["credential_request_id"]

        table = await run_async(
            settings.database_url, "credentials", "show", issued["credential_id"]
        )
        assert table.exit_code == 0, table.output
        lines = table.stdout.splitlines()
        for field, value in (
            ("credential_id", issued["credential_id"]),
            ("organization_name", "Acme Power"),
            ("status", "active"),
            ("decision.outcome", "issued"),
            ("decision.credential_request_id", issued["credential_request_id"]),
        ):
            assert any(
                [part.strip() for part in line.split(None, 1)] == [field, value] for line in lines
            ), (field, table.stdout)
        assert issued["credential"] not in table.stdout

    def test_an_unknown_id_is_one_line(self, settings: Settings) -> None:
        assert_refused(
            run(settings.database_url, "credentials", "show", "ws_agent_cred_nope"),
            "ws_agent_cred_nope",
        )


class TestRevokeOne:
    async def test_recorded_as_admin_cli_and_refused_then_again_says_so(
        self, settings: Settings, make_app: AppFactory, db: DatabaseProbe, clock: FrozenClock
    ) -> None:
        async with client_for(make_app(key_cache_seconds=0)) as client:
            issued = await issue(client, clock, "Acme Power", 1)
            other = await issue(client, clock, "Acme Power", 2)
            result = await run_async(
                settings.database_url,
                "credentials",
                "revoke",
                issued["credential_id"],
                "--reason",
                "leaked in a log",
            )
            assert result.exit_code == 0, result.output
            assert result.stdout == f"revoked credential {issued['credential_id']} (Acme Power)\n"
            refused = await client.get(SELF, headers=key_header(issued["credential"]))
            assert_envelope(refused, status=401, code="AUTH_REVOKED_CREDENTIAL")
            assert (
                await client.get(SELF, headers=key_header(other["credential"]))
            ).status_code == 200
        (row,) = await db.rows(
            "SELECT revoked_by, revocation_reason, revoked_at FROM credentials WHERE id = :id",
            id=issued["credential_id"],
        )
        assert (row["revoked_by"], row["revocation_reason"]) == ("admin:cli", "leaked in a log")

        clock.advance(timedelta(minutes=5))
        again = await run_async(
            settings.database_url, "credentials", "revoke", issued["credential_id"], "--reason", "x"
        )
        assert again.exit_code == 0, again.output
        shown = await run_async(
            settings.database_url, "credentials", "show", issued["credential_id"], "--json"
        )
        revoked_at = as_json(shown)["revoked_at"]
        assert revoked_at == format_instant(clock.now() - timedelta(minutes=5))
        assert f"was already revoked at {revoked_at} by admin:cli" in again.stdout
        (kept,) = await db.rows(
            "SELECT revoked_by, revocation_reason, revoked_at FROM credentials WHERE id = :id",
            id=issued["credential_id"],
        )
        assert kept == row

    async def test_a_credential_its_holder_revoked_says_by_self(
        self, settings: Settings, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        issued = await issue(client, clock, "Acme Power", 1)
        await client.post(issued["revocation_path"], headers=key_header(issued["credential"]))
        result = await run_async(
            settings.database_url, "credentials", "revoke", issued["credential_id"], "--reason", "x"
        )
        assert result.exit_code == 0
        assert "already revoked" in result.stdout
        assert "by self" in result.stdout

    async def test_json(
        self, settings: Settings, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        issued = await issue(client, clock, "Acme Power", 1)
        args = ("credentials", "revoke", issued["credential_id"], "--reason", "incident", "--json")
        first = as_json(await run_async(settings.database_url, *args))
        assert first["revoked_now"] is True
        assert first["credential"]["status"] == "revoked"
        assert first["credential"]["revoked_by"] == "admin:cli"
        assert first["credential"]["revocation_reason"] == "incident"
        assert first["credential"] == (await admin_view(client, settings, LIST))["items"][0]
        second = as_json(await run_async(settings.database_url, *args))
        assert second == {**first, "revoked_now": False}

    def test_an_unknown_id_is_one_line_and_exit_1(self, settings: Settings) -> None:
        assert_refused(
            run(
                settings.database_url,
                "credentials",
                "revoke",
                "ws_agent_cred_nope",
                "--reason",
                "x",
            ),
            "ws_agent_cred_nope",
        )

    @pytest.mark.parametrize(
        "args",
        [
            ("--reason", "x"),
            ("ws_agent_cred_x", "--organization", "Acme", "--reason", "x"),
            ("ws_agent_cred_x",),
            ("ws_agent_cred_x", "--reason", "   "),
            ("ws_agent_cred_x", "--reason", "r" * 256),
            ("--organization", "Acme", "--reason", ""),
        ],
    )
    async def test_exactly_one_target_and_a_reason(
        self,
        settings: Settings,
        client: httpx.AsyncClient,
        db: DatabaseProbe,
        args: tuple[str, ...],
        clock: FrozenClock,
    ) -> None:
        await issue(client, clock, "Acme", 1)
        result = await run_async(settings.database_url, "credentials", "revoke", *args)
        assert result.exit_code == 2, result.output
        assert not await db.rows("SELECT id FROM credentials WHERE revoked_at IS NOT NULL")
        for marker in STACK_TRACE_MARKERS:
            assert marker not in result.output


class TestRevokeOrganization:
    async def test_no_revokes_nothing_and_yes_revokes_them(
        self, settings: Settings, client: httpx.AsyncClient, db: DatabaseProbe, clock: FrozenClock
    ) -> None:
        acme = [await issue(client, clock, "Acme Power", number) for number in range(3)]
        await client.post(acme[0]["revocation_path"], headers=key_header(acme[0]["credential"]))
        other = await issue(client, clock, "Other Grid", 9)
        args = ("credentials", "revoke", "--organization", "acme power", "--reason", "incident")

        declined = await asyncio.to_thread(answered, settings.database_url, *args, answer="n\n")
        assert declined.exit_code == 1, declined.output
        assert "Revoke 2 active credentials of organization 'acme power'?" in declined.stderr
        assert "nothing revoked" in declined.stderr
        assert await db.rows("SELECT id FROM credentials WHERE revoked_by = 'admin:cli'") == []

        accepted = await asyncio.to_thread(answered, settings.database_url, *args, answer="y\n")
        assert accepted.exit_code == 0, accepted.output
        assert "Revoke 2 active credentials" in accepted.stderr
        assert accepted.stdout == "revoked 2 active credentials of organization 'acme power'\n"
        rows = await db.rows("SELECT id, revoked_by, revocation_reason FROM credentials")
        revoked_by = {row["id"]: (row["revoked_by"], row["revocation_reason"]) for row in rows}
        assert revoked_by == {
            acme[0]["credential_id"]: ("self", None),
            acme[1]["credential_id"]: ("admin:cli", "incident"),
            acme[2]["credential_id"]: ("admin:cli", "incident"),
            other["credential_id"]: (None, None),
        }

        nothing = await run_async(settings.database_url, *args)
        assert nothing.exit_code == 0, nothing.output
        assert "no active credentials of organization 'acme power'" in nothing.stdout

    async def test_no_answer_revokes_nothing(
        self, settings: Settings, client: httpx.AsyncClient, db: DatabaseProbe, clock: FrozenClock
    ) -> None:
        await issue(client, clock, "Acme Power", 1)
        args = ("credentials", "revoke", "--organization", "Acme Power", "--reason", "incident")
        result = await asyncio.to_thread(answered, settings.database_url, *args, answer="")
        assert result.exit_code == 1
        assert "nothing revoked" in result.stderr
        for marker in STACK_TRACE_MARKERS:
            assert marker not in result.output
        assert not await db.rows("SELECT id FROM credentials WHERE revoked_at IS NOT NULL")

    async def test_yes_skips_the_question_and_json_lists_them(
        self, settings: Settings, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        acme = [await issue(client, clock, "Acme Power", number) for number in range(2)]
        result = await run_async(
            settings.database_url,
            "credentials",
            "revoke",
            "--organization",
            "Acme Power",
            "--reason",
            "incident",
            "--yes",
            "--json",
        )
        assert as_json(result) == {
            "revoked": 2,
            "credential_ids": [item["credential_id"] for item in acme],
        }
        assert "Revoke" not in result.stderr
        statuses = as_json(
            await run_async(
                settings.database_url, "credentials", "list", "--json", "--status", "revoked"
            )
        )
        assert {item["revoked_by"] for item in statuses} == {"admin:cli"}


@pytest.mark.redis
class TestAnnouncedOnRedis:
    @pytest.mark.parametrize("target", ["id", "organization"])
    async def test_a_running_server_refuses_the_key_at_once(
        self,
        settings: Settings,
        make_app: AppFactory,
        redis_url: str,
        target: str,
        clock: FrozenClock,
    ) -> None:
        # The cache bound at its maximum: a prompt refusal comes from the announcement.
        async with client_for(make_app(redis_url=redis_url, key_cache_seconds=1.0)) as client:
            issued = await issue(client, clock, "Acme Power", 1)
            headers = key_header(issued["credential"])
            assert (await client.get(SELF, headers=headers)).status_code == 200
            chosen = (
                (issued["credential_id"],)
                if target == "id"
                else ("--organization", "Acme Power", "--yes")
            )
            result = await run_async(
                settings.database_url,
                "credentials",
                "revoke",
                *chosen,
                "--reason",
                "incident",
                redis_url=redis_url,
            )
            assert result.exit_code == 0, result.output
            assert "warning" not in result.stderr
            started = time.monotonic()
            while (answer := await client.get(SELF, headers=headers)).status_code == 200:
                assert time.monotonic() - started < 0.9, "refused only by the cache bound"
                await asyncio.sleep(0.02)
        assert_envelope(answer, status=401, code="AUTH_REVOKED_CREDENTIAL")

    async def test_redis_away_is_a_warning_not_a_failure(
        self, settings: Settings, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        issued = await issue(client, clock, "Acme Power", 1)
        result = await run_async(
            settings.database_url,
            "credentials",
            "revoke",
            issued["credential_id"],
            "--reason",
            "x",
            redis_url="redis://127.0.0.1:1/0",
        )
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("revoked credential")
        assert result.stderr.startswith("warning: could not announce")


async def test_an_admin_key_may_not_take_the_command_lines_name(settings: Settings) -> None:
    result = await run_async(settings.database_url, "admin", "create-key", "--name", "cli")
    assert_refused(result, "reserved", "admin:cli")

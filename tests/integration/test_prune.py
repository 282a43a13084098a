"""`agentkeys db prune` on both backends: old decisions and long-dead credentials removed with
their homes and feedback, batch by batch; a decision whose credential is kept stays; --dry-run
counts the same and changes nothing; the retention from the policy file or --older-than."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from agentkeys.cli import retention as retention_cli
from agentkeys.cli.main import app as cli
from agentkeys.clock import FrozenClock, format_instant, to_millisecond
from agentkeys.config import Settings
from agentkeys.db.engine import create_engine, create_session_factory
from agentkeys.retention.service import RetentionService
from tests.support.app import TEST_SECRET
from tests.support.assertions import STACK_TRACE_MARKERS
from tests.support.databases import DatabaseProbe
from tests.support.factories import create_home, issue_credential, key_header, request_credential
from tests.support.policies import EXECUTABLE

pytestmark = pytest.mark.both_backends

TABLES = ("credential_requests", "credentials", "homes", "feedback", "idempotency_keys")
FEEDBACK = {"name": "Avery Developer", "message": "The sandbox was easy to try."}


@pytest.fixture(autouse=True)
def same_clock_as_the_app(monkeypatch: pytest.MonkeyPatch, clock: FrozenClock) -> None:
    """ "Older than" is measured back from the app's frozen clock."""
    monkeypatch.setattr(retention_cli, "clock", clock)


def prune(database_url: str, *args: str, policy: Path | None = None) -> Result:
    environment = {
        "AGENTKEYS_MODE": "production",
        "AGENTKEYS_SECRET": TEST_SECRET,
        "AGENTKEYS_DATABASE_URL": database_url,
        "AGENTKEYS_POLICY": str(policy) if policy is not None else None,
    }
    return CliRunner().invoke(cli, ["db", "prune", *args], env=environment)


async def prune_async(database_url: str, *args: str, policy: Path | None = None) -> Result:
    # The command runs its own event loop: in a thread of its own, off the test's loop.
    return await asyncio.to_thread(prune, database_url, *args, policy=policy)


def report(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def ids(db: DatabaseProbe) -> dict[str, set[str]]:
    found = {}
    for table in TABLES:
        rows = await db.rows(f"SELECT id FROM {table}")  # noqa: S608 - a fixed table name
        found[table] = {row["id"] for row in rows}
    return found


class Ledger:
    """Credentials and decisions made through HTTP at chosen instants of the frozen clock."""

    def __init__(self, client: httpx.AsyncClient, clock: FrozenClock) -> None:
        self.client = client
        self.clock = clock
        self.made = 0

    async def credential(self, *, ttl_seconds: int = 86400, **fields: Any) -> dict[str, Any]:
        self.made += 1
        return await issue_credential(
            self.client,
            organization_name=f"Organization {self.made}",
            user_email=f"dev{self.made}@example.com",
            requested_ttl_seconds=ttl_seconds,
            requested_scopes=["homes", "feedback:write"],
            **fields,
        )

    async def revoke(self, issued: dict[str, Any]) -> None:
        answer = await self.client.post(
            issued["revocation_path"], headers=key_header(issued["credential"])
        )
        assert answer.status_code == 200, answer.text

    async def unissued_decision(self) -> str:
        answer = await request_credential(self.client, user_email=None)
        body = answer.json()
        assert body["outcome"] == "needs_more_info", body
        return str(body["credential_request_id"])

    async def home_and_feedback(self, issued: dict[str, Any]) -> tuple[str, str]:
        headers = key_header(issued["credential"])
        home = await create_home(self.client, headers)
        answer = await self.client.post("/v1/feedback", json=FEEDBACK, headers=headers)
        assert answer.status_code in (200, 201), answer.text
        return str(home["id"]), str(answer.json()["feedback_id"])


class TestPrune:
    async def test_dry_run_counts_what_a_prune_then_removes_and_nothing_else(
        self, settings: Settings, client: httpx.AsyncClient, clock: FrozenClock, db: DatabaseProbe
    ) -> None:
        ledger = Ledger(client, clock)
        # Day 0: a credential still active on day 3 (7-day TTL), one expired within the hour
        # (with a home and a feedback), one revoked; a decision that issued nothing.
        active = await ledger.credential(ttl_seconds=7 * 86400)
        expired = await ledger.credential(ttl_seconds=3600)
        home, feedback = await ledger.home_and_feedback(expired)
        revoked = await ledger.credential()
        await ledger.revoke(revoked)
        unissued = await ledger.unissued_decision()
        # Day 2: a credential revoked then (one day before the cutoff's boundary), a decision.
        clock.advance(timedelta(days=2))
        recent = await ledger.credential()
        await ledger.revoke(recent)
        recent_decision = await ledger.unissued_decision()
        clock.advance(timedelta(days=1))
        before = await ids(db)

        planned = report(
            await prune_async(settings.database_url, "--older-than", "2d", "--dry-run", "--json")
        )
        expected = {
            "credential_requests": 3,
            "credentials": 2,
            "homes": 1,
            "feedback": 1,
            "idempotency_keys": 0,
        }
        assert planned == {
            "older_than": "2d",
            "cutoff": format_instant(clock.now() - timedelta(days=2)),
            "dry_run": True,
            "would_remove": expected,
        }
        assert await ids(db) == before

        pruned = report(await prune_async(settings.database_url, "--older-than", "2d", "--json"))
        assert pruned["removed"] == expected
        assert pruned["dry_run"] is False
        after = await ids(db)
        assert after["credentials"] == {active["credential_id"], recent["credential_id"]}
        # The active credential's decision is older than the cutoff, and kept with it.
        assert after["credential_requests"] == {
            active["credential_request_id"],
            recent["credential_request_id"],
            recent_decision,
        }
        assert {home, feedback} & (after["homes"] | after["feedback"]) == set()
        removed = {table: before[table] - after[table] for table in TABLES}
        assert removed == {
            "credential_requests": {
                expired["credential_request_id"],
                revoked["credential_request_id"],
                unissued,
            },
            "credentials": {expired["credential_id"], revoked["credential_id"]},
            "homes": {home},
            "feedback": {feedback},
            "idempotency_keys": set(),
        }

        again = report(await prune_async(settings.database_url, "--older-than", "2d", "--json"))
        assert again["removed"] == dict.fromkeys(TABLES, 0)

    async def test_human_output_names_each_table(
        self, settings: Settings, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        ledger = Ledger(client, clock)
        await ledger.unissued_decision()
        await ledger.credential(ttl_seconds=3600)
        clock.advance(timedelta(days=100))

        dry = await prune_async(settings.database_url, "--dry-run")
        assert dry.exit_code == 0, dry.output
        assert dry.stdout.startswith("dry run: decisions and dead credentials older than 90d")
        assert "would remove" in dry.stdout
        assert "nothing was changed (--dry-run)" in dry.stdout

        done = await prune_async(settings.database_url)
        assert done.exit_code == 0, done.output
        lines = done.stdout.splitlines()
        assert lines[0] == (
            "decisions and dead credentials older than 90d (before "
            f"{format_instant(clock.now() - timedelta(days=90))})"
        )
        counts = {
            line.split()[0]: line.split()[1]
            for line in lines[1:]
            if line.split() and line.split()[0] in TABLES
        }
        assert counts == {
            "credential_requests": "2",
            "credentials": "1",
            "homes": "0",
            "feedback": "0",
            "idempotency_keys": "0",
        }
        assert "removed" in done.stdout
        assert "nothing was changed" not in done.stdout

    @pytest.mark.parametrize("batch_size", ["1", "2", "1000"])
    async def test_more_rows_than_one_batch(
        self,
        settings: Settings,
        client: httpx.AsyncClient,
        clock: FrozenClock,
        db: DatabaseProbe,
        batch_size: str,
    ) -> None:
        ledger = Ledger(client, clock)
        dead = [await ledger.credential(ttl_seconds=3600) for _ in range(5)]
        for issued in dead[:2]:
            await ledger.home_and_feedback(issued)
        for _ in range(3):
            await ledger.unissued_decision()
        clock.advance(timedelta(days=91))
        kept = [await ledger.credential() for _ in range(2)]
        kept_decision = await ledger.unissued_decision()

        pruned = report(
            await prune_async(settings.database_url, "--batch-size", batch_size, "--json")
        )
        assert pruned["removed"] == {
            "credential_requests": 8,
            "credentials": 5,
            "homes": 2,
            "feedback": 2,
            "idempotency_keys": 0,
        }
        after = await ids(db)
        assert after["credentials"] == {issued["credential_id"] for issued in kept}
        assert after["credential_requests"] == {
            *(issued["credential_request_id"] for issued in kept),
            kept_decision,
        }
        assert after["homes"] == after["feedback"] == set()

    async def test_a_batch_reaches_no_further_than_its_size(
        self, settings: Settings, client: httpx.AsyncClient, clock: FrozenClock, db: DatabaseProbe
    ) -> None:
        ledger = Ledger(client, clock)
        for _ in range(5):
            await ledger.credential(ttl_seconds=3600)
        clock.advance(timedelta(days=91))
        cutoff = to_millisecond(clock.now() - timedelta(days=90))
        engine = create_engine(settings.database_url)
        try:
            async with create_session_factory(engine)() as session:
                service = RetentionService(session)
                first = await service.prune_credentials(cutoff, after=None, size=2)
                await session.commit()
                assert first.pruned.credentials == 2
                assert first.pruned.credential_requests == 2
                assert not first.done
                assert len((await ids(db))["credentials"]) == 3
                second = await service.prune_credentials(cutoff, after=first.next_after, size=2)
                await session.commit()
                assert second.pruned.credentials == 2
                assert second.next_after is not None
                assert first.next_after is not None
                assert second.next_after > first.next_after
        finally:
            await engine.dispose()
        assert len((await ids(db))["credentials"]) == 1

    async def test_the_policy_files_retention_is_the_default(
        self, settings: Settings, client: httpx.AsyncClient, clock: FrozenClock, tmp_path: Path
    ) -> None:
        ledger = Ledger(client, clock)
        await ledger.unissued_decision()
        clock.advance(timedelta(days=3))
        policy = policy_with_retention(tmp_path, '"2w"')
        planned = report(
            await prune_async(settings.database_url, "--dry-run", "--json", policy=policy)
        )
        assert planned["older_than"] == "2w"
        assert planned["would_remove"]["credential_requests"] == 0
        policy = policy_with_retention(tmp_path, '"48h"')
        planned = report(
            await prune_async(settings.database_url, "--dry-run", "--json", policy=policy)
        )
        assert planned["older_than"] == "2d"
        assert planned["cutoff"] == format_instant(clock.now() - timedelta(days=2))
        assert planned["would_remove"]["credential_requests"] == 1
        # --older-than wins over the policy.
        planned = report(
            await prune_async(
                settings.database_url, "--dry-run", "--json", "--older-than", "4d", policy=policy
            )
        )
        assert planned["would_remove"]["credential_requests"] == 0

    @pytest.mark.parametrize(
        ("older_than", "words"),
        [
            ("90", "not a duration"),
            ("90 d", "not a duration"),
            ("1.5d", "not a duration"),
            ("-1d", "not a duration"),
            ("90D", "not a duration"),
            ("90m", "shorter than the longest window"),
            ("0d", "zero"),
            ("0w", "zero"),
            ("99999w", "longer than"),
            ("12h", "shorter than the longest window"),
        ],
    )
    async def test_a_bad_older_than_is_one_line_and_changes_nothing(
        self,
        settings: Settings,
        client: httpx.AsyncClient,
        clock: FrozenClock,
        db: DatabaseProbe,
        older_than: str,
        words: str,
    ) -> None:
        await Ledger(client, clock).unissued_decision()
        clock.advance(timedelta(days=1000))
        result = await prune_async(settings.database_url, f"--older-than={older_than}")
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("error: --older-than: ")
        assert words in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        for marker in STACK_TRACE_MARKERS:
            assert marker not in result.output
        assert len((await ids(db))["credential_requests"]) == 1

    def test_a_database_without_the_schema_is_named(self, tmp_path: Path) -> None:
        result = prune(f"sqlite:///{tmp_path / 'empty.db'}")
        assert result.exit_code == 1
        assert "agentkeys db upgrade" in result.stderr


def policy_with_retention(directory: Path, value: str) -> Path:
    shipped = subprocess.run(
        [str(EXECUTABLE), "policy", "show-default"], capture_output=True, text=True, check=True
    ).stdout
    assert 'older_than = "90d"' in shipped
    path = directory / "policy.toml"
    path.write_text(shipped.replace('older_than = "90d"', f"older_than = {value}"))
    return path

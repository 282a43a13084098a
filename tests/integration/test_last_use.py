"""A credential's last use on both backends: kept in memory by the verifier, written in batches
(never a write per request), never moved back, flushed at shutdown, kept across a failed flush,
and shown by the admin API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from agentkeys.clock import FrozenClock
from agentkeys.config import Settings
from agentkeys.credentials.usage import CredentialUsage
from agentkeys.db.engine import create_engine, create_session_factory
from tests.support.admin import create_admin_key
from tests.support.app import START, AppFactory, client_for
from tests.support.assertions import as_instant
from tests.support.databases import DatabaseProbe
from tests.support.factories import issue_credential, key_header
from tests.support.servers import free_port

# Last use is stored behaviour: both backends (issue 10).
pytestmark = pytest.mark.both_backends

SELF = "/v1/agent-credentials/self"
# Long enough that no background flush runs during a test: only explicit ones and shutdown.
NEVER = 300
POLL_DEADLINE_SECONDS = 30


async def last_used(db: DatabaseProbe, credential_id: str) -> Any:
    (row,) = await db.rows("SELECT last_used_at FROM credentials WHERE id = :id", id=credential_id)
    return None if row["last_used_at"] is None else as_instant(row["last_used_at"])


@contextmanager
def statements_of(app: Any) -> Iterator[list[str]]:
    """Every SQL statement the app's engine sends while inside (one per executemany)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def updates_of_last_use(statements: list[str]) -> list[str]:
    return [
        s for s in statements if s.lstrip().upper().startswith("UPDATE") and "last_used_at" in s
    ]


def flush_failures() -> float:
    value = REGISTRY.get_sample_value(
        "agentkeys_backend_errors_total",
        {"backend": "database", "operation": "last_used_flush"},
    )
    return value or 0.0


class TestBatchedWrites:
    async def test_requests_write_nothing_and_one_flush_writes_one_statement(
        self, make_app: AppFactory, db: DatabaseProbe
    ) -> None:
        app = make_app(last_used_flush_seconds=NEVER)
        async with client_for(app) as client:
            issued = await issue_credential(client)
            headers = key_header(issued["credential"])
            with statements_of(app) as during_requests:
                for _ in range(5):
                    assert (await client.get(SELF, headers=headers)).status_code == 200
            assert updates_of_last_use(during_requests) == []
            assert await last_used(db, issued["credential_id"]) is None

            with statements_of(app) as during_flush:
                assert await app.state.context.verifier.usage.flush()
            assert len(updates_of_last_use(during_flush)) == 1
            assert await last_used(db, issued["credential_id"]) == START

    async def test_many_credentials_are_written_by_one_statement(
        self, make_app: AppFactory, db: DatabaseProbe
    ) -> None:
        app = make_app(last_used_flush_seconds=NEVER)
        async with client_for(app) as client:
            issued = [
                await issue_credential(client, user_email=f"dev{n}@example.com") for n in range(3)
            ]
            for body in issued:
                await client.get(SELF, headers=key_header(body["credential"]))
            with statements_of(app) as during_flush:
                await app.state.context.verifier.usage.flush()
            assert len(updates_of_last_use(during_flush)) == 1
            for body in issued:
                assert await last_used(db, body["credential_id"]) == START

    async def test_a_later_use_moves_it_forward_and_an_older_one_never_back(
        self, make_app: AppFactory, db: DatabaseProbe, clock: FrozenClock
    ) -> None:
        app = make_app(last_used_flush_seconds=NEVER)
        usage: CredentialUsage = app.state.context.verifier.usage
        async with client_for(app) as client:
            issued = await issue_credential(client)
            clock.advance(timedelta(minutes=10))
            await client.get(SELF, headers=key_header(issued["credential"]))
            await usage.flush()
            later = START + timedelta(minutes=10)
            assert await last_used(db, issued["credential_id"]) == later

            # Another worker's older instant, flushed after ours: the stored one stays.
            usage.record(issued["credential_id"], START + timedelta(minutes=1))
            await usage.flush()
            assert await last_used(db, issued["credential_id"]) == later

    async def test_a_short_interval_flushes_in_the_background(
        self, make_app: AppFactory, db: DatabaseProbe
    ) -> None:
        app = make_app(last_used_flush_seconds=0.1)
        async with client_for(app) as client:
            issued = await issue_credential(client)
            await client.get(SELF, headers=key_header(issued["credential"]))
            deadline = time.monotonic() + POLL_DEADLINE_SECONDS
            while await last_used(db, issued["credential_id"]) is None:
                assert time.monotonic() < deadline, "no background flush"
                await asyncio.sleep(0.05)
        assert await last_used(db, issued["credential_id"]) == START

    async def test_shutdown_writes_the_uses_not_yet_flushed(
        self, make_app: AppFactory, db: DatabaseProbe
    ) -> None:
        app = make_app(last_used_flush_seconds=NEVER)
        async with client_for(app) as client:
            issued = await issue_credential(client)
            await client.get(SELF, headers=key_header(issued["credential"]))
            assert await last_used(db, issued["credential_id"]) is None
        assert await last_used(db, issued["credential_id"]) == START


class TestWhatIsRecorded:
    async def test_only_verified_keys_are_recorded(self, make_app: AppFactory) -> None:
        app = make_app(last_used_flush_seconds=NEVER)
        usage: CredentialUsage = app.state.context.verifier.usage
        async with client_for(app) as client:
            issued = await issue_credential(client)
            forged = issued["credential"][:-1] + ("A" if issued["credential"][-1] != "A" else "B")
            await client.get(SELF, headers=key_header(forged))
            await client.get(SELF)
            await client.post(issued["revocation_path"], headers=key_header(issued["credential"]))
            await client.get(SELF, headers=key_header(issued["credential"]))
            assert dict(usage.pending) == {}

    async def test_memory_holds_at_most_its_bound_of_credentials(
        self, settings: Settings, clock: FrozenClock
    ) -> None:
        engine = create_engine(settings.database_url)
        usage = CredentialUsage(
            session_factory=create_session_factory(engine),
            clock=clock,
            flush_seconds=NEVER,
            max_pending=2,
        )
        dropped = REGISTRY.get_sample_value("agentkeys_last_used_dropped_total") or 0.0
        usage.record("ws_agent_cred_a", START)
        usage.record("ws_agent_cred_b", START)
        usage.record("ws_agent_cred_c", START)
        usage.record("ws_agent_cred_a", START + timedelta(seconds=1))
        await engine.dispose()

        assert dict(usage.pending) == {
            "ws_agent_cred_a": START + timedelta(seconds=1),
            "ws_agent_cred_b": START,
        }
        assert REGISTRY.get_sample_value("agentkeys_last_used_dropped_total") == dropped + 1


class SwitchableSessions:
    """A session factory on an unreachable database until ``restore``: the database away, then
    back."""

    def __init__(
        self, away: async_sessionmaker[AsyncSession], back: async_sessionmaker[AsyncSession]
    ) -> None:
        self.current = away
        self._back = back

    def restore(self) -> None:
        self.current = self._back

    def __call__(self) -> AsyncSession:
        return self.current()


def unreachable_url(backend: str, directory: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{directory / 'missing' / 'agentkeys.db'}"
    return f"postgresql+asyncpg://agentkeys@127.0.0.1:{free_port()}/agentkeys"


class TestFailedFlush:
    async def test_a_failed_flush_is_counted_and_retried_with_the_newest_use(
        self,
        make_app: AppFactory,
        settings: Settings,
        clock: FrozenClock,
        db: DatabaseProbe,
        backend: str,
        tmp_path: Path,
    ) -> None:
        async with client_for(make_app(last_used_flush_seconds=NEVER)) as client:
            issued = await issue_credential(client)
        credential_id = issued["credential_id"]
        away_engine = create_engine(unreachable_url(backend, tmp_path))
        engine = create_engine(settings.database_url)
        sessions = SwitchableSessions(
            create_session_factory(away_engine), create_session_factory(engine)
        )
        usage = CredentialUsage(
            session_factory=sessions,  # type: ignore[arg-type]
            clock=clock,
            flush_seconds=NEVER,
        )
        failures = flush_failures()
        try:
            usage.record(credential_id, START + timedelta(minutes=1))
            assert not await usage.flush()
            assert flush_failures() == failures + 1
            # A use recorded meanwhile, newer: kept over the failed batch's.
            usage.record(credential_id, START + timedelta(minutes=2))
            assert not await usage.flush()
            assert dict(usage.pending) == {credential_id: START + timedelta(minutes=2)}

            sessions.restore()
            assert await usage.flush()
            assert dict(usage.pending) == {}
            assert await last_used(db, credential_id) == START + timedelta(minutes=2)
        finally:
            await engine.dispose()
            await away_engine.dispose()


class TestLockedRows:
    async def test_a_flush_gives_way_to_a_transaction_holding_the_row(
        self, make_app: AppFactory, settings: Settings, db: DatabaseProbe
    ) -> None:
        app = make_app(last_used_flush_seconds=NEVER)
        usage: CredentialUsage = app.state.context.verifier.usage
        holder = create_async_engine(settings.database_url)
        async with client_for(app) as client:
            issued = await issue_credential(client)
            await client.get(SELF, headers=key_header(issued["credential"]))
            usage.record(issued["credential_id"], START + timedelta(minutes=1))
            try:
                # A revocation in progress: the row is locked (the writer lock, on SQLite).
                async with holder.connect() as connection:
                    await connection.execute(
                        text("UPDATE credentials SET revocation_reason = 'x' WHERE id = :id"),
                        {"id": issued["credential_id"]},
                    )
                    # A deadline, not a timing: without giving way the flush would wait for ever.
                    assert not await asyncio.wait_for(usage.flush(), POLL_DEADLINE_SECONDS)
                    await connection.rollback()
            finally:
                await holder.dispose()
            assert await usage.flush()
            assert await last_used(db, issued["credential_id"]) == START + timedelta(minutes=1)


class TestAdminView:
    async def test_the_admin_api_shows_the_last_use(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        _, admin_key = await create_admin_key(settings, "ops")
        admin = {"Authorization": f"Bearer {admin_key}"}
        app = make_app(last_used_flush_seconds=NEVER)
        async with client_for(app) as client:
            issued = await issue_credential(client)
            path = f"/v1/admin/credentials/{issued['credential_id']}"
            assert (await client.get(path, headers=admin)).json()["last_used_at"] is None
            await client.get(SELF, headers=key_header(issued["credential"]))
            await app.state.context.verifier.usage.flush()
            shown = (await client.get(path, headers=admin)).json()
            (item,) = (await client.get("/v1/admin/credentials", headers=admin)).json()["items"]
        assert shown["last_used_at"] == "2026-03-01T12:00:00.000Z"
        assert item["last_used_at"] == "2026-03-01T12:00:00.000Z"

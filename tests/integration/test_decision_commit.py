"""``AGENTKEYS_DECISION_COMMIT``: ``fast`` makes a PostgreSQL decision's transaction commit
without waiting for the disk (a decision recorded in one statement asks its function for it;
under the session's locks, ``SET LOCAL synchronous_commit = off`` is sent before them), for that
transaction only: the connection goes back to the pool durable, and every
other write stays durable. ``durable`` (the default) sends nothing more. A bad value stops the
settings, and the server, in one line naming the setting.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from agentkeys.api.app import create_app
from agentkeys.clock import FrozenClock
from agentkeys.config import DecisionCommit, Mode, Settings, settings_problems
from agentkeys.credentials.policy import Quota
from tests.support.app import START, TEST_SECRET, AppFactory, client_for
from tests.support.databases import empty_tables
from tests.support.factories import issue_credential, key_header, request_credential
from tests.support.policies import relaxed_policy
from tests.support.servers import free_port
from tests.support.statements import counted_statements

FAST_COMMIT = "SET LOCAL synchronous_commit = off"
ADVISORY_LOCKS = "SELECT pg_advisory_xact_lock("
RECORD_DECISION = "agentkeys_record_decision("
AGENTKEYS = str(Path(sys.executable).with_name("agentkeys"))


def postgres_app(url: str, commit: DecisionCommit, *, email_quota: int | None = None) -> FastAPI:
    # Two connections at most: every one of them can be looked at afterwards.
    settings = Settings(
        mode=Mode.PRODUCTION,
        secret=TEST_SECRET,
        database_url=url,
        webhooks_deliver=False,
        decision_commit=commit,
        database_connections=2,
    )
    edges = {} if email_quota is None else {"email_issued": Quota(email_quota, timedelta(hours=1))}
    return create_app(settings, clock=FrozenClock(START), policy=relaxed_policy(**edges))


@contextmanager
def statements_by_server_process() -> Iterator[list[tuple[int, str, Any]]]:
    """The statements sent inside the block, each with its PostgreSQL server process id and
    its parameters."""
    seen: list[tuple[int, str, Any]] = []

    def note(connection: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        pid: int = connection.connection.driver_connection.get_server_pid()
        seen.append((pid, " ".join(statement.split()), parameters))

    event.listen(Engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", note)


def durability_asked(sent: list[tuple[int, str, Any]]) -> list[bool]:
    """The ``p_durable`` argument of each decision recorded in one statement (its only
    boolean parameter)."""
    asked: list[bool] = []
    for _, statement, parameters in sent:
        if RECORD_DECISION in statement:
            (durable,) = (value for value in parameters if isinstance(value, bool))
            asked.append(durable)
    return asked


@asynccontextmanager
async def every_pooled_connection(engine: AsyncEngine) -> AsyncIterator[list[AsyncConnection]]:
    """Both connections the app's pool may hold, checked out at once."""
    async with engine.connect() as first, engine.connect() as second:
        yield [first, second]


async def settings_of(engine: AsyncEngine) -> dict[int, str]:
    """Each pooled connection's server process id and its synchronous_commit, in a fresh
    transaction of its own."""
    found: dict[int, str] = {}
    async with every_pooled_connection(engine) as connections:
        for connection in connections:
            row = (
                await connection.execute(
                    text("SELECT pg_backend_pid(), current_setting('synchronous_commit')")
                )
            ).one()
            found[int(row[0])] = str(row[1])
    return found


@pytest.mark.postgres
class TestOnPostgresql:
    async def test_fast_asks_the_one_statement_decision_for_a_fast_commit(
        self, postgres_database: str
    ) -> None:
        await empty_tables(postgres_database)
        app = postgres_app(postgres_database, DecisionCommit.FAST)
        async with client_for(app) as client:
            with statements_by_server_process() as sent:
                answer = await issue_credential(client)
            after = await settings_of(app.state.engine)

        assert answer["outcome"] == "issued"
        assert durability_asked(sent) == [False]
        # Local to the decision's own transaction: every pooled connection is durable after.
        assert set(after.values()) == {"on"}

    async def test_fast_sends_set_local_before_the_locks_under_the_locks(
        self, postgres_database: str
    ) -> None:
        await empty_tables(postgres_database)
        # A full quota is decided under the locks (in a transaction of the session's).
        app = postgres_app(postgres_database, DecisionCommit.FAST, email_quota=1)
        async with client_for(app) as client:
            await issue_credential(client)
            with statements_by_server_process() as sent:
                refused = await request_credential(client)
            after = await settings_of(app.state.engine)

        assert refused.json()["outcome"] == "rate_limited"
        texts = [statement for _, statement, _ in sent]
        assert FAST_COMMIT in texts
        locks = next(i for i, s in enumerate(texts) if s.startswith(ADVISORY_LOCKS))
        assert texts.index(FAST_COMMIT) == locks - 1
        (decided_on,) = {pid for pid, statement, _ in sent if statement == FAST_COMMIT}
        # The decision's own connection, its next transaction: durable again.
        assert after.get(decided_on) == "on", after
        assert set(after.values()) == {"on"}

    async def test_fast_leaves_other_writes_durable(self, postgres_database: str) -> None:
        await empty_tables(postgres_database)
        app = postgres_app(postgres_database, DecisionCommit.FAST)
        async with client_for(app) as client:
            issued = await issue_credential(client)
            with statements_by_server_process() as sent:
                revoked = await client.post(
                    issued["revocation_path"], headers=key_header(issued["credential"])
                )

        assert revoked.status_code == 200, revoked.text
        assert sent  # the revocation wrote
        assert all("synchronous_commit" not in statement for _, statement, _ in sent)

    async def test_durable_sends_nothing_more(self, postgres_database: str) -> None:
        await empty_tables(postgres_database)
        app = postgres_app(postgres_database, DecisionCommit.DURABLE)
        async with client_for(app) as client:
            with statements_by_server_process() as sent:
                await issue_credential(client)

        texts = [statement for _, statement, _ in sent]
        assert durability_asked(sent) == [True]
        assert all("synchronous_commit" not in statement for statement in texts)


class TestOnSqlite:
    async def test_fast_changes_nothing_a_decision_sends(self, make_app: AppFactory) -> None:
        app = make_app(policy=relaxed_policy(), decision_commit=DecisionCommit.FAST)
        async with client_for(app) as client:
            with counted_statements() as sent:
                answer = await issue_credential(client)

        assert answer["outcome"] == "issued"
        assert sent
        assert all("synchronous_commit" not in statement for statement in sent)


class TestTheSetting:
    def test_durable_unless_set(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("AGENTKEYS_DECISION_COMMIT", raising=False)

        assert Settings(secret=TEST_SECRET).decision_commit is DecisionCommit.DURABLE

    def test_read_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AGENTKEYS_DECISION_COMMIT", "fast")

        assert Settings(secret=TEST_SECRET).decision_commit is DecisionCommit.FAST

    @pytest.mark.parametrize("value", ["eventually", "", "off", "synchronous_commit=off"])
    def test_a_bad_value_is_one_line_naming_the_setting(
        self, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        monkeypatch.setenv("AGENTKEYS_DECISION_COMMIT", value)
        with pytest.raises(ValidationError) as raised:
            Settings(secret=TEST_SECRET)

        problems = settings_problems(raised.value)
        assert len(problems) == 1, problems
        assert problems[0].startswith("AGENTKEYS_DECISION_COMMIT: "), problems
        assert "durable" in problems[0]
        assert "fast" in problems[0]

    def test_serve_refuses_a_bad_value_in_one_line(self, tmp_path: Path) -> None:
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AGENTKEYS_")},
            "AGENTKEYS_MODE": "production",
            "AGENTKEYS_SECRET": TEST_SECRET,
            "AGENTKEYS_DATABASE_URL": f"sqlite:///{tmp_path / 'agentkeys.db'}",
            "AGENTKEYS_DECISION_COMMIT": "eventually",
        }
        result = subprocess.run(
            [AGENTKEYS, "serve", "--port", str(free_port())],
            env=environment,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2, result.stderr
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("configuration error: AGENTKEYS_DECISION_COMMIT: ")
        assert "startup complete" not in result.stdout + result.stderr
        assert not (tmp_path / "agentkeys.db").exists()

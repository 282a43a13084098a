"""Real server processes: two replicas on one PostgreSQL deliver each webhook message exactly
once, and messages pending when a server is killed (SIGKILL) are delivered once one comes back."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from agentkeys.config import Mode, Settings
from tests.support.admin import create_admin_key
from tests.support.app import TEST_SECRET
from tests.support.databases import DatabaseProbe, ServedDatabase, empty_tables
from tests.support.factories import SEED_REQUEST
from tests.support.servers import running_server
from tests.support.webhooks import Receiver, running_receiver

pytestmark = pytest.mark.both_backends

DELIVERING = {"AGENTKEYS_WEBHOOKS_ALLOW_PRIVATE": "1", "AGENTKEYS_WEBHOOKS_POLL_SECONDS": "0.05"}
NOT_DELIVERING = {"AGENTKEYS_WEBHOOKS_ALLOW_PRIVATE": "1", "AGENTKEYS_WEBHOOKS_DELIVER": "0"}
MESSAGES = 30


def wait_until(condition: Callable[[], bool], *, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.05)


def admin_header(database_url: str) -> dict[str, str]:
    settings = Settings(mode=Mode.PRODUCTION, secret=TEST_SECRET, database_url=database_url)
    _, key = asyncio.run(create_admin_key(settings, "ops"))
    return {"Authorization": f"Bearer {key}"}


def create_endpoint(base_url: str, admin: dict[str, str], receiver: Receiver) -> None:
    answer = httpx.post(
        f"{base_url}/v1/admin/webhooks",
        json={"url": receiver.url, "events": ["credential.issued"]},
        headers=admin,
    )
    assert answer.status_code == 201, answer.text


def issue(base_url: str, index: int) -> None:
    body = {
        **SEED_REQUEST,
        "organization_name": f"Replica Co {index}",
        "user_email": f"dev{index}@example.com",
    }
    answer = httpx.post(f"{base_url}/v1/agent-credentials", json=body)
    assert answer.json()["outcome"] == "issued", answer.text


def all_delivered(probe: DatabaseProbe, count: int) -> Callable[[], bool]:
    def check() -> bool:
        rows = asyncio.run(probe.rows("SELECT status FROM webhook_messages"))
        return len(rows) == count and all(row["status"] == "delivered" for row in rows)

    return check


@pytest.mark.postgres
class TestTwoReplicas:
    def test_each_message_is_delivered_by_exactly_one_replica(
        self, postgres_database: str, tmp_path: Path
    ) -> None:
        asyncio.run(empty_tables(postgres_database))
        admin = admin_header(postgres_database)
        probe = DatabaseProbe(postgres_database, sqlite_path=None)
        with (
            running_receiver() as receiver,
            running_server(
                database_url=postgres_database, log_path=tmp_path / "one.log", extra_env=DELIVERING
            ) as one,
            running_server(
                database_url=postgres_database, log_path=tmp_path / "two.log", extra_env=DELIVERING
            ) as two,
        ):
            create_endpoint(one.base_url, admin, receiver)
            for index in range(MESSAGES):
                issue((one, two)[index % 2].base_url, index)
            wait_until(all_delivered(probe, MESSAGES))
            received = Counter(r.headers["webhook-id"] for r in receiver.received)
        assert len(received) == MESSAGES
        assert set(received.values()) == {1}  # none twice
        attempts = asyncio.run(probe.rows("SELECT message_id FROM webhook_attempts"))
        assert len(attempts) == MESSAGES


class TestKilledServer:
    def test_messages_pending_at_a_kill_are_delivered_after_a_restart(
        self, served_database: ServedDatabase, tmp_path: Path
    ) -> None:
        with running_receiver() as receiver:
            with running_server(
                database_url=served_database.url,
                log_path=tmp_path / "first.log",
                extra_env=NOT_DELIVERING,
            ) as first:
                admin = admin_header(served_database.url)
                create_endpoint(first.base_url, admin, receiver)
                for index in range(3):
                    issue(first.base_url, index)
                first.process.kill()  # SIGKILL: no shutdown of any kind
                first.process.wait(timeout=15)
            assert receiver.received == []
            with running_server(
                database_url=served_database.url,
                log_path=tmp_path / "second.log",
                extra_env=DELIVERING,
            ):
                wait_until(all_delivered(served_database.probe(), 3))
            assert len({r.headers["webhook-id"] for r in receiver.received}) == 3

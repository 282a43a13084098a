"""``agentkeys webhooks …`` against the test database: the same endpoints as the admin API, the
secret printed once, refusals as one line, and a message queued by ``test`` delivered by the
server's worker."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from agentkeys.cli import webhooks as webhooks_cli
from agentkeys.cli.main import app as cli
from agentkeys.clock import FrozenClock
from agentkeys.config import Settings
from tests.support.app import TEST_SECRET, AppFactory, client_for
from tests.support.databases import DatabaseProbe
from tests.support.webhooks import running_receiver

pytestmark = pytest.mark.both_backends


@pytest.fixture(autouse=True)
def same_clock_as_the_app(monkeypatch: pytest.MonkeyPatch, clock: FrozenClock) -> None:
    monkeypatch.setattr(webhooks_cli, "clock", clock)


def run(database_url: str, *args: str, allow_private: bool = True) -> Result:
    environment = {
        "AGENTKEYS_MODE": "production",
        "AGENTKEYS_SECRET": TEST_SECRET,
        "AGENTKEYS_DATABASE_URL": database_url,
        "AGENTKEYS_WEBHOOKS_ALLOW_PRIVATE": "1" if allow_private else "0",
    }
    return CliRunner().invoke(cli, list(args), env=environment)


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


class TestWebhooksCli:
    def test_the_life_cycle_of_an_endpoint(self, settings: Settings) -> None:
        url = settings.database_url
        created = as_json(
            run(
                url,
                "webhooks",
                "create",
                "--url",
                "http://127.0.0.1:9/hook",
                "--event",
                "credential.issued",
                "--description",
                "ops",
            )
        )
        endpoint_id = created["endpoint_id"]
        assert created["secret"].startswith("whsec_")
        listed = as_json(run(url, "webhooks", "list", "--json"))
        assert [item["endpoint_id"] for item in listed] == [endpoint_id]
        assert created["secret"] not in json.dumps(listed)
        table = run(url, "webhooks", "list")
        assert endpoint_id in table.stdout
        updated = as_json(
            run(url, "webhooks", "update", endpoint_id, "--event", "credential.revoked")
        )
        assert updated["events"] == ["credential.revoked"]
        assert as_json(run(url, "webhooks", "disable", endpoint_id))["enabled"] is False
        assert as_json(run(url, "webhooks", "update", endpoint_id, "--enable"))["enabled"] is True
        rotated = as_json(run(url, "webhooks", "rotate", endpoint_id))
        assert rotated["secret"] != created["secret"]
        assert rotated["previous_secret_expires_at"] is not None
        shown = as_json(run(url, "webhooks", "show", endpoint_id))
        assert "secret" not in shown
        assert shown["attempts"] == []
        deleted = run(url, "webhooks", "delete", endpoint_id, "--yes")
        assert deleted.exit_code == 0, deleted.output
        missing = run(url, "webhooks", "show", endpoint_id)
        assert missing.exit_code == 1
        assert "No webhook endpoint" in missing.stderr

    def test_a_refused_url_is_one_line_naming_the_option(self, settings: Settings) -> None:
        result = run(
            settings.database_url,
            "webhooks",
            "create",
            "--url",
            "https://169.254.169.254/",
            "--event",
            "credential.issued",
            allow_private=False,
        )
        assert result.exit_code == 2, result.output
        assert result.stderr.strip() == "error: --url: 169.254.169.254 is a cloud metadata address"

    def test_an_unknown_event_is_refused(self, settings: Settings) -> None:
        result = run(
            settings.database_url,
            "webhooks",
            "create",
            "--url",
            "http://127.0.0.1:9/",
            "--event",
            "credential.stolen",
        )
        assert result.exit_code == 2, result.output
        assert "--events" in result.stderr

    async def test_a_queued_test_message_is_delivered_by_the_server(
        self, settings: Settings, make_app: AppFactory, db: DatabaseProbe
    ) -> None:
        with running_receiver() as receiver:
            created = as_json(
                await asyncio.to_thread(
                    run,
                    settings.database_url,
                    "webhooks",
                    "create",
                    "--url",
                    receiver.url,
                    "--event",
                    "credential.issued",
                )
            )
            queued = as_json(
                await asyncio.to_thread(
                    run, settings.database_url, "webhooks", "test", created["endpoint_id"]
                )
            )
            app = make_app(webhooks_allow_private=True, webhooks_deliver=False)
            async with client_for(app):
                assert await app.state.webhooks.delivery.run_once() == 1
        assert [r.headers["webhook-id"] for r in receiver.received] == [queued["message_id"]]
        rows = await db.rows("SELECT status FROM webhook_messages")
        assert [row["status"] for row in rows] == ["delivered"]

"""The real server process as `make serve` starts it: the README flow, no secret left behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.factories import SEED_REQUEST
from tests.support.servers import RunningServer, running_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """`agentkeys serve` on a fresh SQLite file, which it must create and migrate itself."""
    database_path = tmp_path / "served.db"
    with running_server(
        database_url=f"sqlite+aiosqlite:///{database_path}",
        log_path=tmp_path / "server.log",
        # `make serve` runs in development mode, whose log format is text.
        extra_env={"AGENTKEYS_LOG_FORMAT": "text"},
    ) as running:
        yield running


class TestServedFlow:
    def test_readme_flow_and_no_secret_in_database_or_logs(self, server: RunningServer) -> None:
        with httpx.Client(base_url=server.base_url) as http:
            issued = http.post("/v1/agent-credentials", json=SEED_REQUEST).json()
            assert issued["outcome"] == "issued"
            secret = issued["credential"]
            headers = {"x-ws-api-key": secret}

            assert http.get("/v1/agent-credentials/self", headers=headers).status_code == 200
            refused = http.post("/v1/feedback", headers=headers, json={"name": "A", "message": "m"})
            assert refused.status_code == 403
            revoked = http.post(issued["revocation_path"], headers=headers, json={"reason": "done"})
            assert revoked.json()["outcome"] == "revoked"
            after = http.get("/v1/agent-credentials/self", headers=headers)
            assert after.json()["error_code"] == "AUTH_REVOKED_CREDENTIAL"
            # A key sent where it does not belong (a query string, a field of an invalid
            # request) must not be stored or logged either.
            http.get(f"/nowhere?key={secret}", headers=headers)
            http.post("/v1/agent-credentials", json={"organization_name": secret})

        server.stop()
        log = server.log_path.read_text()
        assert "POST /v1/agent-credentials 200" in log
        assert secret not in log
        stored = b"".join(path.read_bytes() for path in server.log_path.parent.glob("served.db*"))
        assert len(stored) > 0
        assert secret.encode() not in stored

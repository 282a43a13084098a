"""The real server process as `make serve` starts it: the README flow, no secret left behind."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET
from tests.factories import SEED_REQUEST

STARTUP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class RunningServer:
    base_url: str
    log_path: Path
    database_path: Path
    process: subprocess.Popen[bytes]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """`agentkeys serve` on a fresh SQLite file, which it must create and migrate itself."""
    port = free_port()
    database_path = tmp_path / "served.db"
    log_path = tmp_path / "server.log"
    environment = {
        **os.environ,
        "AGENTKEYS_MODE": "production",
        "AGENTKEYS_SECRET": TEST_SECRET,
        "AGENTKEYS_DATABASE_URL": f"sqlite+aiosqlite:///{database_path}",
        "AGENTKEYS_LOG_LEVEL": "DEBUG",
    }
    executable = Path(sys.executable).with_name("agentkeys")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(executable), "serve", "--port", str(port)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                if httpx.get(f"{base_url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield RunningServer(base_url, log_path, database_path, process)
    finally:
        process.terminate()
        process.wait(timeout=15)


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

        server.process.terminate()
        server.process.wait(timeout=15)
        log = server.log_path.read_text()
        assert "POST /v1/agent-credentials 200" in log
        assert secret not in log
        stored = b"".join(
            path.read_bytes() for path in server.database_path.parent.glob("served.db*")
        )
        assert len(stored) > 0
        assert secret.encode() not in stored

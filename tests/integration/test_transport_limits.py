"""What a hostile or vanished client does to a real server process, through raw sockets.

A client that goes away before its body is in is one access-log line (499, "client closed
request"), never an error with a traceback, and nothing it had begun is kept.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.factories import SEED_REQUEST, key_header
from tests.servers import RunningServer, running_server

SLACK_SECONDS = 10


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("transport")
    with running_server(
        database_url=f"sqlite:///{directory / 'served.db'}",
        log_path=directory / "server.log",
    ) as running:
        yield running


def connect(server: RunningServer) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=SLACK_SECONDS)


class TestClientGoneMidBody:
    @pytest.mark.parametrize(
        "route", ["revoke", "issue", "feedback", "homes_create", "utility_get"]
    )
    def test_is_one_499_line_and_nothing_is_kept(self, server: RunningServer, route: str) -> None:
        issued = httpx.post(f"{server.base_url}/v1/agent-credentials", json=SEED_REQUEST).json()
        key = issued["credential"]
        path = {
            "revoke": issued["revocation_path"],
            "issue": "/v1/agent-credentials",
            "feedback": "/v1/feedback",
            "homes_create": "/v1/homes/create",
            "utility_get": "/v1/utility/get",
        }[route]
        before = server.log_path.read_text()
        with connect(server) as connection:
            connection.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"x-ws-api-key: {key}\r\nContent-Length: 100\r\n\r\n".encode()
                + b'{"reason": "'
            )
            time.sleep(0.3)  # the server is now waiting for the rest of the body

        deadline = time.monotonic() + SLACK_SECONDS
        while True:
            written = server.log_path.read_text()[len(before) :]
            if f"POST {path} " in written or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        lines = [line for line in written.splitlines() if f"POST {path} " in line]
        assert len(lines) == 1, written
        assert f"POST {path} 499 " in lines[0]
        assert 'reason="client closed request"' in lines[0]
        assert "traceback" not in written.lower()
        assert "unhandled error" not in written
        # Nothing half-done: the key the revocation named still works.
        answer = httpx.get(f"{server.base_url}/v1/agent-credentials/self", headers=key_header(key))
        assert answer.status_code == 200

    def test_the_server_still_serves_afterwards(self, server: RunningServer) -> None:
        assert httpx.get(f"{server.base_url}/readyz").json() == {"status": "ready"}

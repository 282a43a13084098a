"""Slow and idle clients cannot hold a connection: a real server process, raw sockets.

The head (request line and headers) has ``AGENTKEYS_HEADER_TIMEOUT_SECONDS`` from the
connection's opening or its first byte, the body ``AGENTKEYS_BODY_TIMEOUT_SECONDS`` from the end
of the head; either answers 408 in the envelope and closes. An idle connection, before its first
request or between two, is closed.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.factories import SEED_REQUEST
from tests.support.servers import RunningServer, running_server

HEAD_SECONDS = 1.5
BODY_SECONDS = 1.5
IDLE_SECONDS = 1
# Room for a loaded machine; a deadline that does not work holds the socket for ever.
SLACK_SECONDS = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("slow")
    with running_server(
        database_url=f"sqlite:///{directory / 'served.db'}",
        log_path=directory / "server.log",
        extra_env={
            "AGENTKEYS_HEADER_TIMEOUT_SECONDS": str(HEAD_SECONDS),
            "AGENTKEYS_BODY_TIMEOUT_SECONDS": str(BODY_SECONDS),
            "AGENTKEYS_KEEPALIVE_TIMEOUT_SECONDS": str(IDLE_SECONDS),
        },
    ) as running:
        yield running


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed_after: float  # seconds from the start until the server closed the connection


def connect(server: RunningServer) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=HEAD_SECONDS + SLACK_SECONDS)
    return connection


def read_until_closed(connection: socket.socket, started: float) -> Answer | None:
    """Everything the server sends until it closes; ``None`` if it closed without a word."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    closed_after = time.monotonic() - started
    if not received:
        return None
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), headers, body, closed_after)


def assert_timed_out(answer: Answer | None, *, deadline: float, said: str) -> None:
    assert answer is not None
    assert answer.status == 408
    assert answer.headers["connection"] == "close"
    envelope = json.loads(answer.body)
    assert envelope["error_code"] == "VALIDATION_FAILED"
    assert said in envelope["message"]
    assert envelope["request_id"] == answer.headers["x-request-id"]
    assert deadline * 0.9 <= answer.closed_after < deadline + SLACK_SECONDS


class TestHead:
    def test_a_connection_that_sends_nothing_is_closed(self, server: RunningServer) -> None:
        with connect(server) as connection:
            started = time.monotonic()
            answer = read_until_closed(connection, started)

        assert answer is None  # nothing was asked, so nothing is answered
        assert time.monotonic() - started < HEAD_SECONDS + SLACK_SECONDS

    def test_a_partial_head_is_answered_408_and_closed(self, server: RunningServer) -> None:
        with connect(server) as connection:
            started = time.monotonic()
            connection.sendall(b"POST /v1/agent-credentials HTTP/1.1\r\nHost: x\r\n")
            answer = read_until_closed(connection, started)

        assert_timed_out(answer, deadline=HEAD_SECONDS, said="not received in time")

    def test_trickled_bytes_do_not_extend_the_deadline(self, server: RunningServer) -> None:
        with connect(server) as connection:
            started = time.monotonic()
            connection.sendall(b"GET /healthz HTTP/1.1\r\n")
            header = b"X-Slow: " + b"a" * 1000
            sent = 0
            try:
                while sent < len(header):
                    connection.sendall(header[sent : sent + 1])
                    sent += 1
                    time.sleep(0.1)
            except OSError:
                pass  # the server closed the connection under us
            answer = read_until_closed(connection, started)

        assert sent < len(header)
        assert_timed_out(answer, deadline=HEAD_SECONDS, said="not received in time")


class TestBody:
    @pytest.mark.parametrize("route", ["issue", "feedback", "revoke"])
    def test_a_body_that_never_completes_is_answered_408(
        self, server: RunningServer, route: str
    ) -> None:
        # Revocation reads its body after the key and ownership checks: give it a real key.
        issued = httpx.post(f"{server.base_url}/v1/agent-credentials", json=SEED_REQUEST).json()
        path, key = {
            "issue": ("/v1/agent-credentials", ""),
            "feedback": ("/v1/feedback", issued["credential"]),
            "revoke": (issued["revocation_path"], issued["credential"]),
        }[route]
        with connect(server) as connection:
            started = time.monotonic()
            connection.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"x-ws-api-key: {key}\r\nContent-Length: 100\r\n\r\n".encode()
                + b'{"reason": "'
            )
            answer = read_until_closed(connection, started)

        assert_timed_out(answer, deadline=BODY_SECONDS, said="body was not received within")

    def test_a_chunked_body_that_never_ends_is_answered_408(self, server: RunningServer) -> None:
        with connect(server) as connection:
            started = time.monotonic()
            connection.sendall(
                b"POST /v1/agent-credentials HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"2\r\n{}\r\n"
            )
            answer = read_until_closed(connection, started)

        assert_timed_out(answer, deadline=BODY_SECONDS, said="body was not received within")

    def test_a_slow_body_within_the_deadline_is_served(self, server: RunningServer) -> None:
        body = json.dumps(SEED_REQUEST).encode()
        with connect(server) as connection:
            connection.sendall(
                b"POST /v1/agent-credentials HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                b"Content-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
            )
            for start in range(0, len(body), len(body) // 3 + 1):
                time.sleep(0.1)
                connection.sendall(body[start : start + len(body) // 3 + 1])
            answer = read_until_closed(connection, time.monotonic())

        assert answer is not None
        assert answer.status == 200
        assert json.loads(answer.body)["outcome"] == "issued"


class TestIdle:
    def test_an_idle_keep_alive_connection_is_closed(self, server: RunningServer) -> None:
        with connect(server) as connection:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            started = time.monotonic()
            answer = read_until_closed(connection, started)

        assert answer is not None
        assert answer.status == 200
        assert answer.body == b'{"status":"ok"}'
        assert IDLE_SECONDS * 0.9 <= answer.closed_after < IDLE_SECONDS + SLACK_SECONDS

    def test_the_server_still_serves_afterwards(self, server: RunningServer) -> None:
        assert httpx.get(f"{server.base_url}/readyz").json() == {"status": "ready"}


def test_log_names_each_timeout(server: RunningServer, tmp_path: Path) -> None:
    with connect(server) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\n")
        read_until_closed(connection, time.monotonic())

    assert "request head not received within" in server.log_path.read_text()

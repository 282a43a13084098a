"""What a hostile or vanished client does to a real server process, through raw sockets.

A client that goes away before its body is in is one access-log line (499, "client closed
request"), never an error with a traceback, and nothing it had begun is kept.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.factories import SEED_REQUEST, key_header
from tests.support.servers import RunningServer, running_server

SLACK_SECONDS = 10


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("transport")
    with running_server(
        database_url=f"sqlite:///{directory / 'served.db'}",
        log_path=directory / "server.log",
        # The tests read access lines in the text format (JSON's: tests/integration/test_json_logs).
        extra_env={"AGENTKEYS_LOG_FORMAT": "text"},
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


def exchange(server: RunningServer, payload: bytes, *, chunk: int = 65536) -> tuple[bytes, bool]:
    """Send ``payload`` (stopping if the server closes first), then read until closed.

    Returns what the server answered and whether all of the payload could be sent.
    """
    received = b""
    with connect(server) as connection:
        sent_all = True
        try:
            for start in range(0, len(payload), chunk):
                connection.sendall(payload[start : start + chunk])
        except OSError:
            sent_all = False
        try:
            while data := connection.recv(65536):
                received += data
        except ConnectionResetError:
            pass  # the server closed with our unread bytes pending: its answer may be lost
    return received, sent_all


def parsed(answer: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, json.loads(body)


def assert_envelope(answer: bytes, *, status: int, said: str) -> None:
    code, headers, envelope = parsed(answer)
    assert code == status
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert envelope["error_code"] == "VALIDATION_FAILED"
    assert said in envelope["message"]
    assert envelope["request_id"] == headers["x-request-id"]
    assert envelope["request_id"].startswith("ws_request_")


def rss_kib(server: RunningServer) -> int:
    status = Path(f"/proc/{server.process.pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])


HEAD_LIMIT = 64 * 1024  # AGENTKEYS_MAX_HEADER_BYTES's default


class TestHeadSize:
    """A head (request line and headers) over the limit is 431 in the envelope, however it is
    made large: one long header, many headers, a long path; sent at once or in small pieces."""

    @pytest.mark.parametrize(
        ("head", "chunk"),
        [
            pytest.param(
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * HEAD_LIMIT + b"\r\n\r\n",
                65536,
                id="one-long-header",
            ),
            pytest.param(
                b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 9000 + b"\r\n",
                100,
                id="many-headers-in-small-pieces",
            ),
            pytest.param(
                b"GET /" + b"a" * HEAD_LIMIT + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                65536,
                id="long-path",
            ),
            pytest.param(
                b"POST /v1/agent-credentials HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                + b"Cookie: "
                + b"c" * HEAD_LIMIT
                + b"\r\n\r\n{}",
                7,
                id="long-header-with-body",
            ),
        ],
    )
    def test_over_the_limit_is_431(self, server: RunningServer, head: bytes, chunk: int) -> None:
        answer, _ = exchange(server, head, chunk=chunk)

        assert_envelope(answer, status=431, said=f"exceeds {HEAD_LIMIT} bytes")

    def test_just_within_the_limit_is_served(self, server: RunningServer) -> None:
        start = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: "
        filler = HEAD_LIMIT - len(start) - len(b"\r\n\r\n")
        answer, sent_all = exchange(server, start + b"a" * filler + b"\r\n\r\n", chunk=4096)

        assert sent_all
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert answer.endswith(b'{"status":"ok"}')

    def test_a_large_body_after_a_small_head_is_not_counted(self, server: RunningServer) -> None:
        # One write holding the head and a body far larger than the head limit.
        body = json.dumps({"name": "n", "message": "m" * (HEAD_LIMIT * 2)}).encode()
        answer, sent_all = exchange(
            server,
            b"POST /v1/feedback HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body,
            chunk=len(body) + 1024,
        )

        assert sent_all
        assert parsed(answer)[0] == 401  # read through to the application: no key

    def test_a_50_mb_header_line_is_never_read_whole(self, server: RunningServer) -> None:
        before = rss_kib(server)
        line = b"a" * (1 << 20)
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Huge: " + line * 50 + b"\r\n\r\n"

        answer, sent_all = exchange(server, head, chunk=1 << 20)

        assert not sent_all  # the server closed the connection long before the end
        if answer:  # unless the reset overtook it
            assert_envelope(answer, status=431, said="exceeds")
        assert rss_kib(server) - before < 20 * 1024
        assert "request head over 65536 bytes; answered 431" in server.log_path.read_text()


class TestMalformedHttp:
    @pytest.mark.parametrize(
        "request_bytes",
        [
            pytest.param(b"GARBAGE\r\n\r\n", id="bad-request-line"),
            pytest.param(b"GET /healthz HTTP/1.1\r\nHo st: x\r\n\r\n", id="space-in-name"),
            pytest.param(b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", id="unknown-version"),
            pytest.param(
                b"POST /v1/feedback HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
                id="bad-content-length",
            ),
        ],
    )
    def test_is_400_in_the_envelope(self, server: RunningServer, request_bytes: bytes) -> None:
        answer, _ = exchange(server, request_bytes)

        assert_envelope(answer, status=400, said="not valid HTTP/1.1")


class TestLogLines:
    def test_a_60_kb_path_makes_a_bounded_access_line(self, server: RunningServer) -> None:
        path = "/v1/" + "p" * 60_000
        answer = httpx.get(f"{server.base_url}{path}")
        request_id = answer.headers["x-request-id"]

        assert answer.status_code == 404
        lines = [line for line in server.log_path.read_text().splitlines() if request_id in line]
        assert len(lines) == 1
        assert len(lines[0]) < 1_000
        assert "…[+" in lines[0]

"""``agentkeys.client`` without a server: what importing it loads, the sync retry loop, the
``Retry-After`` forms it reads, and the key kept out of logs."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from agentkeys.client import AgentKeysClient, AgentKeysError, RetryBudget

BASE_URL = "http://agentkeys.test"
KEY = "wsk_agent_" + "s3cr3t" * 8
SELF = {
    "credential_id": "ws_agent_cred_1",
    "scopes": ["homes"],
    "effective_scopes": ["homes:read", "homes:write"],
    "created_at": "2026-03-01T12:00:00.000Z",
    "expires_at": "2026-03-02T12:00:00.000Z",
    "revocation_path": "/v1/agent-credentials/ws_agent_cred_1/revoke",
    "revocation_method": "POST",
    "environment": "sandbox",
    "production_access": False,
    "request_id": "ws_request_1",
}
RATE_LIMITED = {
    "request_id": "ws_request_2",
    "error_code": "RATE_LIMITED",
    "message": "Too many requests.",
    "retry_after_seconds": 3,
}


def answering(*responses: httpx.Response) -> tuple[httpx.Client, list[httpx.Request]]:
    """An HTTP client answering ``responses`` in turn, and the requests it was sent."""
    sent: list[httpx.Request] = []
    queue = list(responses)

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return queue.pop(0)

    return httpx.Client(transport=httpx.MockTransport(handle)), sent


def test_importing_the_client_loads_no_server_stack() -> None:
    heavy = ("fastapi", "starlette", "sqlalchemy", "alembic", "uvicorn", "redis", "agentkeys.api")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import agentkeys.client, sys; "
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


class TestRetries:
    def test_a_429_is_sent_again_after_its_retry_after(self) -> None:
        waits: list[float] = []
        http, sent = answering(
            httpx.Response(429, json=RATE_LIMITED, headers={"Retry-After": "3"}),
            httpx.Response(200, json=SELF),
        )

        client = AgentKeysClient(BASE_URL, api_key=KEY, http_client=http, sleep=waits.append)
        me = client.whoami()

        assert me.credential_id == "ws_agent_cred_1"
        assert waits == [3.0]
        assert [request.headers["x-ws-api-key"] for request in sent] == [KEY, KEY]

    def test_an_http_date_retry_after_is_read_as_the_seconds_until_then(self) -> None:
        waits: list[float] = []
        then = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
        http, _ = answering(
            httpx.Response(429, json=RATE_LIMITED, headers={"Retry-After": then}),
            httpx.Response(200, json=SELF),
        )

        AgentKeysClient(BASE_URL, http_client=http, sleep=waits.append).whoami()

        # 20 s from when the date was written, less the time the test took (whole seconds).
        assert len(waits) == 1
        assert 0 < waits[0] <= 20

    def test_no_retries_raises_the_429_with_its_wait(self) -> None:
        waits: list[float] = []
        http, sent = answering(httpx.Response(429, json=RATE_LIMITED, headers={"Retry-After": "3"}))

        client = AgentKeysClient(BASE_URL, http_client=http, max_retries=0, sleep=waits.append)
        with pytest.raises(AgentKeysError) as refused:
            client.whoami()

        assert refused.value.retry_after_seconds == 3
        assert (len(sent), waits) == (1, [])

    def test_a_400_is_never_sent_again(self) -> None:
        waits: list[float] = []
        invalid = {"request_id": "r", "error_code": "VALIDATION_FAILED", "message": "Invalid."}
        http, sent = answering(httpx.Response(400, json=invalid, headers={"Retry-After": "1"}))

        with pytest.raises(AgentKeysError):
            AgentKeysClient(BASE_URL, http_client=http, sleep=waits.append).whoami()

        assert (len(sent), waits) == (1, [])

    def test_a_negative_budget_is_refused(self) -> None:
        with pytest.raises(ValueError, match="max_retries"):
            RetryBudget(max_retries=-1)


def test_the_key_is_in_no_repr_and_no_log_line(caplog: pytest.LogCaptureFixture) -> None:
    http, _ = answering(httpx.Response(200, json=SELF))
    client = AgentKeysClient(BASE_URL, api_key=KEY, http_client=http)

    with caplog.at_level(logging.DEBUG):
        client.whoami()

    assert KEY not in repr(client)
    assert KEY not in caplog.text
    assert "/v1/agent-credentials/self" in caplog.text  # httpx did log the request

"""Waiting for a condition, and checking that held work leaves other clients served."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx
from fastapi import FastAPI

from tests.support.factories import issue_credential, key_header

# How long an unrelated request may take while other work is held: far above its usual
# milliseconds, far below a pool or lock timeout.
PROMPT_SECONDS = 2.0


def on_an_event_loop() -> bool:
    """Whether the caller runs on an event loop (CPU work must run in a worker thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def until(condition: Callable[[], bool], *, seconds: float = 10) -> None:
    """Wait until ``condition()`` holds, failing the test after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        await asyncio.sleep(0.01)


async def assert_unrelated_requests_answered(app: FastAPI, client: httpx.AsyncClient) -> None:
    """While work is held: no pooled database connection is taken, and an unrelated issuance and
    key check are answered promptly."""
    assert app.state.engine.pool.checkedout() == 0
    started = time.monotonic()
    issued = await issue_credential(client, organization_name="Unrelated Org")
    other = await client.get("/v1/agent-credentials/self", headers=key_header(issued["credential"]))
    assert time.monotonic() - started < PROMPT_SECONDS
    assert other.status_code == 200, other.text

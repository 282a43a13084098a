"""Decisions written straight into the ledger (a bulk insert), for tests that need many: pages,
the export, the stats (each row shaped as the issuance stores it); and a GET driven through the
ASGI app itself, to watch a streamed answer chunk by chunk."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from starlette.types import ASGIApp, Message

from agentkeys.credentials.models import CredentialRecord, CredentialRequestRecord
from agentkeys.credentials.quota_keys import organization_key
from agentkeys.db.engine import create_engine
from tests.support.factories import credential_request

OUTCOMES = ("issued", "needs_more_info", "rate_limited", "production_denied")
CHUNK_ROWS = 5000
SEEDED_NETWORK = "203.0.113.7/32"


def decision_id(number: int) -> str:
    return f"ws_cred_request_seed{number:08d}"


def credential_id(number: int) -> str:
    return f"ws_agent_cred_seed{number:08d}"


def _details(outcome: str) -> dict[str, Any]:
    if outcome == "issued":
        return {"scopes": ["calculate", "homes"], "ttl_seconds": 86400}
    if outcome == "rate_limited":
        return {"retry_after_seconds": 120, "exhausted": ["organization_issued"]}
    if outcome == "needs_more_info":
        return {"missing_fields": ["user_email"], "unknown_scopes": [], "unclear_fields": []}
    return {}


async def seed_decisions(
    database_url: str,
    count: int,
    *,
    start: datetime,
    step: timedelta,
    outcomes: Sequence[str] = OUTCOMES,
    organizations: Sequence[str] = ("Example Energy Co",),
) -> None:
    """``count`` decisions, the n-th at ``start + n * step`` with ``outcomes[n % len]`` and
    ``organizations[n % len]``; each ``issued`` one with its credential (no usable key). Every
    outcome but ``rate_limited`` continues the network's running number, as the service's own
    decisions do (the address quota counts by it); ``step`` must not be negative."""
    if step < timedelta(0):
        raise ValueError("decisions are seeded in the order they were made")
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            newest = await connection.scalar(
                select(func.max(CredentialRequestRecord.network_ordinal)).where(
                    CredentialRequestRecord.client_network == SEEDED_NETWORK
                )
            )
        ordinal: int = newest or 0
        for first in range(0, count, CHUNK_ROWS):
            decisions: list[dict[str, Any]] = []
            credentials: list[dict[str, Any]] = []
            for number in range(first, min(first + CHUNK_ROWS, count)):
                outcome = outcomes[number % len(outcomes)]
                organization = organizations[number % len(organizations)]
                decided_at = start + number * step
                counted = outcome != "rate_limited"
                ordinal += counted
                decisions.append(
                    {
                        "id": decision_id(number),
                        "request_id": f"ws_request_seed{number:08d}",
                        "created_at": decided_at,
                        "outcome": outcome,
                        "client_address": "203.0.113.7",
                        "client_network": SEEDED_NETWORK,
                        "network_ordinal": ordinal if counted else None,
                        "organization_name": organization,
                        "organization_key": organization_key(organization),
                        "user_email_key": "developer@example.com",
                        "requested_environment": "sandbox",
                        "request": credential_request(organization_name=organization),
                        "details": _details(outcome),
                    }
                )
                if outcome == "issued":
                    credentials.append(
                        {
                            "id": credential_id(number),
                            "key_digest": hashlib.sha256(str(number).encode()).hexdigest(),
                            "credential_request_id": decision_id(number),
                            "organization_key": organization_key(organization),
                            "user_email_key": "developer@example.com",
                            "client_network": SEEDED_NETWORK,
                            "scopes": ["calculate", "homes"],
                            "environment": "sandbox",
                            "created_at": decided_at,
                            "expires_at": decided_at + timedelta(days=1),
                            "revoked_at": None,
                            "revoked_by": None,
                            "revocation_reason": None,
                        }
                    )
            async with engine.begin() as connection:
                await connection.execute(insert(CredentialRequestRecord), decisions)
                if credentials:
                    await connection.execute(insert(CredentialRecord), credentials)
    finally:
        await engine.dispose()


ChunkHandler = Callable[[bytes], Awaitable[None]]


async def stream_get(
    app: ASGIApp,
    path: str,
    *,
    headers: dict[str, str],
    on_chunk: ChunkHandler,
    spec_version: str = "2.4",
    disconnected: asyncio.Event | None = None,
) -> int:
    """GET ``path`` on the app as a server would, handing each body chunk to ``on_chunk`` as
    it is sent (httpx's ASGI transport keeps the whole body): the status. Once
    ``disconnected`` is set, ``receive`` says the client went away."""
    status = 0
    raw_path, _, query = path.partition("?")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": spec_version},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"agentkeys.test")]
        + [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("203.0.113.7", 50000),
        "server": ("agentkeys.test", 80),
    }
    requested = False

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        if disconnected is None:
            await asyncio.Event().wait()  # a client that stays
        else:
            await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body" and message.get("body"):
            await on_chunk(message["body"])

    await app(scope, receive, send)
    return status

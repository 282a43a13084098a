"""Decisions written straight into the ledger (a bulk insert), for tests that need many: pages,
the export, the stats. Each row is shaped as the issuance stores it."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert

from agentkeys.credentials.models import CredentialRecord, CredentialRequestRecord
from agentkeys.credentials.quota_keys import organization_key
from agentkeys.db.engine import create_engine
from tests.support.factories import credential_request

OUTCOMES = ("issued", "needs_more_info", "rate_limited", "production_denied")
CHUNK_ROWS = 5000


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
    ``organizations[n % len]``; each ``issued`` one with its credential (no usable key)."""
    engine = create_engine(database_url)
    try:
        for first in range(0, count, CHUNK_ROWS):
            decisions: list[dict[str, Any]] = []
            credentials: list[dict[str, Any]] = []
            for number in range(first, min(first + CHUNK_ROWS, count)):
                outcome = outcomes[number % len(outcomes)]
                organization = organizations[number % len(organizations)]
                decided_at = start + number * step
                decisions.append(
                    {
                        "id": decision_id(number),
                        "request_id": f"ws_request_seed{number:08d}",
                        "created_at": decided_at,
                        "outcome": outcome,
                        "client_address": "203.0.113.7",
                        "client_network": "203.0.113.7/32",
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
                            "client_network": "203.0.113.7/32",
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

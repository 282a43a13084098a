"""A key pasted into any text a client sends is never stored whole (CONTRACT §6: the secret
never appears in the database), on every route that stores text, on both backends."""

from __future__ import annotations

import httpx
import pytest

from agentkeys.redaction import REDACTED
from tests.support.app import AppFactory, client_for
from tests.support.databases import DatabaseProbe
from tests.support.factories import issue_credential, key_header

# Stored redaction: what each backend holds.
pytestmark = pytest.mark.both_backends


async def test_a_pasted_key_is_stored_redacted_everywhere(
    make_app: AppFactory, db: DatabaseProbe
) -> None:
    app = make_app()
    scopes = sorted(app.state.context.policy.catalog.scopes)
    async with client_for(app) as client:
        holder = await issue_credential(client, requested_scopes=scopes)
        key = str(holder["credential"])
        headers = key_header(key)
        answers: list[httpx.Response] = [
            await client.post(
                "/v1/feedback",
                headers=headers,
                json={
                    "name": f"agent {key}",
                    "message": f"my key {key} fails",
                    "sanitized_evidence": {"headers": {"x-ws-api-key": key, key: [key]}},
                    "routing_tags": {"key": key},
                },
            ),
            await client.post(
                "/v1/homes/create",
                headers=headers,
                json={"name": f"home {key}", "zipcode": "94107", "solarInfo": {"k": key}},
            ),
            await client.post(
                str(holder["revocation_path"]), headers=headers, json={"reason": f"leaked {key}"}
            ),
        ]

    assert [answer.status_code for answer in answers] == [201, 201, 200]
    assert all(key not in answer.text for answer in answers)
    assert not await db.holds(key)
    assert not await db.holds(key[len("wsk_agent_") : len("wsk_agent_") + 20])
    assert await db.holds(REDACTED)

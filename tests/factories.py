"""Request bodies and helpers shared by the tests (factories, not fixture chains)."""

from __future__ import annotations

import re
from typing import Any

import httpx

SEED_REQUEST: dict[str, Any] = {
    "agent": "claude-code",
    "client": "cli",
    "organization_name": "Example Energy Co",
    "user_name": "Avery Developer",
    "assignment": "Prototype bill impact calculations for a customer dashboard",
    "tech_stack": ["typescript", "node"],
    "use_case": "Evaluate WattShift bill impact endpoints in sandbox",
    "user_email": "developer@example.com",
    "company": "Example Energy Co",
    "requested_scopes": ["calculate", "homes"],
    "requested_environment": "sandbox",
    "requested_ttl_seconds": 86400,
}


def credential_request(**overrides: Any) -> dict[str, Any]:
    """The seed's example body with some fields replaced; ``None`` removes a field."""
    body = {**SEED_REQUEST, **overrides}
    return {key: value for key, value in body.items() if value is not None}


async def request_credential(
    client: httpx.AsyncClient, *, headers_for: str | None = None, **overrides: Any
) -> httpx.Response:
    """POST the seed's body with overrides; ``headers_for`` sends it as X-Forwarded-For."""
    headers = {"x-forwarded-for": headers_for} if headers_for else None
    return await client.post(
        "/v1/agent-credentials", json=credential_request(**overrides), headers=headers
    )


async def issue_credential(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    """Issue a credential and return the response body; fails the test if none was issued."""
    response = await request_credential(client, **overrides)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["outcome"] == "issued", body
    return body


def key_header(credential: str) -> dict[str, str]:
    return {"x-ws-api-key": credential}


async def key_with(
    client: httpx.AsyncClient, *scopes: str, organization: str = "Example Energy Co"
) -> dict[str, str]:
    """Headers with a key holding ``scopes``; each organization gets an e-mail of its own, so
    tests that need several keys stay inside the per-organization and per-e-mail quotas."""
    slug = re.sub(r"[^a-z]+", "-", organization.lower()).strip("-")
    issued = await issue_credential(
        client,
        requested_scopes=list(scopes),
        organization_name=organization,
        user_email=f"developer@{slug}.example.com",
    )
    return key_header(issued["credential"])

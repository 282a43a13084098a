"""Request bodies and helpers shared by the tests (factories, not fixture chains)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.support.catalog import E_TOU_C

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


async def create_home(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    *,
    plan: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Create a home for the key in ``headers`` and return it; fails the test unless 201.

    Named "My Test Home" unless ``name`` is given, on rate plan ``plan`` when given; any other
    ClientHome field as given (camelCase, as on the wire).
    """
    body = {"name": "My Test Home", **({"ratePlanId": plan} if plan else {}), **fields}
    response = await client.post("/v1/homes/create", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def new_home(
    client: httpx.AsyncClient,
    *scopes: str,
    plan: str | None = E_TOU_C,
    organization: str = "Example Energy Co",
    **fields: Any,
) -> tuple[str, dict[str, str]]:
    """A new key holding ``scopes`` ("homes" and "calculate" when none are named) and a home of
    its own on ``plan`` (E-TOU-C unless given; ``None``: no plan): (home id, key headers)."""
    headers = await key_with(client, *(scopes or ("homes", "calculate")), organization=organization)
    created = await create_home(client, headers, plan=plan, **fields)
    return str(created["id"]), headers

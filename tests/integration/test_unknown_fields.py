"""The storable-value rule covers the body as sent: an unknown field (ignored, never stored)
holding NaN, an infinity, a lone surrogate or NUL is refused like a known one, 400
``VALIDATION_FAILED`` naming its JSON path, on every route that reads a body, both backends."""

from __future__ import annotations

import httpx
import pytest

from agentkeys.config import Settings
from tests.support.admin import create_admin_key
from tests.support.app import AppFactory, client_for
from tests.support.assertions import assert_validation_failed
from tests.support.catalog import E_TOU_C
from tests.support.factories import issue_credential, key_header

# What a backend can store is the point: both backends.
pytestmark = pytest.mark.both_backends

# (raw JSON of the unknown field's value, the path named)
HOSTILE_UNKNOWN_FIELDS = [
    ('{"deep": [1, NaN]}', "extraField.deep[1]"),
    ('{"deep": [1, 2, 3, Infinity]}', "extraField.deep[3]"),
    ("[-Infinity]", "extraField[0]"),
    ("1e999", "extraField"),
    ('{"note": "a\\ud800"}', "extraField.note"),
    ('[["\\udfff"]]', "extraField[0][0]"),
    ('{"nul": "a\\u0000"}', "extraField.nul"),
    ('{"bad\\ud800key": 1}', "extraField"),
]
# Deeper than any free-form field may nest: an unknown field is walked all the way down.
DEEP = "[" * 20 + "NaN" + "]" * 20


def body_routes(app: object) -> list[str]:
    """``METHOD path`` of every operation the OpenAPI description gives a JSON request body
    (RFC 7662 introspection's is form-encoded: no JSON values to walk)."""
    spec = app.openapi()  # type: ignore[attr-defined]
    return sorted(
        path
        for path, operations in spec["paths"].items()
        for operation in operations.values()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    )


def test_every_body_route_is_walked_here(make_app: AppFactory) -> None:
    assert body_routes(make_app()) == sorted(ROUTES + ADMIN_ROUTES + WEBHOOK_ROUTES)


ROUTES = [
    "/v1/agent-credentials",
    "/v1/agent-credentials/{credentialId}/revoke",
    "/v1/agent-credentials/leaked",
    "/v1/feedback",
    "/v1/utility/get",
    "/v1/homes/create",
    "/v1/homes/solar/create",
    "/v1/homes/list",
    "/v1/homes/{id}/update",
    "/v1/homes/{id}/bill/monthly",
    "/v1/homes/{id}/bill/period",
    "/v1/homes/bill/period/rateplan/{ratePlanId}",
    "/v1/homes/bill/period",
    "/v1/homes/{id}/calculate/impact",
    "/v1/calculate/impact",
    "/v1/homes/{id}/price_signal",
    "/v1/homes/{id}/price_signal/open_adr",
    "/v1/homes/{id}/battery/estimate_savings",
]

# Sent with an admin key (role admin).
ADMIN_ROUTES = [
    "/v1/admin/credentials/revoke",
    "/v1/admin/credentials/{credentialId}/revoke",
    "/v1/keys/verify",
]
# Sent with an admin key: create and update.
WEBHOOK_ROUTES = ["/v1/admin/webhooks", "/v1/admin/webhooks/{endpointId}/update"]


async def test_hostile_unknown_fields_are_refused_by_path_on_the_webhook_routes(
    make_app: AppFactory, settings: Settings
) -> None:
    app = make_app(webhooks_allow_private=True)
    _, admin_key = await create_admin_key(settings, "walker")
    headers = {"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"}
    async with client_for(app) as client:
        created = await client.post(
            "/v1/admin/webhooks",
            headers=headers,
            json={"url": "http://127.0.0.1:9/", "events": ["credential.issued"]},
        )
        assert created.status_code == 201, created.text
        one = "/v1/admin/webhooks/" + created.json()["endpoint_id"]
        for method, url in (("POST", "/v1/admin/webhooks"), ("POST", one + "/update")):
            for value, field in [*HOSTILE_UNKNOWN_FIELDS, (DEEP, "extraField" + "[0]" * 20)]:
                response = await client.request(
                    method, url, headers=headers, content='{"extraField": ' + value + "}"
                )
                assert_validation_failed(response, field)
        listed = await client.get("/v1/admin/webhooks", headers=headers)
        assert len(listed.json()["items"]) == 1  # nothing created by the refused bodies


async def test_hostile_unknown_fields_are_refused_by_path_on_every_admin_body_route(
    make_app: AppFactory, settings: Settings
) -> None:
    app = make_app()
    _, admin_key = await create_admin_key(settings, "walker")
    async with client_for(app) as client:
        holder = await issue_credential(client)
        headers = {"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"}
        for route in ADMIN_ROUTES:
            url = route.format(credentialId=holder["credential_id"])
            for value, field in [*HOSTILE_UNKNOWN_FIELDS, (DEEP, "extraField" + "[0]" * 20)]:
                response = await client.post(
                    url, headers=headers, content='{"extraField": ' + value + "}"
                )
                assert_validation_failed(response, field)
        # Nothing was revoked by the refused bodies.
        self_view = await client.get(
            "/v1/agent-credentials/self", headers=key_header(str(holder["credential"]))
        )
        assert self_view.status_code == 200, self_view.text


async def test_hostile_unknown_fields_are_refused_by_path_on_every_body_route(
    make_app: AppFactory,
) -> None:
    app = make_app()
    scopes = sorted(app.state.context.policy.catalog.scopes)
    async with client_for(app) as client:
        holder = await issue_credential(client, requested_scopes=scopes)
        headers = {**key_header(str(holder["credential"])), "Content-Type": "application/json"}
        home = await client.post(
            "/v1/homes/create", headers=headers, json={"name": "H", "zipcode": "94107"}
        )
        assert home.status_code == 201, home.text
        for route in ROUTES:
            url = route.format(
                id=home.json()["id"],
                credentialId=holder["credential_id"],
                ratePlanId=E_TOU_C,
            )
            for value, field in [*HOSTILE_UNKNOWN_FIELDS, (DEEP, "extraField" + "[0]" * 20)]:
                response = await client.post(
                    url, headers=headers, content='{"extraField": ' + value + "}"
                )
                assert_validation_failed(response, field)
        # Nothing was revoked or stored by the refused bodies.
        self_view = await client.get("/v1/agent-credentials/self", headers=headers)
        assert self_view.status_code == 200, self_view.text
        homes = await client.post("/v1/homes/list", headers=headers)
        assert len(homes.json()) == 1


@pytest.mark.parametrize(("value", "field"), HOSTILE_UNKNOWN_FIELDS[:3])
async def test_an_unknown_field_is_named_beside_a_valid_body(
    client: httpx.AsyncClient, value: str, field: str
) -> None:
    """A body otherwise accepted (issuance) is refused for its unknown field alone."""
    response = await client.post(
        "/v1/agent-credentials",
        headers={"Content-Type": "application/json"},
        content=(
            '{"organization_name": "Example Energy Co", "user_name": "Ada",'
            ' "assignment": "Prototype bill impact calculations for a customer dashboard",'
            ' "requested_scopes": ["utility:read"], "extraField": ' + value + "}"
        ),
    )
    assert_validation_failed(response, field)


async def test_storable_unknown_fields_are_still_ignored(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/agent-credentials",
        json={
            "organization_name": "Example Energy Co",
            "user_name": "Ada",
            "assignment": "Prototype bill impact calculations for a customer dashboard",
            "requested_scopes": ["utility:read"],
            "extraField": {"deep": [[[[[[[[[[[[1.5, "text"]]]]]]]]]]]]},
        },
    )
    assert response.status_code == 200, response.text
    assert "extraField" not in response.text

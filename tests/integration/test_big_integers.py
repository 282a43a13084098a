"""An integer literal too long for Python to convert (over ``sys.int_max_str_digits``) is a
400 ``VALIDATION_FAILED`` naming its field on every route, not "error parsing the body"."""

from __future__ import annotations

import json

import httpx

from agentkeys.api.deps import JsonBodyRoute
from tests.support.app import AppFactory
from tests.support.assertions import assert_validation_failed
from tests.support.factories import SEED_REQUEST, issue_credential, key_header, key_with
from tests.unit.test_api_wiring import api_routes

HUGE = "9" * 5000


def with_raw(document: dict[str, object], **raw: str) -> bytes:
    """``document`` as JSON, plus fields whose values are written as given (raw literals)."""
    fields = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in document.items() if k not in raw]
    fields += [f"{json.dumps(k)}: {v}" for k, v in raw.items()]
    return ("{" + ", ".join(fields) + "}").encode()


async def post(
    client: httpx.AsyncClient, path: str, body: bytes, headers: dict[str, str] | None = None
) -> httpx.Response:
    return await client.post(
        path, content=body, headers={"content-type": "application/json", **(headers or {})}
    )


class TestEveryBodyRoute:
    async def test_credential_request(self, client: httpx.AsyncClient) -> None:
        body = with_raw(SEED_REQUEST, requested_ttl_seconds=HUGE)
        response = await post(client, "/v1/agent-credentials", body)

        envelope = assert_validation_failed(response, "requested_ttl_seconds")
        assert "at most 4300 digits (this has 5000)" in envelope["field_errors"][0]["message"]

    async def test_revocation_reason(self, client: httpx.AsyncClient) -> None:
        issued = await issue_credential(client)
        response = await post(
            client,
            issued["revocation_path"],
            with_raw({}, reason=HUGE),
            key_header(issued["credential"]),
        )

        assert_validation_failed(response, "reason")

    async def test_nested_in_free_form_json(self, client: httpx.AsyncClient) -> None:
        headers = await key_with(client, "homes:write")
        body = with_raw({"name": "h"}, solarInfo=f'{{"panels": [1, -{HUGE}]}}')
        response = await post(client, "/v1/homes/create", body, headers)

        assert_validation_failed(response, "solarInfo.panels[1]")

    async def test_feedback(self, client: httpx.AsyncClient) -> None:
        headers = await key_with(client, "feedback:write")
        body = with_raw({"name": "n", "message": "m"}, sanitized_evidence=f"[{HUGE}]")
        response = await post(client, "/v1/feedback", body, headers)

        assert_validation_failed(response, "sanitized_evidence[0]")

    async def test_the_longest_convertible_integer_is_read_as_usual(
        self, client: httpx.AsyncClient
    ) -> None:
        body = with_raw(SEED_REQUEST, requested_ttl_seconds="9" * 4300)
        response = await post(client, "/v1/agent-credentials", body)

        assert response.status_code == 200
        assert "TTL exceeded the maximum" in response.json()["next_steps"]


def test_every_route_reads_bodies_through_the_bounded_decoder(make_app: AppFactory) -> None:
    routes = list(api_routes(make_app().routes))

    assert routes
    assert [route.path for route in routes if not isinstance(route, JsonBodyRoute)] == []

"""The OpenAPI description uses the seed's schema names and documents every error answer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.app import AppFactory, client_for

SEED_SCHEMAS = {
    "CreateAgentCredentialRequestDto",
    "AgentCredentialResponseDto",
    "AgentCredentialRevocationResponseDto",
    "ApiErrorEnvelopeDto",
}


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


class TestOpenApi:
    async def test_seed_schema_names_are_used(self, openapi: dict[str, Any]) -> None:
        assert set(openapi["components"]["schemas"]) >= SEED_SCHEMAS

    async def test_request_schema_carries_the_seed_limits(self, openapi: dict[str, Any]) -> None:
        schema = openapi["components"]["schemas"]["CreateAgentCredentialRequestDto"]
        properties = schema["properties"]

        assert set(schema["required"]) == {
            "organization_name",
            "user_name",
            "assignment",
            "requested_scopes",
        }
        assert properties["assignment"]["minLength"] == 10
        assert properties["assignment"]["maxLength"] == 4000
        assert properties["requested_scopes"]["maxItems"] == 20
        assert properties["requested_environment"]["default"] == "sandbox"

    async def test_issuance_operation_is_unauthenticated_and_answers_the_response_dto(
        self, openapi: dict[str, Any]
    ) -> None:
        operation = openapi["paths"]["/v1/agent-credentials"]["post"]

        assert "security" not in operation
        ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok["$ref"].endswith("/AgentCredentialResponseDto")

    async def test_every_operation_documents_its_errors_in_the_envelope(
        self, openapi: dict[str, Any]
    ) -> None:
        for path, operations in openapi["paths"].items():
            for method, operation in operations.items():
                errors = {
                    status: response
                    for status, response in operation["responses"].items()
                    if status.startswith(("4", "5")) and status != "422"
                }
                assert errors, f"{method} {path} documents no error"
                assert "422" not in operation["responses"], f"{method} {path} documents 422"
                for status, response in errors.items():
                    schema = response["content"]["application/json"]["schema"]
                    assert schema["$ref"].endswith("/ApiErrorEnvelopeDto"), (method, path, status)

    async def test_guarded_routes_document_401(self, openapi: dict[str, Any]) -> None:
        for path in ("/v1/agent-credentials/self", "/v1/feedback"):
            (operation,) = openapi["paths"][path].values()
            assert "401" in operation["responses"], path
            assert operation["security"] == [{"WattShiftApiKey": []}], path
        # Revocation takes the credential's own key, or an operator's admin key (CONTRACT §2).
        (revoke,) = openapi["paths"]["/v1/agent-credentials/{credentialId}/revoke"].values()
        assert revoke["security"] == [{"WattShiftApiKey": []}, {"AdminKey": []}]
        scheme = openapi["components"]["securitySchemes"]["WattShiftApiKey"]
        assert scheme == {
            "type": "apiKey",
            "in": "header",
            "name": "x-ws-api-key",
            "description": scheme["description"],
        }

    async def test_rate_limited_routes_document_429(self, openapi: dict[str, Any]) -> None:
        for path in ("/v1/agent-credentials/self", "/v1/feedback"):
            (operation,) = openapi["paths"][path].values()
            assert "429" in operation["responses"], path

    async def test_revocation_body_schema_is_described(self, openapi: dict[str, Any]) -> None:
        operation = openapi["paths"]["/v1/agent-credentials/{credentialId}/revoke"]["post"]
        reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        name = reference.rsplit("/", 1)[1]

        reason = openapi["components"]["schemas"][name]["properties"]["reason"]
        assert {"maxLength": 255, "type": "string"} in reason["anyOf"]

    async def test_interactive_docs_are_served(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/docs")

        assert response.status_code == 200
        assert "swagger" in response.text.lower()


class TestTransportAnswers:
    """The transport's answers (405, 408, 413, 415, 431) are documented on every operation,
    /healthz included, with this server's limits."""

    async def test_every_operation_documents_them(self, openapi: dict[str, Any]) -> None:
        for path, operations in openapi["paths"].items():
            for method, operation in operations.items():
                missing = {"405", "408", "413", "415", "431"} - set(operation["responses"])
                assert not missing, (method, path, missing)

    async def test_the_limits_are_this_server_s(self, make_app: AppFactory) -> None:
        app = make_app(max_body_bytes=12345, max_header_bytes=23456, body_timeout_seconds=7)
        async with client_for(app) as client:
            described = (await client.get("/openapi.json")).json()

        responses = described["paths"]["/v1/feedback"]["post"]["responses"]
        assert "12345 bytes" in responses["413"]["description"]
        assert "23456 bytes" in responses["431"]["description"]
        assert "7 s" in responses["408"]["description"]
        assert "at most 12345 bytes (else 413)" in described["info"]["description"]

    async def test_healthz_answers_405_as_documented(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/healthz")

        assert response.status_code == 405
        assert response.json()["error_code"] == "METHOD_NOT_ALLOWED"

"""The OpenAPI description: the seed's schema names, every error answer, and a document complete
enough for an agent or an SDK generator alone (operationIds, scopes, descriptions, examples,
required fields, offline /docs and /redoc)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from openapi_spec_validator import validate

from agentkeys.api.app import ROUTERS
from tests.support.app import AppFactory, client_for
from tests.support.catalog import E_TOU_C
from tests.support.factories import create_home, key_with

SEED_SCHEMAS = {
    "CreateAgentCredentialRequestDto",
    "AgentCredentialResponseDto",
    "AgentCredentialRevocationResponseDto",
    "ApiErrorEnvelopeDto",
}


# WattShift's own operationIds (docs/wattshift-sandbox-reference.md; createHome is named in its
# removeHome description): an SDK generated from either document has the same method names.
WATTSHIFT_OPERATION_IDS = {
    ("post", "/v1/agent-credentials"): "requestAgentSandboxCredential",
    ("post", "/v1/utility/get"): "getUtility",
    ("post", "/v1/homes/create"): "createHome",
    ("post", "/v1/homes/{id}/update"): "ClientHomeCompositeAuthController_updateHome_v1",
    ("post", "/v1/homes/{id}/remove"): "removeHome",
    ("post", "/v1/homes/bill/period"): "calculatePeriodBillWithHome",
    ("post", "/v1/homes/{id}/price_signal"): "getHomePriceSignal",
    ("post", "/v1/homes/{id}/battery/estimate_savings"): "estimateBatterySavings",
    ("post", "/v1/feedback"): "submitFeedback",
}
# The scope each sandbox route needs, as CONTRACT.md §7 tables them (and the shipped policy).
SCOPE_OF = {
    "/v1/utility/get": ["utility:read"],
    "/v1/homes/create": ["homes:write"],
    "/v1/homes/{id}/update": ["homes:write"],
    "/v1/homes/{id}/remove": ["homes:write"],
    "/v1/homes/list": ["homes:read"],
    "/v1/homes/{id}/get": ["homes:read"],
    "/v1/homes/{id}/bill/monthly": ["bill_impact:read"],
    "/v1/homes/{id}/bill/period": ["bill_impact:read"],
    "/v1/homes/bill/period/rateplan/{ratePlanId}": ["bill_impact:read"],
    "/v1/homes/{id}/price_signal": ["price_signal:read"],
    "/v1/homes/{id}/battery/estimate_savings": ["battery:estimate"],
    "/v1/feedback": ["feedback:write"],
    "/v1/agent-credentials": [],
    "/v1/agent-credentials/self": [],
}


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


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
                    if status.startswith(("4", "5"))
                }
                assert errors, f"{method} {path} documents no error"
                # FastAPI's own 422 never; ours (in the envelope) where an Idempotency-Key
                # reused with another body is refused.
                headers = [
                    p["name"] for p in operation.get("parameters", []) if p["in"] == "header"
                ]
                if "Idempotency-Key" not in headers:
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


class TestOfflineDocs:
    """/docs and /redoc load nothing from another host: every asset comes from this server."""

    @pytest.mark.parametrize(
        ("page", "assets"),
        [
            (
                "/docs",
                {
                    "/docs/assets/swagger-ui-bundle.js",
                    "/docs/assets/swagger-ui.css",
                    "/docs/assets/favicon.png",
                    "/openapi.json",
                },
            ),
            (
                "/redoc",
                {"/docs/assets/redoc.standalone.js", "/docs/assets/favicon.png", "/openapi.json"},
            ),
        ],
    )
    async def test_every_asset_a_page_references_is_served_here(
        self, client: httpx.AsyncClient, page: str, assets: set[str]
    ) -> None:
        html = (await client.get(page)).text
        referenced = set(
            re.findall(r"""(?:src|href|url|spec-url)\s*[=:]\s*["']([^"']+)["']""", html)
        )

        assert not re.search(r"https?://", html), "an external URL in the page"
        assert referenced == assets
        for asset in referenced:
            response = await client.get(asset)
            assert response.status_code == 200, asset
            assert len(response.content) > 1000, asset

    async def test_assets_have_their_media_types(self, client: httpx.AsyncClient) -> None:
        script = await client.get("/docs/assets/swagger-ui-bundle.js")
        style = await client.get("/docs/assets/swagger-ui.css")

        assert script.headers["content-type"].startswith("text/javascript")
        assert style.headers["content-type"].startswith("text/css")
        assert "max-age" in script.headers["cache-control"]

    @pytest.mark.parametrize("name", ["core.py", "..%2F__init__.py", "nothing.js"])
    async def test_no_other_file_is_served(self, client: httpx.AsyncClient, name: str) -> None:
        response = await client.get(f"/docs/assets/{name}")

        assert response.status_code == 404
        assert response.json()["error_code"] == "NOT_FOUND"


class TestCompleteDocument:
    """Issue 12: a document an agent or an SDK generator can rely on alone."""

    async def test_it_is_a_valid_openapi_document(self, openapi: dict[str, Any]) -> None:
        validate(openapi)  # raises, naming the first violation

    async def test_every_field_and_parameter_is_described(self, openapi: dict[str, Any]) -> None:
        undescribed = [
            f"{name}.{field}"
            for name, schema in openapi["components"]["schemas"].items()
            for field, described in schema.get("properties", {}).items()
            if not described.get("description")
        ]
        undescribed += [
            f"{operation['operationId']}({parameter['name']})"
            for _, _, operation in operations(openapi)
            for parameter in operation.get("parameters", [])
            if not parameter.get("description")
        ]
        assert undescribed == []

    def test_every_route_names_its_operation_id_explicitly(self) -> None:
        implicit = [
            route.path
            for router in ROUTERS
            for route in router.routes
            if isinstance(route, APIRoute) and route.include_in_schema and not route.operation_id
        ]
        assert implicit == []

    async def test_operation_ids_are_unique_camel_case_or_wattshift_s(
        self, openapi: dict[str, Any]
    ) -> None:
        ids = [operation["operationId"] for _, _, operation in operations(openapi)]

        assert len(ids) == len(set(ids))
        wattshift = set(WATTSHIFT_OPERATION_IDS.values())
        for operation_id in set(ids) - wattshift:
            assert re.fullmatch(r"[a-z][A-Za-z0-9]*", operation_id), operation_id

    async def test_wattshift_s_operation_ids_are_used(self, openapi: dict[str, Any]) -> None:
        for (method, path), operation_id in WATTSHIFT_OPERATION_IDS.items():
            assert openapi["paths"][path][method]["operationId"] == operation_id, path

    async def test_each_operation_states_its_required_scopes(self, openapi: dict[str, Any]) -> None:
        for method, path, operation in operations(openapi):
            assert "x-required-scopes" in operation, (method, path)
            assert "**Required scope:**" in operation["description"], (method, path)
        for path, scopes in SCOPE_OF.items():
            (operation,) = openapi["paths"][path].values()
            assert operation["x-required-scopes"] == scopes, path
            for scope in scopes:
                assert f"`{scope}`" in operation["description"], path

    async def test_a_coarse_scope_is_named_where_it_grants_the_route(
        self, openapi: dict[str, Any]
    ) -> None:
        create = openapi["paths"]["/v1/homes/create"]["post"]["description"]
        battery = openapi["paths"]["/v1/homes/{id}/battery/estimate_savings"]["post"]
        # homes = homes:read + homes:write; calculate = bill_impact:read + battery:estimate.
        assert "`homes:write` or `homes`" in create
        assert "`battery:estimate` or `calculate`" in battery["description"]

    async def test_the_scope_catalog_is_in_the_document(self, openapi: dict[str, Any]) -> None:
        catalog = openapi["info"]["x-scopes"]

        assert set(catalog) == {
            "utility:read",
            "homes:read",
            "homes:write",
            "price_signal:read",
            "bill_impact:read",
            "battery:estimate",
            "feedback:write",
            "homes",
            "calculate",
        }
        for name, entry in catalog.items():
            assert entry["description"], name
        assert catalog["homes"]["includes"] == ["homes:read", "homes:write"]
        assert "getUtility" in catalog["utility:read"]["operations"]
        assert "estimateBatterySavings" in catalog["calculate"]["operations"]
        scheme = openapi["components"]["securitySchemes"]["WattShiftApiKey"]["description"]
        assert "| `feedback:write` | Send feedback to the API team. |" in scheme
        assert "| `homes` | Alias: `homes:read`, `homes:write`. |" in openapi["info"]["description"]

    @pytest.mark.parametrize(
        ("schema", "always_present"),
        [
            ("AgentCredentialResponseDto", {"outcome", "environment", "production_access"}),
            ("AgentCredentialRevocationResponseDto", {"outcome", "production_access"}),
            ("FeedbackReceivedDto", {"received"}),
        ],
    )
    async def test_fields_always_present_are_required(
        self, openapi: dict[str, Any], schema: str, always_present: set[str]
    ) -> None:
        assert always_present <= set(openapi["components"]["schemas"][schema]["required"])

    async def test_answers_written_whole_require_every_field(self, openapi: dict[str, Any]) -> None:
        schemas = openapi["components"]["schemas"]
        for name in ("ClientHomeDto", "BillResponseDto", "AgentCredentialSelfResponseDto"):
            assert set(schemas[name]["required"]) == set(schemas[name]["properties"]), name
        # The issuance answer omits what its outcome does not carry; requests keep defaults.
        issued_only = {"credential", "credential_id", "expires_at", "retry_after_seconds"}
        assert not issued_only & set(schemas["AgentCredentialResponseDto"]["required"])
        assert "detailLevel" not in schemas["UtilityRequestDTO"].get("required", [])
        assert "recovery_action" not in schemas["ApiErrorEnvelopeDto"]["required"]


class TestExamples:
    """Every request body has an example, and every example is a request this server grants:
    an agent copying one gets an answer, not a 400."""

    async def test_every_request_body_has_an_example(self, openapi: dict[str, Any]) -> None:
        for method, path, operation in operations(openapi):
            if "requestBody" in operation:
                # JSON, but RFC 7662's form-encoded introspection.
                for content in operation["requestBody"]["content"].values():
                    assert content.get("examples") or content.get("example"), (method, path)

    async def test_each_credential_outcome_has_its_example(self, openapi: dict[str, Any]) -> None:
        ok = openapi["paths"]["/v1/agent-credentials"]["post"]["responses"]["200"]
        examples = ok["content"]["application/json"]["examples"]
        by_outcome: dict[str, set[str]] = {}
        for example in examples.values():
            answer = example["value"]
            shape = {
                name
                for name in ("missing_fields", "unknown_scopes", "unclear_fields")
                if answer.get(name)
            }
            by_outcome.setdefault(answer["outcome"], set()).update(shape)
            # What the contract says every answer holds.
            assert answer["environment"] == "sandbox"
            assert answer["production_access"] is False

        assert set(by_outcome) == {"issued", "needs_more_info", "rate_limited", "production_denied"}
        # Each needs_more_info shape: a missing field, an unknown scope, an unclear field.
        assert by_outcome["needs_more_info"] == {
            "missing_fields",
            "unknown_scopes",
            "unclear_fields",
        }

    async def test_every_error_answer_has_example_envelopes(self, openapi: dict[str, Any]) -> None:
        for method, path, operation in operations(openapi):
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and "/decisions/export" not in path:
                    examples = response["content"]["application/json"]["examples"]
                    for example in examples.values():
                        name = example["$ref"].removeprefix("#/components/examples/")
                        envelope = openapi["components"]["examples"][name]["value"]
                        assert {"request_id", "error_code", "message"} <= set(envelope)
                        assert envelope["error_code"] in response["description"] or (
                            status == "405"
                        ), (method, path, status)

    async def test_every_sandbox_example_is_granted(
        self, client: httpx.AsyncClient, openapi: dict[str, Any]
    ) -> None:
        headers = await key_with(
            client,
            "utility:read",
            "homes",
            "price_signal:read",
            "calculate",
            "feedback:write",
        )
        home = await create_home(client, headers, plan=E_TOU_C, zipcode="94107")
        tried = 0
        for method, path, operation in operations(openapi):
            if not path.startswith(("/v1/homes", "/v1/utility", "/v1/calculate", "/v1/feedback")):
                continue
            if path == "/v1/homes/{id}/remove" or "requestBody" not in operation:
                continue
            url = path.replace("{id}", home["id"]).replace("{ratePlanId}", E_TOU_C)
            content = operation["requestBody"]["content"]["application/json"]
            for name, example in content["examples"].items():
                body = example["value"]
                if "homeId" in body:  # the legacy solar route names the home in its body
                    body = {**body, "homeId": home["id"]}
                response = await client.request(method, url, json=body, headers=headers)
                assert response.status_code in {200, 201}, (path, name, response.text)
                tried += 1
        # 15 sandbox operations take a body, 6 of them with two examples: 15 + 6 = 21 requests.
        assert tried == 21

    async def test_credential_request_examples_are_issued(
        self, client: httpx.AsyncClient, openapi: dict[str, Any]
    ) -> None:
        operation = openapi["paths"]["/v1/agent-credentials"]["post"]
        for name, example in operation["requestBody"]["content"]["application/json"][
            "examples"
        ].items():
            response = await client.post("/v1/agent-credentials", json=example["value"])
            assert response.json()["outcome"] == "issued", (name, response.text)


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

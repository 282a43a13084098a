"""Every limit of ``POST /v1/agent-credentials`` through HTTP (CONTRACT §1, §5): the accepted
side of each limit answers 200 with a decision and no ``field_errors``, and what the policy then
decides. The refused side of each schema rule is proven on the request model in
``tests/unit/test_credential_request_schema.py``; the tests at the end keep the envelope honest
(400 ``VALIDATION_FAILED``, its request id, the same field paths and messages as the model).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from agentkeys.credentials.scopes import Scope
from tests.support.app import START
from tests.support.assertions import (
    VALID_EMAILS,
    assert_envelope,
    assert_request_id,
    assert_validation_failed,
    text,
)
from tests.support.factories import credential_request
from tests.unit.test_credential_request_schema import SEVERAL_FAILING, schema_errors

ROUTE = "/v1/agent-credentials"
DESCRIPTIVE_TEXT = "Prototype bill impact calculations for a customer dashboard. "
# Every scope, then the shipped policy's aliases.
KNOWN_SCOPES: list[str] = [*Scope, "homes", "calculate"]
OPTIONAL_TEXT_MAXIMUMS = {
    "agent": 128,
    "client": 128,
    "use_case": 128,
    "device_segment": 128,
    "project": 128,
    "company": 255,
}
OPTIONAL_FIELDS = [
    "agent",
    "client",
    "tech_stack",
    "use_case",
    "device_segment",
    "project",
    "company",
    "docs_context",
    "requested_ttl_seconds",
    "requested_environment",
]


def uri_of_length(length: int) -> str:
    prefix = "https://docs.example.com/"
    return prefix + text(length - len(prefix), "p")


def with_values(**values: Any) -> dict[str, Any]:
    """The seed body with fields set to exactly these values, ``None`` sent as JSON ``null``."""
    return {**credential_request(), **values}


async def post_body(client: httpx.AsyncClient, body: Any) -> httpx.Response:
    return await client.post(ROUTE, json=body)


async def post_raw(client: httpx.AsyncClient, content: bytes) -> httpx.Response:
    return await client.post(ROUTE, content=content, headers={"Content-Type": "application/json"})


def assert_decided(response: httpx.Response) -> dict[str, Any]:
    """200 with a decision: the body passed validation."""
    assert response.status_code == 200, response.text
    decision: dict[str, Any] = response.json()
    assert "field_errors" not in decision
    assert "error_code" not in decision
    assert decision["outcome"] in {"issued", "needs_more_info", "rate_limited", "production_denied"}
    assert decision["request_id"] == assert_request_id(response)
    return decision


def assert_issued(response: httpx.Response) -> dict[str, Any]:
    decision = assert_decided(response)
    assert decision["outcome"] == "issued", decision
    return decision


class TestOrganizationName:
    @pytest.mark.parametrize("length", [1, 255])
    async def test_1_and_255_characters_are_accepted(
        self, client: httpx.AsyncClient, length: int
    ) -> None:
        assert_issued(await post_body(client, with_values(organization_name=text(length))))


class TestUserName:
    @pytest.mark.parametrize("length", [1, 255])
    async def test_1_and_255_characters_are_accepted(
        self, client: httpx.AsyncClient, length: int
    ) -> None:
        assert_issued(await post_body(client, with_values(user_name=text(length))))


class TestAssignment:
    async def test_10_characters_are_accepted_and_judged_by_the_policy(
        self, client: httpx.AsyncClient
    ) -> None:
        # Ten characters cannot hold three distinct words of three letters: the policy, not
        # validation, asks for more.
        decision = assert_decided(await post_body(client, with_values(assignment="Build a UI")))
        assert decision["outcome"] == "needs_more_info"
        assert decision["unclear_fields"] == ["assignment"]
        assert decision["missing_fields"] == []

    async def test_4000_characters_are_accepted(self, client: httpx.AsyncClient) -> None:
        assignment = text(4000, DESCRIPTIVE_TEXT)
        assert_issued(await post_body(client, with_values(assignment=assignment)))


class TestRequestedScopes:
    async def test_1_element_is_accepted(self, client: httpx.AsyncClient) -> None:
        issued = assert_issued(await post_body(client, with_values(requested_scopes=["homes"])))
        assert issued["scopes"] == ["homes"]

    async def test_20_elements_are_accepted(self, client: httpx.AsyncClient) -> None:
        scopes = [KNOWN_SCOPES[i % len(KNOWN_SCOPES)] for i in range(20)]
        issued = assert_issued(await post_body(client, with_values(requested_scopes=scopes)))
        assert issued["scopes"] == KNOWN_SCOPES

    async def test_an_item_of_128_characters_is_accepted(self, client: httpx.AsyncClient) -> None:
        # Not in the catalog, so the policy names it: proof it passed validation unchanged.
        scope = text(128, "s")
        decision = assert_decided(
            await post_body(client, with_values(requested_scopes=["homes", scope]))
        )
        assert decision["outcome"] == "needs_more_info"
        assert decision["unknown_scopes"] == [scope]


class TestOptionalTextFields:
    @pytest.mark.parametrize(
        ("field", "length"),
        [
            (field, length)
            for field, maximum in OPTIONAL_TEXT_MAXIMUMS.items()
            for length in (0, maximum)
        ],
    )
    async def test_empty_and_maximum_lengths_are_accepted(
        self, client: httpx.AsyncClient, field: str, length: int
    ) -> None:
        assert_issued(await post_body(client, with_values(**{field: text(length)})))


class TestTechStack:
    @pytest.mark.parametrize("count", [0, 20])
    async def test_0_and_20_items_are_accepted(self, client: httpx.AsyncClient, count: int) -> None:
        stack = [f"tool-{i}" for i in range(count)]
        assert_issued(await post_body(client, with_values(tech_stack=stack)))

    async def test_an_item_of_64_characters_is_accepted(self, client: httpx.AsyncClient) -> None:
        assert_issued(await post_body(client, with_values(tech_stack=["node", text(64)])))


class TestUserEmail:
    @pytest.mark.parametrize("email", VALID_EMAILS)
    async def test_valid_syntax_is_accepted(self, client: httpx.AsyncClient, email: str) -> None:
        assert_issued(await post_body(client, with_values(user_email=email)))


class TestRequestedEnvironment:
    async def test_sandbox_is_accepted(self, client: httpx.AsyncClient) -> None:
        issued = assert_issued(
            await post_body(client, with_values(requested_environment="sandbox"))
        )
        assert issued["environment"] == "sandbox"

    async def test_production_is_accepted_and_denied_by_the_policy(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await post_body(client, with_values(requested_environment="production"))
        decision = assert_decided(response)
        assert decision["outcome"] == "production_denied"
        assert decision["production_access"] is False

    async def test_absence_defaults_to_sandbox(self, client: httpx.AsyncClient) -> None:
        response = await post_body(client, credential_request(requested_environment=None))
        assert assert_issued(response)["environment"] == "sandbox"


class TestRequestedTtlSeconds:
    async def test_1_is_accepted(self, client: httpx.AsyncClient) -> None:
        issued = assert_issued(await post_body(client, with_values(requested_ttl_seconds=1)))
        assert issued["expires_at"] == "2026-03-01T12:00:01.000Z"


class TestDocsContext:
    @pytest.mark.parametrize(
        "uri",
        [
            "https://docs.example.com/agent-credentials",
            "http://example.com",
            "HTTPS://Docs.Example.com/guide?topic=bill%20impact#scopes",
            uri_of_length(2048),
        ],
        ids=["https", "http", "mixed-case-with-query", "2048-characters"],
    )
    async def test_absolute_http_and_https_uris_are_accepted(
        self, client: httpx.AsyncClient, uri: str
    ) -> None:
        assert_issued(await post_body(client, with_values(docs_context=uri)))


class TestNullValues:
    @pytest.mark.parametrize("field", OPTIONAL_FIELDS)
    async def test_null_in_an_optional_field_means_absent(
        self, client: httpx.AsyncClient, field: str
    ) -> None:
        assert_issued(await post_body(client, with_values(**{field: None})))

    async def test_null_ttl_grants_the_default_ttl(self, client: httpx.AsyncClient) -> None:
        issued = assert_issued(await post_body(client, with_values(requested_ttl_seconds=None)))
        expected = START + timedelta(seconds=86400)
        assert issued["expires_at"] == expected.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    async def test_null_user_email_is_answered_as_its_absence(
        self, client: httpx.AsyncClient
    ) -> None:
        null = assert_decided(await post_body(client, with_values(user_email=None)))
        absent = assert_decided(await post_body(client, credential_request(user_email=None)))
        assert null["outcome"] == absent["outcome"] == "needs_more_info"
        assert null["missing_fields"] == absent["missing_fields"] == ["user_email"]


class TestUnicodeLengths:
    @pytest.mark.parametrize("unit", ["é", "😀", "日"])
    async def test_255_non_ascii_code_points_are_accepted_in_organization_name(
        self, client: httpx.AsyncClient, unit: str
    ) -> None:
        assert_issued(await post_body(client, with_values(organization_name=unit * 255)))

    async def test_255_code_points_with_combining_marks_are_accepted(
        self, client: httpx.AsyncClient
    ) -> None:
        user_name = "e\u0301" * 127 + "e"
        assert_issued(await post_body(client, with_values(user_name=user_name)))

    async def test_128_emoji_are_accepted_and_129_refused_in_agent(
        self, client: httpx.AsyncClient
    ) -> None:
        assert_issued(await post_body(client, with_values(agent="🤖" * 128)))
        assert_validation_failed(await post_body(client, with_values(agent="🤖" * 129)), "agent")

    async def test_64_emoji_are_accepted_and_65_refused_in_a_tech_stack_item(
        self, client: httpx.AsyncClient
    ) -> None:
        assert_issued(await post_body(client, with_values(tech_stack=["🐍" * 64])))
        response = await post_body(client, with_values(tech_stack=["🐍" * 65]))
        assert_validation_failed(response, "tech_stack[0]")


class TestUnknownFields:
    async def test_unknown_extra_fields_are_ignored(self, client: httpx.AsyncClient) -> None:
        body = with_values(favourite_colour="blue", nested={"deep": [1, 2]}, requested_ttl=5)
        issued = assert_issued(await post_body(client, body))
        assert "favourite_colour" not in issued


class TestSeveralFailingFields:
    async def test_each_failing_field_gets_exactly_one_entry(
        self, client: httpx.AsyncClient
    ) -> None:
        body = with_values(
            organization_name="",
            user_name=text(256),
            assignment="too short",
            requested_scopes=[],
            tech_stack=["node", text(65), 3],
            user_email="not-an-email",
            requested_environment="staging",
            requested_ttl_seconds=0,
            docs_context="javascript:" + text(2049),
            agent=text(129),
        )
        assert_validation_failed(
            await post_body(client, body),
            "organization_name",
            "user_name",
            "assignment",
            "requested_scopes",
            "tech_stack[1]",
            "tech_stack[2]",
            "user_email",
            "requested_environment",
            "requested_ttl_seconds",
            "docs_context",
            "agent",
        )

    async def test_every_missing_required_field_is_named(self, client: httpx.AsyncClient) -> None:
        assert_validation_failed(
            await post_body(client, {"agent": "claude-code"}),
            "organization_name",
            "user_name",
            "assignment",
            "requested_scopes",
        )


class TestEnvelope:
    """The unit tier's answers are the envelope's: same paths, same messages, in order."""

    @pytest.mark.parametrize(
        "body",
        [
            SEVERAL_FAILING,
            credential_request(organization_name=None),
            with_values(requested_scopes=["homes", text(129)]),
            with_values(tech_stack=["python", "no\u0000de"]),
            with_values(requested_ttl_seconds="5"),
        ],
        ids=["several", "absent", "item-index", "nul", "wrong-type"],
    )
    async def test_field_errors_are_the_schemas(
        self, client: httpx.AsyncClient, body: dict[str, Any]
    ) -> None:
        response = await post_body(client, body)

        envelope = assert_envelope(response, status=400, code="VALIDATION_FAILED")
        expected = [{"field": e.field, "message": e.message} for e in schema_errors(body)]
        assert expected
        assert envelope["field_errors"] == expected


class TestBodyShape:
    @pytest.mark.parametrize(
        "content",
        [
            b"[]",
            b'[{"organization_name": "Example Energy Co"}]',
            b'"organization_name"',
            b"42",
            b"true",
            b"null",
            b"",
            b"   ",
            b"{",
            b'{"organization_name": }',
            b"{'organization_name': 'Example'}",
        ],
        ids=[
            "empty-array",
            "array-of-object",
            "string",
            "number",
            "boolean",
            "null",
            "empty",
            "whitespace",
            "truncated",
            "missing-value",
            "single-quotes",
        ],
    )
    async def test_a_body_that_is_not_a_json_object_is_refused_as_body(
        self, client: httpx.AsyncClient, content: bytes
    ) -> None:
        assert_validation_failed(await post_raw(client, content), "body")

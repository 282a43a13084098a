"""The schema rules of ``POST /v1/agent-credentials`` on the request model itself (no HTTP, no
database): every refused value, named by the field path and message the error envelope would
carry (``api.errors.field_errors_from``, the function the app uses to build ``field_errors``).

The accepted side of each limit, what the policy then decides, and the envelope itself are
proven through HTTP in ``tests/integration/test_request_validation.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from agentkeys.api.errors import field_errors_from
from agentkeys.credentials.schemas import CreateAgentCredentialRequestDto
from agentkeys.errors import FieldError
from tests.support.assertions import INVALID_EMAILS, text
from tests.support.factories import credential_request

DESCRIPTIVE_TEXT = "Prototype bill impact calculations for a customer dashboard. "
OPTIONAL_TEXT_MAXIMUMS = {
    "agent": 128,
    "client": 128,
    "use_case": 128,
    "device_segment": 128,
    "project": 128,
    "company": 255,
}


def uri_of_length(length: int) -> str:
    prefix = "https://docs.example.com/"
    return prefix + text(length - len(prefix), "p")


def with_values(**values: Any) -> dict[str, Any]:
    """The seed body with fields set to exactly these values, ``None`` as JSON ``null``."""
    return {**credential_request(), **values}


def schema_errors(document: Any) -> list[FieldError]:
    """The ``field_errors`` the envelope would carry for this parsed JSON body (none: valid)."""
    try:
        CreateAgentCredentialRequestDto.model_validate(document)
    except ValidationError as error:
        return field_errors_from(error.errors())
    return []


def assert_refused(document: Any, *fields: str) -> list[FieldError]:
    """Refused with exactly one entry per named field, each with a message."""
    errors = schema_errors(document)
    assert sorted(error.field for error in errors) == sorted(fields), errors
    for error in errors:
        assert error.message.strip(), error
    return errors


class TestLengths:
    @pytest.mark.parametrize("field", ["organization_name", "user_name"])
    @pytest.mark.parametrize("length", [0, 256])
    def test_names_of_0_and_256_characters_are_refused(self, field: str, length: int) -> None:
        assert_refused(with_values(**{field: text(length)}), field)

    @pytest.mark.parametrize("length", [9, 4001])
    def test_an_assignment_of_9_or_4001_characters_is_refused(self, length: int) -> None:
        assert_refused(with_values(assignment=text(length, DESCRIPTIVE_TEXT)), "assignment")

    @pytest.mark.parametrize(
        ("field", "length"),
        [(field, maximum + 1) for field, maximum in OPTIONAL_TEXT_MAXIMUMS.items()],
    )
    def test_one_character_over_an_optional_texts_maximum_is_refused(
        self, field: str, length: int
    ) -> None:
        assert_refused(with_values(**{field: text(length)}), field)

    @pytest.mark.parametrize("count", [0, 21])
    def test_0_and_21_requested_scopes_are_refused(self, count: int) -> None:
        assert_refused(with_values(requested_scopes=["homes"] * count), "requested_scopes")

    def test_a_scope_of_129_characters_is_refused_by_its_index(self) -> None:
        assert_refused(with_values(requested_scopes=["homes", text(129)]), "requested_scopes[1]")

    def test_21_tech_stack_items_are_refused(self) -> None:
        stack = [f"tool-{i}" for i in range(21)]
        assert_refused(with_values(tech_stack=stack), "tech_stack")

    def test_a_tech_stack_item_of_65_characters_is_refused_by_its_index(self) -> None:
        assert_refused(with_values(tech_stack=["node", "python", text(65)]), "tech_stack[2]")


class TestRequiredFields:
    @pytest.mark.parametrize(
        "field", ["organization_name", "user_name", "assignment", "requested_scopes"]
    )
    def test_absence_is_refused(self, field: str) -> None:
        assert_refused(credential_request(**{field: None}), field)

    @pytest.mark.parametrize(
        "field", ["organization_name", "user_name", "assignment", "requested_scopes"]
    )
    def test_null_is_refused(self, field: str) -> None:
        assert_refused(with_values(**{field: None}), field)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("organization_name", " "),
            ("organization_name", "\t\n"),
            ("user_name", "   "),
            ("user_name", "\u00a0\u3000"),
            ("assignment", " " * 10),
            ("assignment", "\n" * 40),
        ],
    )
    def test_a_string_of_only_whitespace_is_refused(self, field: str, value: str) -> None:
        assert_refused(with_values(**{field: value}), field)

    def test_every_missing_required_field_is_named(self) -> None:
        assert_refused(
            {"agent": "claude-code"},
            "organization_name",
            "user_name",
            "assignment",
            "requested_scopes",
        )


class TestFormats:
    @pytest.mark.parametrize("email", INVALID_EMAILS)
    def test_an_email_of_invalid_syntax_is_refused(self, email: str) -> None:
        assert_refused(with_values(user_email=email), "user_email")

    @pytest.mark.parametrize(
        "environment", ["staging", "Sandbox", "PRODUCTION", "", " sandbox", "prod"]
    )
    def test_an_environment_but_sandbox_or_production_is_refused(self, environment: str) -> None:
        assert_refused(with_values(requested_environment=environment), "requested_environment")

    @pytest.mark.parametrize("ttl", [0, -1])
    def test_a_ttl_of_0_or_less_is_refused(self, ttl: int) -> None:
        assert_refused(with_values(requested_ttl_seconds=ttl), "requested_ttl_seconds")

    @pytest.mark.parametrize(
        "uri",
        [
            uri_of_length(2049),
            "/agent-credentials/guide",
            "docs/guide.html",
            "//docs.example.com/guide",
            "ftp://docs.example.com/guide.txt",
            "javascript:alert(1)",
            "mailto:developer@example.com",
            "https://",
            "https://docs example.com/guide",
            "",
        ],
        ids=[
            "2049-characters",
            "relative-path",
            "relative-reference",
            "scheme-relative",
            "ftp",
            "javascript",
            "mailto",
            "no-host",
            "space-in-host",
            "empty",
        ],
    )
    def test_docs_context_but_an_absolute_http_or_https_uri_is_refused(self, uri: str) -> None:
        assert_refused(with_values(docs_context=uri), "docs_context")


class TestStrictJsonTypes:
    @pytest.mark.parametrize(
        ("values", "field"),
        [
            ({"requested_ttl_seconds": "5"}, "requested_ttl_seconds"),
            ({"requested_ttl_seconds": True}, "requested_ttl_seconds"),
            ({"requested_ttl_seconds": 86400.0}, "requested_ttl_seconds"),
            ({"requested_ttl_seconds": 1.5}, "requested_ttl_seconds"),
            ({"organization_name": 5}, "organization_name"),
            ({"user_name": 12.5}, "user_name"),
            ({"agent": 7}, "agent"),
            ({"company": True}, "company"),
            ({"user_email": 42}, "user_email"),
            ({"docs_context": 1}, "docs_context"),
            ({"requested_environment": 0}, "requested_environment"),
            ({"requested_scopes": "homes"}, "requested_scopes"),
            ({"tech_stack": "node"}, "tech_stack"),
            ({"organization_name": ["Example Energy Co"]}, "organization_name"),
            ({"requested_scopes": ["homes", 5]}, "requested_scopes[1]"),
            ({"requested_scopes": ["homes", "calculate", {"name": "x"}]}, "requested_scopes[2]"),
            ({"tech_stack": ["node", 3]}, "tech_stack[1]"),
        ],
        ids=[
            "string-for-ttl",
            "boolean-for-ttl",
            "integral-float-for-ttl",
            "fractional-float-for-ttl",
            "integer-for-organization_name",
            "float-for-user_name",
            "integer-for-agent",
            "boolean-for-company",
            "integer-for-user_email",
            "integer-for-docs_context",
            "integer-for-requested_environment",
            "string-for-requested_scopes",
            "string-for-tech_stack",
            "array-for-organization_name",
            "integer-scope-item",
            "object-scope-item",
            "integer-tech_stack-item",
        ],
    )
    def test_a_value_of_the_wrong_json_type_is_refused(
        self, values: dict[str, Any], field: str
    ) -> None:
        assert_refused(with_values(**values), field)


class TestCodePoints:
    @pytest.mark.parametrize("unit", ["é", "😀", "日"])
    def test_256_non_ascii_code_points_are_refused_in_organization_name(self, unit: str) -> None:
        assert_refused(with_values(organization_name=unit * 256), "organization_name")

    def test_combining_marks_count_as_code_points(self) -> None:
        # 128 visible letters, 256 code points: "e" followed by a combining acute accent.
        assert_refused(with_values(user_name="e\u0301" * 128), "user_name")

    def test_129_emoji_are_refused_in_agent(self) -> None:
        assert_refused(with_values(agent="🤖" * 129), "agent")

    def test_65_emoji_are_refused_in_a_tech_stack_item(self) -> None:
        assert_refused(with_values(tech_stack=["🐍" * 65]), "tech_stack[0]")


class TestNulCharacter:
    """NUL is valid JSON, but no backend can store it as text: refused by the schema."""

    @pytest.mark.parametrize(
        ("values", "field"),
        [
            ({"organization_name": "Acme\u0000Co"}, "organization_name"),
            ({"assignment": "Prototype bill impact \u0000 calculations"}, "assignment"),
            ({"tech_stack": ["python", "no\u0000de"]}, "tech_stack[1]"),
            ({"requested_scopes": ["homes\u0000"]}, "requested_scopes[0]"),
            ({"project": "\u0000"}, "project"),
        ],
    )
    def test_nul_is_refused(self, values: dict[str, Any], field: str) -> None:
        assert_refused(with_values(**values), field)


class TestSeveralFailingFields:
    def test_each_failing_field_gets_exactly_one_entry(self) -> None:
        assert_refused(
            SEVERAL_FAILING,
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


SEVERAL_FAILING = with_values(
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

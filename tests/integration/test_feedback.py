"""``POST /v1/feedback`` through HTTP: scope guard, stored record, field limits (CONTRACT §7)."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from agentkeys.clock import FrozenClock
from agentkeys.credentials.scopes import Scope
from agentkeys.sandbox.feedback.service import FEEDBACK_BUDGET
from agentkeys.validation import MAX_FREE_FORM_BYTES, MAX_FREE_FORM_DEPTH
from tests.support.app import START
from tests.support.assertions import (
    INVALID_EMAILS,
    VALID_EMAILS,
    as_instant,
    as_json,
    assert_envelope,
    assert_validation_failed,
    text,
)
from tests.support.databases import DatabaseProbe
from tests.support.factories import issue_credential, key_header

# Feedback is stored: what each backend holds, and what it cannot store.
pytestmark = pytest.mark.both_backends

ROUTE = "/v1/feedback"
FEEDBACK_TYPES = [
    "question",
    "docs_issue",
    "source_of_truth_disagreement",
    "blocked_build",
    "bug",
    "feature_request",
    "integration_request",
    "suggestion",
    "other",
]
CONTACT = {
    "email": "developer@example.com",
    "preferred_contact": "email",
    "consent_to_contact": True,
}
FEEDBACK: dict[str, Any] = {
    "name": "Avery Developer",
    "message": "The bill impact examples made the sandbox easy to try.",
}


def feedback(**values: Any) -> dict[str, Any]:
    """A valid feedback body with fields set to exactly these values (``None`` sent as null)."""
    return {**FEEDBACK, **values}


async def writer_key(client: httpx.AsyncClient) -> dict[str, Any]:
    """Issue a credential holding only ``feedback:write``; returns the issuance body."""
    return await issue_credential(client, requested_scopes=[Scope.FEEDBACK_WRITE])


async def send_feedback(client: httpx.AsyncClient, body: Any) -> httpx.Response:
    issued = await writer_key(client)
    return await client.post(ROUTE, json=body, headers=key_header(issued["credential"]))


async def stored_feedback(db: DatabaseProbe) -> list[dict[str, Any]]:
    return await db.rows("SELECT * FROM feedback")


def assert_received(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    received: dict[str, Any] = response.json()
    assert re.fullmatch(r"ws_feedback_[0-9A-Za-z]{22}", received["feedback_id"])
    assert received["received"] is True
    assert isinstance(received["follow_up"], dict)
    assert "field_errors" not in received
    return received


class TestFeedbackReceived:
    async def test_feedback_answers_201_with_an_id_and_a_follow_up(
        self, client: httpx.AsyncClient
    ) -> None:
        received = assert_received(await send_feedback(client, feedback()))
        assert received["follow_up"] == {"requested": False, "contact_method": None}

    async def test_feedback_with_a_consenting_contact_requests_a_reply(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await send_feedback(client, feedback(contact=CONTACT))
        follow_up = assert_received(response)["follow_up"]
        assert follow_up == {"requested": True, "contact_method": "email"}

    @pytest.mark.parametrize(
        "contact",
        [
            {**CONTACT, "consent_to_contact": False},
            {"preferred_contact": "email", "consent_to_contact": True},
        ],
        ids=["no-consent", "no-email"],
    )
    async def test_no_reply_without_consent_or_an_address(
        self, client: httpx.AsyncClient, contact: dict[str, Any]
    ) -> None:
        response = await send_feedback(client, feedback(contact=contact))
        assert assert_received(response)["follow_up"] == {
            "requested": False,
            "contact_method": None,
        }

    async def test_the_documented_example_body_is_accepted(self, client: httpx.AsyncClient) -> None:
        body = {
            "name": "Avery Developer",
            "company": "Example Energy Co",
            "feedback_type": "docs_issue",
            "summary": "Clarify the usage array shape for period bill impact",
            "message": "The docs could state that each daily usage array needs 96 values.",
            "page": "/api-reference/endpoint/homes/calculate-period-bill-impact",
            "endpoint": "/v1/homes/{id}/calculate/impact",
            "environment": "sandbox",
            "submitter": {"kind": "agent", "agent": "claude-code", "client": "cli"},
            "contact": CONTACT,
            "source_urls": ["https://docs.wattshift.com/docs/get_started"],
            "sanitized_evidence": {"status": 400, "fields": ["usage[3]"]},
        }

        received = assert_received(await send_feedback(client, body))

        assert received["follow_up"] == {"requested": True, "contact_method": "email"}

    async def test_feedback_is_stored_against_the_sending_credential(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        issued = await writer_key(client)
        body = feedback(
            contact=CONTACT,
            company="Example Energy Co",
            summary="Docs were clear",
            feedback_type="suggestion",
            submitter={"kind": "agent", "agent": "claude-code"},
            sanitized_evidence={"request_id": "ws_request_x"},
        )
        response = await client.post(ROUTE, json=body, headers=key_header(issued["credential"]))
        received = assert_received(response)

        rows = await stored_feedback(db)
        assert len(rows) == 1
        row = rows[0]
        assert row["id"] == received["feedback_id"]
        assert row["credential_id"] == issued["credential_id"]
        assert row["request_id"] == response.headers["X-Request-Id"]
        assert row["name"] == body["name"]
        assert row["message"] == body["message"]
        assert row["email"] == "developer@example.com"
        assert row["company"] == "Example Energy Co"
        assert row["summary"] == "Docs were clear"
        assert row["feedback_type"] == "suggestion"
        assert row["agent"] == "claude-code"
        details = as_json(row["details"])
        assert details["submitter"] == {"kind": "agent", "agent": "claude-code"}
        assert details["sanitized_evidence"] == {"request_id": "ws_request_x"}
        assert as_instant(row["created_at"]) == START


class TestFeedbackAuthentication:
    async def test_request_without_a_key_is_refused_with_401(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        response = await client.post(ROUTE, json=feedback())
        assert_envelope(response, status=401, code="AUTH_MISSING_API_KEY")
        assert await stored_feedback(db) == []

    async def test_key_without_feedback_write_is_refused_with_403_naming_the_scope(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        issued = await issue_credential(client, requested_scopes=["calculate", "homes"])
        response = await client.post(
            ROUTE, json=feedback(), headers=key_header(issued["credential"])
        )
        envelope = assert_envelope(response, status=403, code="AUTH_INSUFFICIENT_SCOPE")
        assert Scope.FEEDBACK_WRITE in envelope["message"]
        assert await stored_feedback(db) == []


class TestName:
    @pytest.mark.parametrize("length", [1, 255])
    async def test_1_and_255_characters_are_accepted(
        self, client: httpx.AsyncClient, length: int
    ) -> None:
        assert_received(await send_feedback(client, feedback(name=text(length))))

    @pytest.mark.parametrize("length", [0, 256])
    async def test_0_and_256_characters_are_refused(
        self, client: httpx.AsyncClient, length: int
    ) -> None:
        assert_validation_failed(await send_feedback(client, feedback(name=text(length))), "name")

    async def test_255_emoji_are_accepted_and_256_refused(self, client: httpx.AsyncClient) -> None:
        assert_received(await send_feedback(client, feedback(name="🙂" * 255)))
        assert_validation_failed(await send_feedback(client, feedback(name="🙂" * 256)), "name")

    @pytest.mark.parametrize(
        "body",
        [{"message": "Hello"}, feedback(name=None), feedback(name="   "), feedback(name=5)],
        ids=["absent", "null", "whitespace", "number"],
    )
    async def test_absent_null_blank_or_non_string_is_refused(
        self, client: httpx.AsyncClient, body: dict[str, Any]
    ) -> None:
        assert_validation_failed(await send_feedback(client, body), "name")


class TestMessage:
    @pytest.mark.parametrize("length", [1, 4000])
    async def test_1_and_4000_characters_are_accepted(
        self, client: httpx.AsyncClient, length: int
    ) -> None:
        assert_received(await send_feedback(client, feedback(message=text(length))))

    @pytest.mark.parametrize("length", [0, 4001])
    async def test_0_and_4001_characters_are_refused(
        self, client: httpx.AsyncClient, length: int
    ) -> None:
        assert_validation_failed(
            await send_feedback(client, feedback(message=text(length))), "message"
        )

    @pytest.mark.parametrize(
        "body",
        [{"name": "Avery"}, feedback(message=None), feedback(message="\n\t "), feedback(message=1)],
        ids=["absent", "null", "whitespace", "number"],
    )
    async def test_absent_null_blank_or_non_string_is_refused(
        self, client: httpx.AsyncClient, body: dict[str, Any]
    ) -> None:
        assert_validation_failed(await send_feedback(client, body), "message")


class TestContent:
    @pytest.mark.parametrize("field", ["summary", "question", "actual_behavior"])
    async def test_another_content_field_may_stand_for_the_message(
        self, client: httpx.AsyncClient, field: str
    ) -> None:
        body = {"name": "Avery", field: "The period route refused 92-slot days."}

        assert_received(await send_feedback(client, body))

    async def test_at_most_ten_source_urls(self, client: httpx.AsyncClient) -> None:
        urls = [f"https://docs.example.com/{n}" for n in range(11)]

        accepted = await send_feedback(client, feedback(source_urls=urls[:10]))
        refused = await send_feedback(client, feedback(source_urls=urls))

        assert_received(accepted)
        assert_validation_failed(refused, "source_urls")


class TestOptionalTextFields:
    @pytest.mark.parametrize(("field", "length"), [("summary", 500), ("company", 255)])
    async def test_maximum_length_is_accepted_and_stored(
        self, client: httpx.AsyncClient, db: DatabaseProbe, field: str, length: int
    ) -> None:
        assert_received(await send_feedback(client, feedback(**{field: text(length)})))
        assert [row[field] for row in await stored_feedback(db)] == [text(length)]

    @pytest.mark.parametrize(("field", "length"), [("summary", 501), ("company", 256)])
    async def test_one_character_over_the_maximum_is_refused(
        self, client: httpx.AsyncClient, field: str, length: int
    ) -> None:
        assert_validation_failed(
            await send_feedback(client, feedback(**{field: text(length)})), field
        )

    @pytest.mark.parametrize("field", ["summary", "company"])
    async def test_null_means_absent(
        self, client: httpx.AsyncClient, db: DatabaseProbe, field: str
    ) -> None:
        assert_received(await send_feedback(client, feedback(**{field: None})))
        assert [row[field] for row in await stored_feedback(db)] == [None]


class TestNulCharacter:
    @pytest.mark.parametrize("field", ["name", "message", "company", "summary"])
    async def test_nul_is_refused_and_nothing_is_stored(
        self, client: httpx.AsyncClient, db: DatabaseProbe, field: str
    ) -> None:
        response = await send_feedback(client, feedback(**{field: "a\u0000b"}))

        assert_validation_failed(response, field)
        assert await stored_feedback(db) == []


class TestEmail:
    @pytest.mark.parametrize("email", VALID_EMAILS)
    async def test_valid_syntax_is_accepted(self, client: httpx.AsyncClient, email: str) -> None:
        contact = {**CONTACT, "email": email}
        assert_received(await send_feedback(client, feedback(contact=contact)))

    @pytest.mark.parametrize("email", INVALID_EMAILS)
    async def test_invalid_syntax_is_refused(self, client: httpx.AsyncClient, email: str) -> None:
        contact = {**CONTACT, "email": email}
        response = await send_feedback(client, feedback(contact=contact))
        assert_validation_failed(response, "contact.email")


class TestFeedbackType:
    @pytest.mark.parametrize("feedback_type", FEEDBACK_TYPES)
    async def test_each_listed_type_is_accepted_and_stored(
        self, client: httpx.AsyncClient, db: DatabaseProbe, feedback_type: str
    ) -> None:
        assert_received(await send_feedback(client, feedback(feedback_type=feedback_type)))
        assert [row["feedback_type"] for row in await stored_feedback(db)] == [feedback_type]

    @pytest.mark.parametrize(
        "body", [feedback(), feedback(feedback_type=None)], ids=["absent", "null"]
    )
    async def test_absent_or_null_defaults_to_other(
        self, client: httpx.AsyncClient, db: DatabaseProbe, body: dict[str, Any]
    ) -> None:
        assert_received(await send_feedback(client, body))
        assert [row["feedback_type"] for row in await stored_feedback(db)] == ["other"]

    @pytest.mark.parametrize(
        "feedback_type", ["complaint", "Bug", "BUG", "", "feature request", "praise", 1]
    )
    async def test_an_unknown_type_is_refused(
        self, client: httpx.AsyncClient, feedback_type: object
    ) -> None:
        response = await send_feedback(client, feedback(feedback_type=feedback_type))
        assert_validation_failed(response, "feedback_type")


class TestSeveralFailingFields:
    async def test_each_failing_field_gets_exactly_one_entry(
        self, client: httpx.AsyncClient
    ) -> None:
        body = {
            "name": "",
            "message": text(4001),
            "summary": text(501),
            "company": text(256),
            "contact": {"email": "nope"},
            "feedback_type": "complaint",
            "source_urls": ["ftp://example.com/x"],
        }
        response = await send_feedback(client, body)
        assert_validation_failed(
            response,
            "name",
            "summary",
            "company",
            "contact.email",
            "feedback_type",
            "source_urls[0]",
            "message",
        )


def raw_json(body: dict[str, Any], *, token: str) -> bytes:
    """``body`` as JSON text with the string ``"<token>"`` written as the bare token ``token``."""
    return json.dumps(body).replace(f'"{NUMBER}"', token).encode()


NUMBER = "placeholder-for-a-bare-number-token"
NON_FINITE_TOKENS = ["NaN", "Infinity", "-Infinity", "1e999"]
# Every free-form field of a feedback, and a value putting the hostile one deep inside it.
FREE_FORM_FIELDS = {
    "sanitized_evidence": (
        {"fields": ["usage", {"kw": NUMBER}]},
        "sanitized_evidence.fields[1].kw",
    ),
    "error": ([{"status": NUMBER}], "error[0].status"),
    "routing_tags": ({"team": {"weight": NUMBER}}, "routing_tags.team.weight"),
}


class TestUnstorableValues:
    """Values valid in JSON but storable by no backend: refused alike on SQLite and PostgreSQL,
    naming the inner path, and nothing is stored."""

    @pytest.mark.parametrize("token", NON_FINITE_TOKENS)
    @pytest.mark.parametrize("field", sorted(FREE_FORM_FIELDS))
    async def test_non_finite_numbers_inside_free_form_fields_are_refused_by_path(
        self, client: httpx.AsyncClient, db: DatabaseProbe, field: str, token: str
    ) -> None:
        issued = await writer_key(client)
        value, path = FREE_FORM_FIELDS[field]
        response = await client.post(
            ROUTE,
            content=raw_json(feedback(**{field: value}), token=token),
            headers={**key_header(issued["credential"]), "Content-Type": "application/json"},
        )

        assert_validation_failed(response, path)
        assert await stored_feedback(db) == []

    @pytest.mark.parametrize("token", NON_FINITE_TOKENS)
    async def test_a_free_form_field_that_is_itself_non_finite_is_refused(
        self, client: httpx.AsyncClient, db: DatabaseProbe, token: str
    ) -> None:
        issued = await writer_key(client)
        response = await client.post(
            ROUTE,
            content=raw_json(feedback(sanitized_evidence=NUMBER), token=token),
            headers={**key_header(issued["credential"]), "Content-Type": "application/json"},
        )

        assert_validation_failed(response, "sanitized_evidence")
        assert await stored_feedback(db) == []

    @pytest.mark.parametrize(
        ("values", "field"),
        [
            ({"message": "a\ud800"}, "message"),
            ({"submitter": {"agent": "\udfff"}}, "submitter.agent"),
            ({"sanitized_evidence": {"note": ["ok", "a\ud83d"]}}, "sanitized_evidence.note[1]"),
            ({"routing_tags": {"bad\ud800key": 1}}, "routing_tags"),
            ({"error": {"nul": "a\u0000b"}}, "error.nul"),
        ],
    )
    async def test_lone_surrogates_and_nul_anywhere_are_refused_by_path(
        self, client: httpx.AsyncClient, db: DatabaseProbe, values: dict[str, Any], field: str
    ) -> None:
        issued = await writer_key(client)
        response = await client.post(
            ROUTE,
            content=json.dumps(feedback(**values)).encode(),  # surrogates escaped, as \\ud800
            headers={**key_header(issued["credential"]), "Content-Type": "application/json"},
        )

        assert_validation_failed(response, field)
        assert await stored_feedback(db) == []

    @pytest.mark.parametrize("field", sorted(FREE_FORM_FIELDS))
    async def test_free_form_fields_take_8_kib_of_json_and_no_more(
        self, client: httpx.AsyncClient, db: DatabaseProbe, field: str
    ) -> None:
        # {"n":"…"} serializes to 8 bytes plus the text; "é" is 2 bytes of UTF-8.
        largest = {"n": "é" * ((MAX_FREE_FORM_BYTES - 8) // 2)}
        assert_received(await send_feedback(client, feedback(**{field: largest})))
        larger = {"n": largest["n"] + "a"}
        assert_validation_failed(await send_feedback(client, feedback(**{field: larger})), field)
        stored = [as_json(row["details"])[field] for row in await stored_feedback(db)]
        assert stored == [largest]

    async def test_free_form_fields_nest_at_most_10_levels(self, client: httpx.AsyncClient) -> None:
        def nested(levels: int) -> Any:
            value: Any = 1
            for _ in range(levels):
                value = [value]
            return value

        assert_received(await send_feedback(client, feedback(error=nested(MAX_FREE_FORM_DEPTH))))
        response = await send_feedback(client, feedback(error=nested(MAX_FREE_FORM_DEPTH + 1)))
        assert_validation_failed(response, "error" + "[0]" * MAX_FREE_FORM_DEPTH)


class TestFeedbackBudget:
    async def test_a_credential_stores_100_feedbacks_a_day_then_429_with_retry_after(
        self, client: httpx.AsyncClient, db: DatabaseProbe, clock: FrozenClock
    ) -> None:
        week = 7 * 24 * 3600
        issued = await issue_credential(
            client, requested_scopes=[Scope.FEEDBACK_WRITE], requested_ttl_seconds=week
        )
        headers = key_header(issued["credential"])
        for _ in range(FEEDBACK_BUDGET):
            assert_received(await client.post(ROUTE, json=feedback(), headers=headers))

        refused = await client.post(ROUTE, json=feedback(), headers=headers)

        envelope = assert_envelope(refused, status=429, code="RATE_LIMITED")
        assert refused.headers["Retry-After"] == str(24 * 3600)
        assert "100 feedbacks" in envelope["message"]
        assert len(await stored_feedback(db)) == FEEDBACK_BUDGET
        other = key_header((await writer_key(client))["credential"])
        assert_received(await client.post(ROUTE, json=feedback(), headers=other))
        clock.advance(timedelta(hours=24) - timedelta(milliseconds=1))
        refused = await client.post(ROUTE, json=feedback(), headers=headers)
        assert_envelope(refused, status=429, code="RATE_LIMITED")
        assert refused.headers["Retry-After"] == "1"
        clock.advance(timedelta(milliseconds=1))
        assert_received(await client.post(ROUTE, json=feedback(), headers=headers))

    async def test_the_budget_holds_under_simultaneous_requests(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        headers = key_header((await writer_key(client))["credential"])
        for _ in range(FEEDBACK_BUDGET - 3):
            assert_received(await client.post(ROUTE, json=feedback(), headers=headers))

        answers = await asyncio.gather(
            *(client.post(ROUTE, json=feedback(), headers=headers) for _ in range(12))
        )

        assert sorted(answer.status_code for answer in answers) == [201] * 3 + [429] * 9
        assert len(await stored_feedback(db)) == FEEDBACK_BUDGET

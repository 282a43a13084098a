"""A name made only of what a reader cannot see (whitespace, invisible characters, blank
symbols) or of punctuation names nobody: 400 ``VALIDATION_FAILED`` naming the field, never an
issuance under an empty quota identity shared by every such name. Both backends."""

from __future__ import annotations

import httpx
import pytest

from tests.support.assertions import assert_validation_failed
from tests.support.databases import DatabaseProbe
from tests.support.factories import credential_request

# Quota identities are stored and counted: both backends.
pytestmark = pytest.mark.both_backends

NO_ORGANIZATION = [
    "\u200b",
    "\u2800",  # braille pattern blank
    "\ufffc\U0001d159",  # object replacement, null notehead
    "\u3164",  # hangul filler
    "...",
    "\u200b.\u200b,-",
    "\u00a0!\u2800?",
]
BLANK = ["\u200b\u200d", "\u2800", "\ufffc", "\u00ad\u3000"]


@pytest.mark.parametrize("name", NO_ORGANIZATION)
async def test_an_organization_name_with_no_letter_or_digit_is_refused(
    client: httpx.AsyncClient, db: DatabaseProbe, name: str
) -> None:
    response = await client.post(
        "/v1/agent-credentials", json=credential_request(organization_name=name)
    )
    envelope = assert_validation_failed(response, "organization_name")
    message = envelope["field_errors"][0]["message"]
    assert "letter or digit" in message or "invisible characters" in message, message
    assert await db.rows("SELECT id FROM credential_requests") == []
    assert await db.rows("SELECT id FROM credentials") == []


@pytest.mark.parametrize("field", ["organization_name", "user_name", "assignment"])
@pytest.mark.parametrize("blank", BLANK)
async def test_a_required_text_that_renders_blank_is_refused(
    client: httpx.AsyncClient, field: str, blank: str
) -> None:
    response = await client.post(
        "/v1/agent-credentials", json=credential_request(**{field: blank * 10})
    )
    assert_validation_failed(response, field)


async def test_a_blank_symbol_in_an_email_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/agent-credentials", json=credential_request(user_email="dev\u2800@example.com")
    )
    assert_validation_failed(response, "user_email")


async def test_a_name_with_one_visible_letter_is_issued(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/agent-credentials", json=credential_request(organization_name="\u2800X.")
    )
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "issued"

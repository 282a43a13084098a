"""Revocation (CONTRACT §2): self-revocation, idempotence, the stored reason, order of checks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from agentkeys.clock import FrozenClock
from agentkeys.ids import random_base62
from tests.support.app import START
from tests.support.assertions import (
    as_instant,
    assert_envelope,
    assert_request_id,
    field_names,
    parse_instant,
)
from tests.support.databases import DatabaseProbe
from tests.support.factories import issue_credential, key_header

# Revocation is a locked write.
pytestmark = pytest.mark.both_backends

SELF = "/v1/agent-credentials/self"
JSON_CONTENT = {"content-type": "application/json"}
MALFORMED_JSON = b'{"reason": "oops'
# Bodies that fail validation, each sent as raw bytes with a JSON content type.
BAD_BODIES = [
    pytest.param(MALFORMED_JSON, id="malformed-json"),
    pytest.param(b'{"reason": "' + b"x" * 256 + b'"}', id="reason-too-long"),
    pytest.param(b'{"reason": 5}', id="reason-not-a-string"),
    pytest.param(b'{"reason": "a\\u0000b"}', id="reason-with-nul"),
    pytest.param(b'["reason"]', id="not-an-object"),
]


def revocation_path(credential_id: str) -> str:
    return f"/v1/agent-credentials/{credential_id}/revoke"


def unknown_credential_id() -> str:
    return "ws_agent_cred_" + random_base62(22)


async def stored_credential(db: DatabaseProbe, credential_id: str) -> dict[str, Any]:
    """The credential's row as the database holds it, read outside the app."""
    rows = await db.rows("SELECT * FROM credentials WHERE id = :id", id=credential_id)
    assert len(rows) == 1, credential_id
    return rows[0]


def assert_revoked_answer(response: httpx.Response, credential_id: str) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "outcome",
        "credential_id",
        "request_id",
        "production_access",
        "next_steps",
    }
    assert body["outcome"] == "revoked"
    assert body["credential_id"] == credential_id
    assert body["production_access"] is False
    assert isinstance(body["next_steps"], str)
    assert body["next_steps"]
    assert body["request_id"] == assert_request_id(response)


async def revoke_self(
    client: httpx.AsyncClient,
    issued: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    **sent: Any,
) -> httpx.Response:
    """The issued credential revokes itself; ``headers`` go with its key, ``sent`` is the body."""
    return await client.post(
        issued["revocation_path"],
        headers={**(headers or {}), **key_header(issued["credential"])},
        **sent,
    )


async def still_works(client: httpx.AsyncClient, secret: str) -> bool:
    return (await client.get(SELF, headers=key_header(secret))).status_code == 200


class TestSelfRevocation:
    async def test_self_revocation_answers_revoked(self, client: httpx.AsyncClient) -> None:
        issued = await issue_credential(client)

        response = await revoke_self(client, issued)

        assert_revoked_answer(response, issued["credential_id"])
        assert issued["credential"] not in response.text

    async def test_revocation_path_is_the_documented_one(self, client: httpx.AsyncClient) -> None:
        issued = await issue_credential(client)

        response = await client.post(
            revocation_path(issued["credential_id"]), headers=key_header(issued["credential"])
        )

        assert_revoked_answer(response, issued["credential_id"])

    async def test_revoked_key_is_refused_at_once(self, client: httpx.AsyncClient) -> None:
        issued = await issue_credential(client)
        headers = key_header(issued["credential"])
        assert (await client.get(SELF, headers=headers)).status_code == 200

        assert_revoked_answer(await revoke_self(client, issued), issued["credential_id"])

        refused = await client.get(SELF, headers=headers)
        assert_envelope(refused, status=401, code="AUTH_REVOKED_CREDENTIAL")

    async def test_revocation_time_is_stored(
        self, client: httpx.AsyncClient, clock: FrozenClock, db: DatabaseProbe
    ) -> None:
        issued = await issue_credential(client)
        clock.advance(timedelta(minutes=5, microseconds=250_700))

        await revoke_self(client, issued)

        row = await stored_credential(db, issued["credential_id"])
        assert as_instant(row["revoked_at"]) == START + timedelta(minutes=5, milliseconds=250)
        assert row["revocation_reason"] is None


class TestIdempotence:
    async def test_revoking_again_with_the_revoked_key_answers_revoked(
        self, client: httpx.AsyncClient
    ) -> None:
        issued = await issue_credential(client)
        first = await revoke_self(client, issued)

        second = await revoke_self(client, issued)

        assert_revoked_answer(first, issued["credential_id"])
        assert_revoked_answer(second, issued["credential_id"])
        assert first.json()["request_id"] != second.json()["request_id"]

    async def test_expired_key_can_revoke_itself(
        self, client: httpx.AsyncClient, clock: FrozenClock, db: DatabaseProbe
    ) -> None:
        issued = await issue_credential(client, requested_ttl_seconds=60)
        clock.set(parse_instant(issued["expires_at"]) + timedelta(hours=1))

        response = await revoke_self(client, issued)

        assert_revoked_answer(response, issued["credential_id"])
        row = await stored_credential(db, issued["credential_id"])
        assert as_instant(row["revoked_at"]) == clock.now()

    async def test_revoking_again_after_expiry_answers_revoked(
        self, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        issued = await issue_credential(client, requested_ttl_seconds=60)
        assert_revoked_answer(await revoke_self(client, issued), issued["credential_id"])
        clock.set(parse_instant(issued["expires_at"]))

        response = await revoke_self(client, issued)

        assert_revoked_answer(response, issued["credential_id"])

    async def test_first_reason_and_time_are_kept_when_revoking_again(
        self, client: httpx.AsyncClient, clock: FrozenClock, db: DatabaseProbe
    ) -> None:
        issued = await issue_credential(client)
        first = await revoke_self(client, issued, json={"reason": "first"})
        assert_revoked_answer(first, issued["credential_id"])
        clock.advance(timedelta(minutes=10))

        again = await revoke_self(client, issued, json={"reason": "second"})

        assert_revoked_answer(again, issued["credential_id"])
        row = await stored_credential(db, issued["credential_id"])
        assert row["revocation_reason"] == "first"
        assert as_instant(row["revoked_at"]) == START


class TestReason:
    @pytest.mark.parametrize(
        "reason",
        [
            pytest.param("Assignment finished.", id="short"),
            pytest.param("r" * 255, id="255-ascii"),
            pytest.param("é" * 254 + "🔑", id="255-code-points-non-ascii"),
            pytest.param("", id="empty"),
        ],
    )
    async def test_reason_is_stored(
        self, client: httpx.AsyncClient, db: DatabaseProbe, reason: str
    ) -> None:
        issued = await issue_credential(client)

        response = await revoke_self(client, issued, json={"reason": reason})

        assert_revoked_answer(response, issued["credential_id"])
        row = await stored_credential(db, issued["credential_id"])
        assert as_instant(row["revoked_at"]) == START
        assert row["revocation_reason"] == reason

    @pytest.mark.parametrize(
        "reason",
        [pytest.param("r" * 256, id="ascii"), pytest.param("é" * 256, id="non-ascii")],
    )
    async def test_reason_of_256_characters_is_refused_and_nothing_is_revoked(
        self, client: httpx.AsyncClient, db: DatabaseProbe, reason: str
    ) -> None:
        issued = await issue_credential(client)

        response = await revoke_self(client, issued, json={"reason": reason})

        body = assert_envelope(response, status=400, code="VALIDATION_FAILED")
        assert field_names(body) == ["reason"]
        assert (await stored_credential(db, issued["credential_id"]))["revoked_at"] is None
        assert await still_works(client, issued["credential"])

    async def test_reason_must_be_a_string(self, client: httpx.AsyncClient) -> None:
        issued = await issue_credential(client)

        response = await revoke_self(client, issued, json={"reason": 5})

        body = assert_envelope(response, status=400, code="VALIDATION_FAILED")
        assert field_names(body) == ["reason"]

    async def test_reason_with_nul_is_refused_and_nothing_is_revoked(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        issued = await issue_credential(client)

        response = await revoke_self(client, issued, json={"reason": "done\u0000"})

        body = assert_envelope(response, status=400, code="VALIDATION_FAILED")
        assert field_names(body) == ["reason"]
        assert (await stored_credential(db, issued["credential_id"]))["revoked_at"] is None


class TestOptionalBody:
    @pytest.mark.parametrize(
        "request_body",
        [
            pytest.param({}, id="no-body"),
            pytest.param({"json": {}}, id="empty-object"),
            pytest.param({"json": {"reason": None}}, id="null-reason"),
            pytest.param({"content": b"", "headers": JSON_CONTENT}, id="empty-json-body"),
            pytest.param({"json": {"unknown": "ignored"}}, id="unknown-field"),
        ],
    )
    async def test_revocation_needs_no_reason(
        self,
        client: httpx.AsyncClient,
        db: DatabaseProbe,
        request_body: dict[str, Any],
    ) -> None:
        issued = await issue_credential(client)

        response = await revoke_self(client, issued, **request_body)

        assert_revoked_answer(response, issued["credential_id"])
        row = await stored_credential(db, issued["credential_id"])
        assert as_instant(row["revoked_at"]) == START
        assert row["revocation_reason"] is None


class TestOwnership:
    async def test_another_credentials_id_is_not_found_and_that_credential_still_works(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        mine = await issue_credential(client)
        theirs = await issue_credential(client, organization_name="Other Energy Co")

        response = await client.post(
            theirs["revocation_path"], headers=key_header(mine["credential"])
        )

        assert_envelope(response, status=404, code="NOT_FOUND")
        assert theirs["credential"] not in response.text
        assert mine["credential"] not in response.text
        assert (await stored_credential(db, theirs["credential_id"]))["revoked_at"] is None
        assert await still_works(client, theirs["credential"])
        assert await still_works(client, mine["credential"])

    async def test_unknown_id_is_not_found(self, client: httpx.AsyncClient) -> None:
        issued = await issue_credential(client)

        response = await client.post(
            revocation_path(unknown_credential_id()), headers=key_header(issued["credential"])
        )

        assert_envelope(response, status=404, code="NOT_FOUND")
        assert await still_works(client, issued["credential"])

    async def test_unknown_and_foreign_ids_are_answered_alike(
        self, client: httpx.AsyncClient
    ) -> None:
        mine = await issue_credential(client)
        theirs = await issue_credential(client, organization_name="Other Energy Co")
        unknown_id = unknown_credential_id()
        headers = key_header(mine["credential"])

        foreign = await client.post(theirs["revocation_path"], headers=headers)
        unknown = await client.post(revocation_path(unknown_id), headers=headers)

        foreign_body = assert_envelope(foreign, status=404, code="NOT_FOUND")
        unknown_body = assert_envelope(unknown, status=404, code="NOT_FOUND")
        assert foreign_body["message"].replace(theirs["credential_id"], "ID") == (
            unknown_body["message"].replace(unknown_id, "ID")
        )
        assert foreign_body.get("recovery_action") == unknown_body.get("recovery_action")

    async def test_unknown_id_of_any_length_is_not_found(self, client: httpx.AsyncClient) -> None:
        issued = await issue_credential(client)

        response = await client.post(
            revocation_path("ws_agent_cred_" + "x" * 200), headers=key_header(issued["credential"])
        )

        assert_envelope(response, status=404, code="NOT_FOUND")


class TestOrderOfChecks:
    @pytest.mark.parametrize("bad_body", BAD_BODIES)
    async def test_missing_key_is_refused_before_the_body_is_read(
        self, client: httpx.AsyncClient, bad_body: bytes
    ) -> None:
        issued = await issue_credential(client)

        response = await client.post(
            issued["revocation_path"], content=bad_body, headers=JSON_CONTENT
        )

        assert_envelope(response, status=401, code="AUTH_MISSING_API_KEY")
        assert await still_works(client, issued["credential"])

    @pytest.mark.parametrize("bad_body", BAD_BODIES)
    async def test_invalid_key_is_refused_before_the_body_is_read(
        self, client: httpx.AsyncClient, bad_body: bytes
    ) -> None:
        issued = await issue_credential(client)
        typo = issued["credential"][:-1]

        response = await client.post(
            issued["revocation_path"],
            content=bad_body,
            headers={**JSON_CONTENT, **key_header(typo)},
        )

        assert_envelope(response, status=401, code="AUTH_INVALID_API_KEY")

    async def test_missing_key_is_refused_before_an_overlong_id_is_judged(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            revocation_path("ws_agent_cred_" + "x" * 200),
            content=MALFORMED_JSON,
            headers=JSON_CONTENT,
        )

        assert_envelope(response, status=401, code="AUTH_MISSING_API_KEY")

    @pytest.mark.parametrize("bad_body", BAD_BODIES)
    async def test_foreign_id_is_refused_before_the_body_is_read(
        self, client: httpx.AsyncClient, db: DatabaseProbe, bad_body: bytes
    ) -> None:
        mine = await issue_credential(client)
        theirs = await issue_credential(client, organization_name="Other Energy Co")

        response = await client.post(
            theirs["revocation_path"],
            content=bad_body,
            headers={**JSON_CONTENT, **key_header(mine["credential"])},
        )

        assert_envelope(response, status=404, code="NOT_FOUND")
        assert (await stored_credential(db, theirs["credential_id"]))["revoked_at"] is None

    async def test_malformed_json_on_own_id_is_refused_naming_the_body(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        issued = await issue_credential(client)

        response = await revoke_self(client, issued, content=MALFORMED_JSON, headers=JSON_CONTENT)

        body = assert_envelope(response, status=400, code="VALIDATION_FAILED")
        assert field_names(body) == ["body"]
        assert (await stored_credential(db, issued["credential_id"]))["revoked_at"] is None
        assert await still_works(client, issued["credential"])

    async def test_body_that_is_not_an_object_is_refused_naming_the_body(
        self, client: httpx.AsyncClient
    ) -> None:
        issued = await issue_credential(client)

        response = await revoke_self(client, issued, json=["reason"])

        body = assert_envelope(response, status=400, code="VALIDATION_FAILED")
        assert field_names(body) == ["body"]

    async def test_revoked_key_revoking_another_id_is_refused_as_revoked(
        self, client: httpx.AsyncClient
    ) -> None:
        mine = await issue_credential(client)
        theirs = await issue_credential(client, organization_name="Other Energy Co")
        headers = key_header(mine["credential"])
        await client.post(mine["revocation_path"], headers=headers)

        response = await client.post(theirs["revocation_path"], headers=headers)

        assert_envelope(response, status=401, code="AUTH_REVOKED_CREDENTIAL")
        assert await still_works(client, theirs["credential"])

    async def test_expired_key_revoking_another_id_is_refused_as_expired(
        self, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        mine = await issue_credential(client, requested_ttl_seconds=60)
        theirs = await issue_credential(client, organization_name="Other Energy Co")
        clock.set(parse_instant(mine["expires_at"]))

        response = await client.post(
            theirs["revocation_path"], headers=key_header(mine["credential"])
        )

        assert_envelope(response, status=401, code="AUTH_EXPIRED_CREDENTIAL")
        assert await still_works(client, theirs["credential"])

    async def test_wrong_content_type_is_refused(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        issued = await issue_credential(client)

        response = await revoke_self(
            client,
            issued,
            content=b"reason=done",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )

        assert_envelope(response, status=415, code="VALIDATION_FAILED")
        assert (await stored_credential(db, issued["credential_id"]))["revoked_at"] is None

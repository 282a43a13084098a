"""``POST /v1/agent-credentials`` has two ways in: a plain JSON request (no Idempotency-Key,
``application/json`` optionally with ``charset=utf-8``, a body the model accepts) is decided by
``issue_raw`` without FastAPI's dependency resolution; anything else is FastAPI's. Whichever
way a request comes in, its answer is the same: status, headers, body (ids aside), and every
refusal's envelope (the raw handler gives the body it read back to FastAPI).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from agentkeys.credentials import deps, routes
from agentkeys.credentials.policy import Quota
from tests.support.app import AppFactory, client_for
from tests.support.assertions import assert_envelope, field_names
from tests.support.databases import DatabaseProbe
from tests.support.factories import credential_request
from tests.support.policies import relaxed_policy

ISSUE = "/v1/agent-credentials"
HOUR = timedelta(hours=1)
# Content types the raw handler takes, and others FastAPI still reads as JSON (it leaves them).
FAST_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON;charset=UTF-8",
]
FASTAPI_TYPES = ["application/merge-patch+json", "application/json; charset=latin-1"]
# Per answer, what differs from one decision to the next by design.
VARYING = ("credential", "credential_id", "credential_request_id", "request_id")
# Headers every answer carries with values of its own.
OWN_HEADERS = {"x-request-id", "content-length", "date"}


@pytest.fixture
def fast_decisions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the decisions ``issue_raw`` made (FastAPI's dependency resolution
    builds its service through ``Depends``, never through the routes module's name)."""
    seen: list[str] = []
    original = deps.credential_service

    async def spied(request: Any, session: Any) -> Any:
        seen.append(request.url.path)
        return await original(request, session)

    monkeypatch.setattr(routes, "credential_service", spied)
    return seen


async def post(
    client: httpx.AsyncClient,
    content: bytes,
    content_type: str | None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = {**(headers or {})}
    if content_type is not None:
        sent["content-type"] = content_type
    return await client.post(ISSUE, content=content, headers=sent)


def encoded(body: object) -> bytes:
    return json.dumps(body).encode()


def comparable(response: httpx.Response) -> tuple[int, dict[str, str], Any]:
    """Status, headers and JSON body with what varies by design (ids, the key) replaced."""
    text = response.text
    document = response.json()
    for name in VARYING:
        value = document.get(name)
        if isinstance(value, str):
            text = text.replace(value, f"<{name}>")
    headers = {name: value for name, value in response.headers.items() if name not in OWN_HEADERS}
    return response.status_code, headers, json.loads(text)


class TestTheSameAnswer:
    @pytest.mark.parametrize(
        ("overrides", "outcome"),
        [
            ({}, "issued"),
            ({"requested_environment": "production"}, "production_denied"),
            ({"user_email": None}, "needs_more_info"),
            ({"requested_scopes": ["calculate", "no-such-scope"]}, "needs_more_info"),
            ({"requested_ttl_seconds": 10**7}, "issued"),
        ],
    )
    async def test_a_decision_is_answered_alike_either_way(
        self,
        make_app: AppFactory,
        fast_decisions: list[str],
        overrides: dict[str, Any],
        outcome: str,
    ) -> None:
        body = encoded(credential_request(**overrides))
        async with client_for(make_app(policy=relaxed_policy())) as client:
            fast = [await post(client, body, kind) for kind in FAST_TYPES]
            slow = [await post(client, body, kind) for kind in FASTAPI_TYPES]

        assert len(fast_decisions) == len(FAST_TYPES)
        expected = comparable(fast[0])
        assert expected[0] == 200
        assert expected[1]["cache-control"] == "no-store"
        assert expected[1]["content-type"] == "application/json"
        assert expected[2]["outcome"] == outcome
        assert [comparable(answer) for answer in fast + slow] == [expected] * 5

    async def test_a_rate_limited_decision_says_when_to_retry_either_way(
        self, make_app: AppFactory, fast_decisions: list[str]
    ) -> None:
        policy = relaxed_policy(address_decisions=Quota(1, HOUR))
        body = encoded(credential_request())
        async with client_for(make_app(policy=policy)) as client:
            await post(client, body, "application/json")
            fast = await post(client, body, "application/json")
            slow = await post(client, body, "application/merge-patch+json")

        assert len(fast_decisions) == 2
        assert fast.json()["outcome"] == "rate_limited"
        assert fast.headers["retry-after"] == "3600"
        assert fast.headers["cache-control"] == "no-store"
        assert comparable(slow) == comparable(fast)

    async def test_a_body_of_several_kilobytes_is_decided_on_the_raw_path(
        self, make_app: AppFactory, fast_decisions: list[str]
    ) -> None:
        assignment = "Prototype bill impact calculations " + "for a dashboard " * 200
        body = encoded(credential_request(assignment=assignment.strip()))
        async with client_for(make_app(policy=relaxed_policy())) as client:
            fast = await post(client, body, "application/json")
            slow = await post(client, body, "application/merge-patch+json")

        assert fast_decisions == [ISSUE]
        assert fast.json()["outcome"] == "issued"
        assert comparable(slow) == comparable(fast)


# Bodies the model refuses (each a JSON object): the raw handler leaves them to FastAPI.
REFUSED_BODIES = [
    pytest.param(credential_request(organization_name=None), id="missing-field"),
    pytest.param(credential_request(requested_scopes="calculate"), id="wrong-type"),
    pytest.param(credential_request(requested_scopes=[]), id="empty-list"),
    pytest.param(credential_request(organization_name="x" * 256), id="too-long"),
    pytest.param(credential_request(user_email="not-an-address"), id="bad-email"),
    pytest.param(credential_request(requested_ttl_seconds=-5), id="negative-ttl"),
    pytest.param({}, id="empty-object"),
]
# Raw bodies no model sees: (bytes, what the envelope says of the body).
UNREADABLE_BODIES = [
    pytest.param(b"{", "Malformed JSON", id="truncated"),
    pytest.param(b'{"organization_name": "x",}', "Malformed JSON", id="trailing-comma"),
    pytest.param(b"[]", "valid dictionary", id="array"),
    pytest.param(b'"text"', "valid dictionary", id="string"),
]


class TestTheSameRefusal:
    @pytest.mark.parametrize("body", REFUSED_BODIES)
    async def test_a_body_the_model_refuses_gets_the_same_envelope_either_way(
        self, client: httpx.AsyncClient, fast_decisions: list[str], body: dict[str, Any]
    ) -> None:
        fast = await post(client, encoded(body), "application/json")
        slow = await post(client, encoded(body), "application/merge-patch+json")

        assert fast_decisions == []
        assert_envelope(fast, status=400, code="VALIDATION_FAILED")
        assert field_names(fast.json())
        assert comparable(fast) == comparable(slow)

    @pytest.mark.parametrize(
        "raw",
        [
            pytest.param(b'{"organization_name": "a\\ud800"}', id="lone-surrogate"),
            pytest.param(b'{"requested_ttl_seconds": NaN}', id="nan"),
            pytest.param(b'{"requested_ttl_seconds": ' + b"9" * 5000 + b"}", id="long-integer"),
            pytest.param(b'{"extra": ' + b"[" * 3000 + b"]" * 3000 + b"}", id="deep-nesting"),
        ],
    )
    async def test_an_unstorable_body_gets_the_same_envelope_either_way(
        self, client: httpx.AsyncClient, fast_decisions: list[str], raw: bytes
    ) -> None:
        fast = await post(client, raw, "application/json")
        slow = await post(client, raw, "application/merge-patch+json")

        assert fast_decisions == []
        assert fast.status_code == 400, fast.text
        assert comparable(fast) == comparable(slow)

    @pytest.mark.parametrize(("raw", "problem"), UNREADABLE_BODIES)
    async def test_an_unreadable_body_names_the_body_either_way(
        self, client: httpx.AsyncClient, fast_decisions: list[str], raw: bytes, problem: str
    ) -> None:
        fast = await post(client, raw, "application/json")
        slow = await post(client, raw, "application/merge-patch+json")

        assert fast_decisions == []
        body = assert_envelope(fast, status=400, code="VALIDATION_FAILED")
        assert field_names(body) == ["body"]
        assert problem in body["field_errors"][0]["message"]
        assert comparable(fast) == comparable(slow)

    async def test_an_empty_body_is_required_either_way(
        self, client: httpx.AsyncClient, fast_decisions: list[str]
    ) -> None:
        fast = await post(client, b"", "application/json")
        slow = await post(client, b"", "application/merge-patch+json")

        assert fast_decisions == []
        assert_envelope(fast, status=400, code="VALIDATION_FAILED")
        assert comparable(fast) == comparable(slow)

    async def test_an_oversized_body_is_413_before_either_path(
        self, client: httpx.AsyncClient, fast_decisions: list[str]
    ) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"organization_name": "'
            for _ in range(3):
                yield b"x" * (1024 * 1024)
            yield b'"}'

        streamed = await client.post(
            ISSUE, content=chunks(), headers={"content-type": "application/json"}
        )
        declared = await post(
            client, b'{"a": "' + b"x" * (3 * 1024 * 1024) + b'"}', "application/json"
        )

        assert fast_decisions == []
        assert_envelope(streamed, status=413, code="VALIDATION_FAILED")
        assert_envelope(declared, status=413, code="VALIDATION_FAILED")

    async def test_another_content_type_is_still_415(
        self, client: httpx.AsyncClient, fast_decisions: list[str]
    ) -> None:
        response = await post(client, encoded(credential_request()), "text/plain")

        assert fast_decisions == []
        assert_envelope(response, status=415, code="VALIDATION_FAILED")


@pytest.mark.both_backends  # the stored idempotency claim and answer
class TestIdempotencyKeyRequests:
    async def test_a_keyed_request_is_fastapis_and_its_retry_is_replayed(
        self, client: httpx.AsyncClient, fast_decisions: list[str]
    ) -> None:
        body = encoded(credential_request())
        key = {"Idempotency-Key": "0b6f8a2e-5c1d-4e3f-8a9b-7c6d5e4f3a2b"}

        first = await post(client, body, "application/json", key)
        retry = await post(client, body, "application/json", key)
        unkeyed = await post(client, body, "application/json")

        assert fast_decisions == [ISSUE]  # the unkeyed one only
        assert first.json()["outcome"] == "issued"
        assert "Idempotent-Replayed" not in first.headers
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.content == first.content
        assert retry.headers["cache-control"] == "no-store"
        assert unkeyed.json()["credential_id"] != first.json()["credential_id"]
        assert comparable(unkeyed) == comparable(first)


class TestTheSameClient:
    async def test_the_forwarded_address_behind_a_trusted_proxy_is_the_client_either_way(
        self, make_app: AppFactory, fast_decisions: list[str], db: DatabaseProbe
    ) -> None:
        app = make_app(policy=relaxed_policy(), trusted_proxies="10.0.0.0/8")
        body = encoded(credential_request())
        forwarded = {"x-forwarded-for": "198.51.100.77"}
        async with client_for(app, client_address="10.0.0.2") as proxy:
            fast = await post(proxy, body, "application/json", forwarded)
            slow = await post(proxy, body, "application/merge-patch+json", forwarded)

        assert fast_decisions == [ISSUE]
        rows = await db.rows("SELECT id, client_address, client_network FROM credential_requests")
        by_id = {row.pop("id"): row for row in rows}
        expected = {"client_address": "198.51.100.77", "client_network": "198.51.100.77/32"}
        assert by_id[fast.json()["credential_request_id"]] == expected
        assert by_id[slow.json()["credential_request_id"]] == expected

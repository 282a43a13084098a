"""The edges of HTTP: request ids, unknown routes, wrong methods, bodies, probes."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from agentkeys.credentials.scopes import Scope
from agentkeys.sandbox.utility import routes as utility_routes
from tests.support.app import AppFactory, client_for
from tests.support.assertions import assert_envelope, assert_request_id, field_names
from tests.support.factories import SEED_REQUEST, issue_credential, key_header


@asynccontextmanager
async def client_without_database(
    make_app: AppFactory, tmp_path: Path, backend: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A client on an app whose database cannot be reached: a SQLite file in a folder that does
    not exist, or a PostgreSQL server on a port where nothing listens."""
    missing = tmp_path / "no-such-dir" / "db.sqlite"
    url = (
        f"sqlite+aiosqlite:///{missing}"
        if backend == "sqlite"
        else "postgresql+asyncpg://postgres@127.0.0.1:1/agentkeys"
    )
    running_before = set(threading.enumerate())
    async with client_for(make_app(database_url=url)) as client:
        yield client
    # When a connection fails, aiosqlite stops its worker thread without awaiting it; should the
    # test's event loop close first, the thread reports into a closed loop, and pytest fails a
    # later test on that unhandled thread exception. Let the threads end while the loop runs.
    for thread in set(threading.enumerate()) - running_before:
        if thread.name.endswith("(_connection_worker_thread)"):
            await asyncio.to_thread(thread.join, 5)


class TestRequestId:
    async def test_every_response_carries_a_fresh_request_id(
        self, client: httpx.AsyncClient
    ) -> None:
        responses = [
            await client.get("/healthz"),
            await client.get("/nowhere"),
            await client.post("/v1/agent-credentials", json=SEED_REQUEST),
            await client.get("/openapi.json"),
        ]

        ids = [assert_request_id(response) for response in responses]
        assert len(set(ids)) == len(ids)

    async def test_a_client_cannot_choose_its_request_id(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz", headers={"x-request-id": "ws_request_mine"})

        assert assert_request_id(response) != "ws_request_mine"


class TestRouting:
    async def test_unknown_route_is_404_in_the_envelope(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/nothing-here", json={})

        assert_envelope(response, status=404, code="NOT_FOUND")

    async def test_unknown_route_is_404_before_authentication(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post("/v1/no-such-family/list", headers={"x-ws-api-key": "bogus"})

        assert_envelope(response, status=404, code="NOT_FOUND")

    async def test_wrong_method_is_405_with_allow(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/agent-credentials")

        assert_envelope(response, status=405, code="METHOD_NOT_ALLOWED")
        assert response.headers["allow"] == "POST"


class TestBodies:
    @pytest.mark.parametrize(
        ("content", "problem"),
        [
            (b"{", "Malformed JSON"),
            (b'{"organization_name": "x",}', "Malformed JSON"),
            (b"[]", "valid dictionary"),
            (b'"text"', "valid dictionary"),
            (b"", "required"),
        ],
    )
    async def test_a_body_that_is_not_an_object_names_the_body(
        self, client: httpx.AsyncClient, content: bytes, problem: str
    ) -> None:
        response = await client.post(
            "/v1/agent-credentials", content=content, headers={"content-type": "application/json"}
        )

        body = assert_envelope(response, status=400, code="VALIDATION_FAILED")
        assert field_names(body) == ["body"]
        assert problem in body["field_errors"][0]["message"]

    @pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
    async def test_a_wrong_content_type_is_415(
        self, client: httpx.AsyncClient, content_type: str
    ) -> None:
        response = await client.post(
            "/v1/agent-credentials", content=b"{}", headers={"content-type": content_type}
        )

        assert_envelope(response, status=415, code="VALIDATION_FAILED")

    async def test_json_with_a_charset_is_accepted(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/agent-credentials",
            content=httpx.Request("POST", "/", json=SEED_REQUEST).content,
            headers={"content-type": "application/json; charset=utf-8"},
        )

        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "issued"

    async def test_a_declared_oversized_body_is_413_unread(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/agent-credentials",
            content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
            headers={"content-type": "application/json"},
        )

        assert_envelope(response, status=413, code="VALIDATION_FAILED")

    async def test_a_streamed_oversized_body_is_413(self, client: httpx.AsyncClient) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(3):
                yield b" " * (1024 * 1024)

        response = await client.post(
            "/v1/agent-credentials",
            content=chunks(),
            headers={"content-type": "application/json"},
        )

        assert_envelope(response, status=413, code="VALIDATION_FAILED")

    async def test_a_body_just_under_the_limit_is_read(self, client: httpx.AsyncClient) -> None:
        padding = " " * (2 * 1024 * 1024 - 2)

        response = await client.post(
            "/v1/agent-credentials",
            content=("{" + padding + "}").encode(),
            headers={"content-type": "application/json"},
        )

        body = assert_envelope(response, status=400, code="VALIDATION_FAILED")
        assert sorted(field_names(body)) == [
            "assignment",
            "organization_name",
            "requested_scopes",
            "user_name",
        ]


@pytest.mark.both_backends  # an unreachable database of each kind
class TestProbes:
    async def test_healthz_answers(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")

        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    async def test_readyz_checks_the_database(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/readyz")

        assert response.status_code == 200
        assert response.json() == {"status": "ready"}

    async def test_routes_answer_503_when_the_database_is_unreachable(
        self, make_app: AppFactory, tmp_path: Path, backend: str
    ) -> None:
        async with client_without_database(make_app, tmp_path, backend) as client:
            response = await client.post("/v1/agent-credentials", json=SEED_REQUEST)

        body = assert_envelope(response, status=503, code="SERVICE_UNAVAILABLE")
        assert "retry" in str(body["recovery_action"]).lower()

    async def test_readyz_is_503_when_the_database_is_unreachable(
        self, make_app: AppFactory, tmp_path: Path, backend: str
    ) -> None:
        async with client_without_database(make_app, tmp_path, backend) as client:
            response = await client.get("/readyz")

        body = assert_envelope(response, status=503, code="SERVICE_UNAVAILABLE")
        assert body["recovery_action"]


class TestUnexpectedErrors:
    async def test_a_bug_answers_500_in_the_envelope_and_is_logged_with_its_request_id(
        self,
        client: httpx.AsyncClient,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
    ) -> None:

        def broken(*_args: object, **_kwargs: object) -> None:
            raise RuntimeError("a bug, with a detail the client must not see")

        monkeypatch.setattr(utility_routes, "find_utilities", broken)
        issued = await issue_credential(client, requested_scopes=[Scope.UTILITY_READ])

        with caplog.at_level(logging.INFO, logger="agentkeys"):
            response = await client.post(
                "/v1/utility/get",
                json={"zipcode": "94107"},
                headers=key_header(issued["credential"]),
            )

        body = assert_envelope(response, status=500, code="INTERNAL_ERROR")
        assert "detail the client must not see" not in response.text
        request_id = str(body["request_id"])
        assert any(
            record.levelno == logging.ERROR and getattr(record, "request_id", None) == request_id
            for record in caplog.records
        )
        assert any(
            record.name == "agentkeys.access" and "500" in record.getMessage()
            for record in caplog.records
        )

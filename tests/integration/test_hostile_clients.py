"""Hostile clients through HTTP: forged log lines, repeated key headers, long echoes, methods.

Each class is walked over every route the OpenAPI description lists, so a route added later is
covered without a test of its own.
"""

from __future__ import annotations

import io
import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agentkeys.config import Settings
from agentkeys.credentials.scopes import Scope
from agentkeys.logs import KeyValueFormatter
from agentkeys.sandbox.utility import routes as utility_routes
from tests.support.admin import create_admin_key
from tests.support.app import AppFactory, client_for
from tests.support.assertions import assert_envelope
from tests.support.databases import ServedDatabase
from tests.support.factories import issue_credential, key_header
from tests.support.servers import running_server

LONG = "ab" * 2_500  # 5,000 characters, and recognisable in any 60 of them
ECHO_RUN = LONG[:60]
FORGED_LINE = "1999-12-31 19:18:00,000 INFO agentkeys.credentials.service credential request"
FORGERIES = [
    # A newline and a complete fake event after it, a pair to fake, each way to break a line.
    "/nothing\n" + FORGED_LINE + " decided outcome=issued",
    "/nothing\r" + FORGED_LINE,
    "/nothing\r\n" + FORGED_LINE,
    "/v1/homes/\x00/get",
    "/nothing\x85" + FORGED_LINE,
    "/nothing\u2028" + FORGED_LINE,
    "/nothing\u202e/dessecorp",
    "/nothing\x1b[2J",
    "/nothing outcome=issued credential_id=ws_cred_forged",
    '/nothing" outcome="issued',
]

WORD = re.compile(r'(?:[^ "]|"(?:[^"\\]|\\.)*")+')
PAIR = re.compile(r"\w+=")


def operations(app: FastAPI) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations_at in app.openapi()["paths"].items():
        for method, operation in operations_at.items():
            yield method.upper(), path, operation


# Forward auth takes every method and any sub-path (a gateway forwards the original request's;
# Envoy appends its path): no trailing slash, method or HEAD of its is "wrong" (its own tests:
# test_forward_auth.py).
FORWARD_AUTH = frozenset({"/v1/auth/forward", "/v1/auth/forward/{path}"})


def concrete(path: str, value: str = "ws_home_unknown") -> str:
    return re.sub(r"\{[^}]+\}", value, path)


def guarded(app: FastAPI) -> list[tuple[str, str]]:
    """Every operation that takes an agent key (documents 401 and the x-ws-api-key scheme), with
    its path made concrete. The admin API takes admin keys only (an agent key there is 403)."""
    return [
        (method, concrete(path))
        for method, path, op in operations(app)
        if "401" in op["responses"] and {"WattShiftApiKey": []} in op.get("security", [])
    ]


async def all_scopes_key(client: httpx.AsyncClient, app: FastAPI) -> str:
    scopes = sorted(app.state.context.policy.catalog.scopes)
    issued = await issue_credential(client, requested_scopes=scopes)
    return str(issued["credential"])


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the server's real formatter writes for the agentkeys loggers during the test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("agentkeys")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def assert_no_forged_line(written: str, *, events: int, keyed: bool = False) -> None:
    lines = written.split("\n")
    assert lines[-1] == ""
    assert len(lines) - 1 == events, written
    for line in lines[:-1]:
        assert all(char.isprintable() for char in line), ascii(line)
        assert not line.startswith("1999-12-31"), line
        # Read as key=value words (a double-quoted run is one word), no forged pair appears.
        pairs = [word.partition("=")[0] for word in WORD.findall(line) if PAIR.match(word)]
        # Without a valid key in the request, a credential_id pair can only be a forged one.
        expected = {"request_id", "route", "duration_ms", "client_address", "traceback"}
        assert set(pairs) <= expected | ({"credential_id"} if keyed else set()), line


class TestLogForging:
    @pytest.mark.parametrize("path", FORGERIES)
    async def test_a_path_writes_one_escaped_access_line(
        self, client: httpx.AsyncClient, log_lines: io.StringIO, path: str
    ) -> None:
        # The raw path as a server hands it over (httpx would encode it; ASGI carries it decoded).
        request = client.build_request("POST", "http://agentkeys.test/")
        request.extensions["target"] = b"/"
        transport = client._transport
        assert isinstance(transport, httpx.ASGITransport)
        original = transport.app

        async def with_path(scope: Any, receive: Any, send: Any) -> None:
            await original({**scope, "path": path, "raw_path": path.encode()}, receive, send)

        transport.app = with_path
        try:
            response = await client.send(request)
        finally:
            transport.app = original

        assert response.status_code in {401, 404, 405}
        assert_no_forged_line(log_lines.getvalue(), events=1)
        assert "agentkeys.access" in log_lines.getvalue()

    async def test_an_encoded_newline_in_a_url_is_escaped(
        self, client: httpx.AsyncClient, log_lines: io.StringIO
    ) -> None:
        await client.get(
            "/nothing%0A1999-12-31%2019:18:00,000%20INFO%20agentkeys.credentials.service"
            "%20credential%20request%20decided%20outcome=issued"
        )
        await client.post("/v1/homes/%00/get")

        written = log_lines.getvalue()
        assert_no_forged_line(written, events=2)
        assert "\\n1999-12-31" in written
        assert "/v1/homes/\\x00/get" in written

    async def test_a_traceback_quoting_the_client_stays_on_its_line(
        self,
        client: httpx.AsyncClient,
        log_lines: io.StringIO,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        def broken(*args: object, **_kwargs: object) -> None:
            raise RuntimeError(f"bad input {args!r}")

        monkeypatch.setattr(utility_routes, "find_utilities", broken)
        issued = await issue_credential(client, requested_scopes=[Scope.UTILITY_READ])
        log_lines.truncate(0)
        log_lines.seek(0)

        response = await client.post(
            "/v1/utility/get",
            json={"zipcode": "94107", "utilityId": "x\n" + FORGED_LINE + " outcome=issued"},
            headers=key_header(issued["credential"]),
        )

        assert response.status_code in {400, 500}
        written = log_lines.getvalue()
        # The error with its traceback, and the access line: two events, two lines.
        assert_no_forged_line(written, events=written.count("\n"), keyed=True)
        assert written.count(" agentkeys.") == written.count("\n")


class TestKeyHeader:
    async def test_a_repeated_key_header_is_refused_on_every_guarded_route(
        self, make_app: AppFactory
    ) -> None:
        app = make_app()
        async with client_for(app) as client:
            first = await all_scopes_key(client, app)
            second = await all_scopes_key(client, app)
            routes = guarded(app)
            assert len(routes) >= 10
            for method, path in routes:
                for keys in ([first, second], [second, first], [first, first]):
                    response = await client.request(
                        method,
                        path,
                        json={},
                        headers=[("x-ws-api-key", key) for key in keys],
                    )

                    body = assert_envelope(response, status=401, code="AUTH_INVALID_API_KEY")
                    assert "sent 2 times" in body["message"], (method, path)

    async def test_a_key_sent_twice_cannot_revoke(self, client: httpx.AsyncClient) -> None:
        issued = await issue_credential(client)
        key = issued["credential"]

        response = await client.post(
            issued["revocation_path"], headers=[("x-ws-api-key", key), ("x-ws-api-key", key)]
        )
        still = await client.get("/v1/agent-credentials/self", headers=key_header(key))

        assert_envelope(response, status=401, code="AUTH_INVALID_API_KEY")
        assert still.status_code == 200

    @pytest.mark.parametrize("padding", [" {}", "{} ", "\t{}", "{}\t", "\xa0{}", " {} "])
    async def test_surrounding_whitespace_is_named_not_stripped(
        self, make_app: AppFactory, padding: str
    ) -> None:
        app = make_app()
        async with client_for(app) as client:
            issued = await issue_credential(client)
            key = padding.format(issued["credential"])
            for method, path in [*guarded(app), ("POST", issued["revocation_path"])]:
                response = await client.request(
                    method,
                    path,
                    json={},
                    headers=[(b"x-ws-api-key", key.encode("latin-1"))],
                )

                body = assert_envelope(response, status=401, code="AUTH_INVALID_API_KEY")
                assert "leading or trailing whitespace" in body["message"], (method, path)

    async def test_keys_joined_by_a_proxy_are_named(self, client: httpx.AsyncClient) -> None:
        key = (await issue_credential(client))["credential"]

        response = await client.get(
            "/v1/agent-credentials/self", headers=key_header(f"{key}, {key}")
        )

        body = assert_envelope(response, status=401, code="AUTH_INVALID_API_KEY")
        assert "more than one value" in body["message"]


def assert_not_echoed_whole(response: httpx.Response) -> None:
    assert ECHO_RUN not in response.text, response.text[:300]
    assert len(response.text) < 2_500, len(response.text)


class TestEchoes:
    async def test_a_long_id_is_not_echoed_on_any_route(self, make_app: AppFactory) -> None:
        app = make_app()
        async with client_for(app) as client:
            key = await all_scopes_key(client, app)
            templated = [(m, p) for m, p, _ in operations(app) if "{" in p]
            assert len(templated) >= 8
            for method, path in templated:
                response = await client.request(
                    method, concrete(path, LONG), json={}, headers=key_header(key)
                )

                assert 400 <= response.status_code < 500, (method, path, response.text[:200])
                assert_not_echoed_whole(response)

    @pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
    async def test_a_long_unknown_path_is_not_echoed(
        self, client: httpx.AsyncClient, method: str
    ) -> None:
        response = await client.request(method, f"/v1/{LONG}")

        body = assert_envelope(response, status=404, code="NOT_FOUND")
        assert "characters omitted" in body["message"]
        assert_not_echoed_whole(response)

    async def test_a_long_path_with_the_wrong_method_is_not_echoed(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get(f"/v1/agent-credentials/{LONG}/revoke")

        assert_envelope(response, status=405, code="METHOD_NOT_ALLOWED")
        assert_not_echoed_whole(response)

    async def test_a_long_content_type_is_not_echoed(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/v1/agent-credentials", content=b"x", headers={"content-type": f"text/{LONG}"}
        )

        assert response.status_code == 415
        assert_not_echoed_whole(response)

    async def test_long_field_names_and_values_are_not_echoed(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        app = make_app()
        _, admin_key = await create_admin_key(settings, "ops")
        async with client_for(app) as client:
            key = await all_scopes_key(client, app)
            for method, path, operation in operations(app):
                # Routes whose body may be empty (every field optional) ignore unknown fields;
                # introspection's body is a form (RFC 7662), a JSON one is 415.
                body = operation.get("requestBody", {})
                if (
                    not body.get("required")
                    or "{" in path
                    or "application/json" not in body.get("content", {})
                ):
                    continue
                # Each route with the kind of key it takes: the admin API an admin key.
                headers = (
                    {"Authorization": f"Bearer {admin_key}"}
                    if operation.get("security") == [{"AdminKey": []}]
                    else key_header(key)
                )
                for body in ({LONG: 1}, {"name": LONG, "zipcode": LONG, "organization_name": 1}):
                    response = await client.request(method, path, json=body, headers=headers)

                    assert response.status_code == 400, (path, response.text[:200])
                    assert_not_echoed_whole(response)


class TestTrailingSlashes:
    async def test_a_trailing_slash_is_an_unknown_route_never_a_redirect(
        self, make_app: AppFactory
    ) -> None:
        """A redirect built from the Host header could send the client, and its key, elsewhere."""
        app = make_app()
        async with client_for(app) as client:
            for method, path, _ in operations(app):
                if path in FORWARD_AUTH:
                    continue
                concrete = re.sub(r"\{[^}]+\}", "ws_home_" + "0" * 32, path)
                response = await client.request(
                    method, concrete + "/", headers={"host": "evil.example"}
                )

                assert "location" not in response.headers, (method, path)
                assert_envelope(response, status=404, code="NOT_FOUND")


class TestMethods:
    async def test_every_wrong_method_is_405_method_not_allowed(self, make_app: AppFactory) -> None:
        app = make_app()
        async with client_for(app) as client:
            for method, path, _ in operations(app):
                if path in FORWARD_AUTH:
                    continue
                wrong = "PATCH" if method != "PATCH" else "PUT"

                response = await client.request(wrong, concrete(path))

                body = assert_envelope(response, status=405, code="METHOD_NOT_ALLOWED")
                assert wrong in body["message"]
                allowed = {m.strip() for m in response.headers["allow"].split(",")}
                assert method in allowed
                assert ("HEAD" in allowed) == ("GET" in allowed)

    async def test_head_answers_wherever_get_does_without_a_body(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        app = make_app(webhooks_allow_private=True)
        _, admin_key = await create_admin_key(settings, "ops")
        async with client_for(app) as client:
            issued = await issue_credential(client)
            endpoint = await client.post(
                "/v1/admin/webhooks",
                json={"url": "http://127.0.0.1:9/", "events": ["credential.issued"]},
                headers={"Authorization": f"Bearer {admin_key}"},
            )
            gets = [
                (path, operation)
                for method, path, operation in operations(app)
                if method == "GET" and path not in FORWARD_AUTH
            ]
            assert len(gets) >= 3
            for template, operation in gets:
                # Each route with the kind of key it takes, and a real id where it names one.
                admin_route = operation.get("security") == [{"AdminKey": []}]
                headers = (
                    {"Authorization": f"Bearer {admin_key}"}
                    if admin_route
                    else key_header(issued["credential"])
                )
                # A page of the discovery documents is named by an operationId.
                named = (
                    "getLlmsTxt"
                    if "{operationId}" in template
                    else endpoint.json()["endpoint_id"]
                    if "{endpointId}" in template
                    else issued["credential_id"]
                )
                path = concrete(template, named)
                got = await client.get(path, headers=headers)
                head = await client.head(path, headers=headers)

                assert head.status_code == got.status_code == 200, (path, head.text)
                assert head.content == b""
                assert head.headers["content-type"] == got.headers["content-type"]
                if "content-length" in got.headers:
                    assert head.headers["content-length"] == str(len(got.content))
                else:  # a streamed answer (the ledger's export): no length either way
                    assert "content-length" not in head.headers, path
                assert "x-request-id" in head.headers

    async def test_head_where_get_is_not_allowed_is_405(self, make_app: AppFactory) -> None:
        app = make_app()
        with_get = {path for method, path, _ in operations(app) if method == "GET"}
        async with client_for(app) as client:
            for _, path, _ in operations(app):
                if path in with_get:  # HEAD is GET there (POST /v1/admin/webhooks beside GET)
                    continue
                response = await client.head(concrete(path))

                assert response.status_code == 405, path
                assert response.content == b""
                assert "HEAD" not in response.headers["allow"]

    async def test_allow_names_every_method_of_a_path_with_several_routes(
        self, client: httpx.AsyncClient
    ) -> None:
        # GET lists webhooks and POST creates one, at one path: Allow names both (and HEAD).
        response = await client.delete("/v1/admin/webhooks")

        assert response.status_code == 405
        assert response.headers["allow"] == "GET, POST, HEAD"

    async def test_head_of_an_unknown_route_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.head("/v1/nothing-here")

        assert response.status_code == 404
        assert response.content == b""

    def test_the_code_is_in_the_openapi_description(self, make_app: AppFactory) -> None:
        schema = make_app().openapi()

        assert "METHOD_NOT_ALLOWED" in schema["components"]["schemas"]["ErrorCode"]["enum"]


class TestServerLog:
    def test_a_real_server_writes_one_escaped_line_per_event(
        self, served_database: ServedDatabase, tmp_path: Path
    ) -> None:
        with running_server(
            database_url=served_database.url,
            log_path=tmp_path / "server.log",
            extra_env={"AGENTKEYS_LOG_FORMAT": "text"},
        ) as server:
            host, port = server.base_url.removeprefix("http://").split(":")
            for target in [
                "/nothing%0A1999-12-31%2019:18:00,000%20INFO%20agentkeys.credentials.service"
                "%20credential%20request%20decided%20outcome=issued",
                "/v1/homes/%00/get",
                "/nothing%0D%0A1999-12-31%20x%E2%80%A8y%ED%A0%80z",
                "/nothing%20outcome=issued%22%20credential_id=ws_cred_forged",
            ]:
                with socket.create_connection((host, int(port)), timeout=5) as connection:
                    connection.sendall(
                        f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
                    )
                    while connection.recv(65536):
                        pass
            head = httpx.head(f"{server.base_url}/readyz")
            get = httpx.get(f"{server.base_url}/readyz")
            server.stop()
        written = server.log_path.read_bytes()

        # HEAD through uvicorn: GET's status and length, no body, no server error.
        assert head.status_code == get.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == str(len(get.content))
        assert b" ERROR " not in written

        assert b"\x00" not in written
        access = [
            line
            for line in written.decode("utf-8", errors="strict").split("\n")
            if " agentkeys.access " in line and "/readyz" not in line
        ]
        assert len(access) == 4, written.decode()
        assert_no_forged_line("\n".join(access) + "\n", events=4)
        assert not any(line.startswith("1999-12-31") for line in written.decode().split("\n"))

"""A revocation whose body arrives slowly holds no lock, transaction or pooled connection.

Real server processes on both backends, and raw sockets that send a revocation's headers and the
first byte of its body, then wait. Revocation is idempotent, so an already revoked key would let
a client do this forever: everyone else must be answered promptly meanwhile.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.dependencies.models import Dependant

from agentkeys.api.app import create_app
from agentkeys.api.deps import unit_of_work
from agentkeys.config import Mode, Settings
from agentkeys.credentials.leak_routes import leak_report_body
from agentkeys.credentials.routes import revocation_request_body
from tests.support.databases import ServedDatabase
from tests.support.factories import credential_request, key_header
from tests.support.servers import RunningServer, running_server
from tests.unit.test_api_wiring import api_routes

# Bodies are read before the revocation takes its locks.
pytestmark = pytest.mark.both_backends

# More than the PostgreSQL pool's 5 + 10 connections, and than SQLite's one writer.
SLOW_CLIENTS = 20
PROMPT_SECONDS = 3.0


@contextmanager
def slow_revocation(server: RunningServer, key: str, credential_id: str) -> Iterator[None]:
    """A revocation that declares a 20-byte body, sends ``{`` and stays open."""
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(
            (
                f"POST /v1/agent-credentials/{credential_id}/revoke HTTP/1.1\r\n"
                f"Host: {host}\r\nx-ws-api-key: {key}\r\n"
                "Content-Type: application/json\r\nContent-Length: 20\r\n\r\n{"
            ).encode()
        )
        yield


def issue(http: httpx.Client, number: int, address: str) -> dict[str, str]:
    started = time.monotonic()
    response = http.post(
        "/v1/agent-credentials",
        json=credential_request(
            organization_name=f"Prompt Org {number}", user_email=f"dev{number}@example.com"
        ),
        headers={"x-forwarded-for": address},
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "issued", response.text
    assert elapsed < PROMPT_SECONDS, f"issuance took {elapsed:.1f} s"
    body: dict[str, str] = response.json()
    return body


class TestSlowRevocationBodies:
    def test_others_issue_and_revoke_promptly_while_bodies_trickle(
        self, served_database: ServedDatabase, tmp_path: Path
    ) -> None:
        with (
            running_server(
                database_url=served_database.url,
                log_path=tmp_path / "server.log",
                extra_env={"AGENTKEYS_TRUSTED_PROXIES": "127.0.0.1"},
            ) as server,
            httpx.Client(base_url=server.base_url, timeout=30) as http,
        ):
            attacker = issue(http, 0, "198.51.100.1")
            # Already revoked: the slow revocations below would be idempotent repeats.
            first = http.post(
                attacker["revocation_path"], headers=key_header(attacker["credential"])
            )
            assert first.status_code == 200
            victim = issue(http, 1, "198.51.100.2")

            with ExitStack() as sockets:
                for _ in range(SLOW_CLIENTS):
                    sockets.enter_context(
                        slow_revocation(server, attacker["credential"], attacker["credential_id"])
                    )
                time.sleep(1.0)  # let the server take up every one of them

                for number in range(2, 6):
                    issue(http, number, f"203.0.113.{number}")
                started = time.monotonic()
                revoked = http.post(
                    victim["revocation_path"], headers=key_header(victim["credential"])
                )
                elapsed = time.monotonic() - started
                still_open = http.get("/readyz")

            assert revoked.status_code == 200, revoked.text
            assert revoked.json()["outcome"] == "revoked"
            assert elapsed < PROMPT_SECONDS, f"the owner's revocation took {elapsed:.1f} s"
            assert still_open.status_code == 200


class TestBodiesBeforeLocks:
    def test_every_route_with_a_body_reads_it_before_any_dependency(self) -> None:
        """FastAPI reads a declared body before it runs a route's dependencies; the routes that
        read their body raw (revoke: parsed after the guards; leak reports: signed as sent) read
        it first, so no route can hold a session, transaction or lock while its body arrives."""
        app = create_app(Settings(mode=Mode.DEVELOPMENT, database_url="sqlite+aiosqlite://"))
        documented = {
            (method.upper(), path)
            for path, operations in app.openapi()["paths"].items()
            for method, operation in operations.items()
            if "requestBody" in operation
        }
        routes = {
            (m, route.path_format): route
            for route in api_routes(app.routes)
            for m in route.methods or ()
        }
        assert len(documented) >= 8
        for key in documented:
            route = routes[key]
            if route.body_field is not None:
                continue
            # FastAPI solves sub-dependencies before their dependant, depth first and in order:
            # the raw body read must come before the first call that opens a session.
            calls = solving_order(route.dependant)
            if unit_of_work not in calls:
                # No session at all: the body is read in the route, after its caller's check.
                assert key in SESSIONLESS_BODY_ROUTES, key
                continue
            reader = RAW_BODY_READERS[key]
            assert reader in calls, key
            assert calls.index(reader) < calls.index(unit_of_work), key


# The routes that read their body raw in the route itself and open no request session: the
# verification API and introspection (their caller is authenticated first, no oracle).
SESSIONLESS_BODY_ROUTES = {("POST", "/v1/keys/verify"), ("POST", "/oauth/introspect")}

# The routes that read their body raw, and the dependency that reads it.
RAW_BODY_READERS = {
    ("POST", "/v1/agent-credentials/{credentialId}/revoke"): revocation_request_body,
    ("POST", "/v1/agent-credentials/leaked"): leak_report_body,
}


def solving_order(dependant: Dependant) -> list[Callable[..., Any] | None]:
    """The calls FastAPI makes for a dependant's dependencies, in the order it makes them."""
    order: list[Callable[..., Any] | None] = []
    for dependency in dependant.dependencies:
        order.extend(solving_order(dependency))
        order.append(dependency.call)
    return order

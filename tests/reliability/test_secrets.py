"""No issued secret is ever written down: not in the database, not in a log line (CONTRACT §6).

A real ``agentkeys serve`` process (SQLite file, and PostgreSQL) at DEBUG log level goes through a
realistic run: several keys issued and used on guarded routes, one revoked, bad keys, a key in a
query string, keys in invalid request body fields and in an unknown one. Afterwards the stored
data (SQLite: the file with its -wal and -shm; PostgreSQL: every row of every table, and pg_dump)
and every log line must hold no issued secret, neither whole nor its 43-character random part.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url

from agentkeys.credentials import keys
from agentkeys.credentials.scopes import Scope
from agentkeys.tables import metadata
from tests.support.app import TEST_SECRET
from tests.support.catalog import E_TOU_C
from tests.support.databases import ServedDatabase
from tests.support.factories import credential_request, key_header
from tests.support.servers import running_server

# What each backend holds after a realistic run.
pytestmark = pytest.mark.both_backends

PREFIX = "wsk_agent_"
SELF = "/v1/agent-credentials/self"
ISSUE = "/v1/agent-credentials"
FULL_SCOPES = [Scope.UTILITY_READ, "homes", "calculate", Scope.PRICE_SIGNAL_READ]


def stored_bytes(database: ServedDatabase) -> bytes:
    """Everything stored: the SQLite files' bytes, or PostgreSQL's rows and its pg_dump."""
    if database.sqlite_path is not None:
        files = sorted(database.sqlite_path.parent.glob(f"{database.sqlite_path.name}*"))
        assert files, "no database file"
        return b"".join(path.read_bytes() for path in files)
    probe = database.probe()
    rows: list[Any] = []
    for table in metadata.sorted_tables:
        rows.extend(asyncio.run(probe.rows(f"SELECT * FROM {table.name}")))  # noqa: S608
    assert rows, "nothing stored"
    return repr(rows).encode() + pg_dump(database.url)


def pg_dump(url: str) -> bytes:
    """The database as pg_dump writes it (empty when pg_dump is not installed)."""
    executable = shutil.which("pg_dump")
    if executable is None:
        return b""
    parsed = make_url(url)
    return subprocess.run(
        [
            executable,
            "--host",
            parsed.host or "127.0.0.1",
            "--port",
            str(parsed.port or 5432),
            "--username",
            parsed.username or "postgres",
            "--no-password",
            parsed.database or "postgres",
        ],
        capture_output=True,
        check=True,
    ).stdout


def random_part(secret: str) -> str:
    assert keys.KEY_PATTERN.fullmatch(secret), secret
    return secret[len(PREFIX) : len(PREFIX) + keys.RANDOM_LENGTH]


def found_in(haystack: bytes, secrets: Iterable[str]) -> list[str]:
    """Which secrets (whole, or their random part) occur in ``haystack``."""
    found = []
    for secret in secrets:
        if secret.encode() in haystack:
            found.append(f"{secret[:14]}… whole")
        elif random_part(secret).encode() in haystack:
            found.append(f"{secret[:14]}… random part")
    return found


def issue(client: httpx.Client, n: int, scopes: list[str]) -> dict[str, Any]:
    response = client.post(
        ISSUE,
        json=credential_request(
            organization_name=f"Secret Keeping Co {n}",
            user_email=f"keeper{n}@example.com",
            requested_scopes=scopes,
        ),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["outcome"] == "issued", body
    return body


def expect(response: httpx.Response, status: int) -> httpx.Response:
    assert response.status_code == status, (response.request.url.path, response.text)
    return response


def realistic_run(client: httpx.Client) -> list[str]:
    """Issue, use, misuse and revoke keys the way agents do; returns every issued secret."""
    full = issue(client, 1, FULL_SCOPES)
    feedback = issue(client, 2, [Scope.FEEDBACK_WRITE])
    reader = issue(client, 3, [Scope.HOMES_READ])
    doomed = issue(client, 4, [Scope.UTILITY_READ])
    secrets = [issued["credential"] for issued in (full, feedback, reader, doomed)]
    key = full["credential"]
    headers = key_header(key)

    # Guarded routes, as granted.
    for issued in (full, feedback, reader, doomed):
        expect(client.get(SELF, headers=key_header(issued["credential"])), 200)
    expect(
        client.post(
            "/v1/utility/get", headers=headers, json={"zipcode": "94107", "detailLevel": "full"}
        ),
        200,
    )
    home = expect(
        client.post(
            "/v1/homes/create", headers=headers, json={"name": "Home", "ratePlanId": E_TOU_C}
        ),
        201,
    ).json()["id"]
    expect(client.post("/v1/homes/list", headers=headers), 200)
    expect(client.post(f"/v1/homes/{home}/get", headers=headers), 200)
    expect(
        client.post(
            f"/v1/homes/{home}/bill/monthly",
            headers=headers,
            json={"month": 7, "year": 2026, "usage": [[0.25] * 96] * 31},
        ),
        200,
    )
    expect(client.post(f"/v1/homes/{home}/price_signal", headers=headers), 200)
    expect(
        client.post(
            "/v1/feedback",
            headers=key_header(feedback["credential"]),
            json={"name": "Avery", "message": "Works well"},
        ),
        201,
    )
    # Refusals of valid keys: another's home, a scope not granted.
    expect(client.post(f"/v1/homes/{home}/get", headers=key_header(reader["credential"])), 404)
    expect(
        client.post(
            "/v1/utility/get",
            headers=key_header(reader["credential"]),
            json={"zipcode": "94107"},
        ),
        403,
    )

    # Revoke one, use it, revoke it again.
    doomed_headers = key_header(doomed["credential"])
    expect(
        client.post(doomed["revocation_path"], headers=doomed_headers, json={"reason": "done"}),
        200,
    )
    expect(client.get(SELF, headers=doomed_headers), 401)
    expect(client.post(doomed["revocation_path"], headers=doomed_headers), 200)
    expect(client.post("/v1/utility/get", headers=doomed_headers, json={"zipcode": "94107"}), 401)

    # Bad keys made from a real one: wrong checksum, truncated, extended, well-formed but unknown.
    body = random_part(key)
    other = "A" if body[0] != "A" else "B"
    forged = other + body[1:]
    for bad in (
        key[:-1] + ("0" if key[-1] != "0" else "1"),
        key[:-1],
        key + "x",
        key.lower(),
        PREFIX + forged + keys.checksum(forged),
    ):
        expect(client.get(SELF, headers=key_header(bad)), 401)
        expect(client.post(full["revocation_path"], headers=key_header(bad)), 401)
    expect(client.get(SELF, headers={"Authorization": f"Bearer {key}"}), 401)

    # A key in the query string, with and without the header.
    expect(client.get(SELF, params={"x-ws-api-key": key}), 401)
    expect(
        client.post(
            "/v1/utility/get", params={"api_key": key}, headers=headers, json={"zipcode": "94107"}
        ),
        200,
    )
    asked = expect(client.post(ISSUE, params={"credential": key}, json=credential_request()), 200)
    secrets.append(asked.json()["credential"])

    # Keys in request body fields that fail validation ...
    for invalid in (
        {"requested_ttl_seconds": key},
        {"docs_context": key},
        {"user_email": key},
        {"organization_name": key * 6},
        {"tech_stack": [key * 2]},
        {"requested_scopes": [key * 3]},
        {"requested_environment": key},
        {"agent": key * 3},
    ):
        expect(client.post(ISSUE, json=credential_request(**invalid)), 400)
    expect(
        client.post(
            ISSUE,
            content=b'{"organization_name": "' + key.encode() + b'", "broken',
            headers={"content-type": "application/json"},
        ),
        400,
    )
    expect(
        client.post(
            reader["revocation_path"],
            headers=key_header(reader["credential"]),
            json={"reason": key * 5},
        ),
        400,
    )
    expect(
        client.post(
            "/v1/feedback",
            headers=key_header(feedback["credential"]),
            json={"name": "Avery", "message": "Works", "feedback_type": key},
        ),
        400,
    )
    expect(
        client.post("/v1/homes/create", headers=headers, json={"name": "Home", "zipcode": key}),
        400,
    )
    # ... and in an unknown field of a valid request, which is ignored.
    asked = expect(client.post(ISSUE, json={**credential_request(), "x-ws-api-key": key}), 200)
    secrets.append(asked.json()["credential"])

    # The reader's key is still valid: the invalid revocation body revoked nothing.
    expect(client.get(SELF, headers=key_header(reader["credential"])), 200)
    metrics = expect(client.get("/metrics"), 200).content
    assert not found_in(metrics, secrets), found_in(metrics, secrets)
    return secrets


class TestNoSecretIsWrittenDown:
    def test_database_and_logs_hold_no_issued_secret_after_a_realistic_run(
        self, served_database: ServedDatabase, tmp_path: Path
    ) -> None:
        log_path = tmp_path / "server.log"
        with (
            running_server(database_url=served_database.url, log_path=log_path) as server,
            httpx.Client(base_url=server.base_url, timeout=30) as client,
        ):
            secrets = realistic_run(client)
            while_running = stored_bytes(served_database)
        after_shutdown = stored_bytes(served_database)
        log = log_path.read_bytes()

        assert len(set(secrets)) == 6
        # The run did reach the database and the log (the checks below are not vacuous): the
        # digests are stored, and the decisions and revocation were logged.
        for secret in secrets:
            digest = keys.digest(secret, server_secret=TEST_SECRET.encode()).encode()
            assert digest in while_running
            assert digest in after_shutdown
        assert b"credential request decided" in log
        assert b"credential revoked" in log
        assert not found_in(while_running, secrets), found_in(while_running, secrets)
        assert not found_in(after_shutdown, secrets), found_in(after_shutdown, secrets)
        leaking_lines = [
            line
            for line in log.decode(errors="replace").splitlines()
            if found_in(line.encode(), secrets)
        ]
        assert not leaking_lines, leaking_lines


class TestKeyInTheUrlPath:
    def test_a_key_sent_in_the_path_is_not_logged(self, tmp_path: Path) -> None:
        """An agent that puts its key where the credential id belongs, or in a wrong route."""
        log_path = tmp_path / "server.log"
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'path.db'}"
        with (
            running_server(database_url=database_url, log_path=log_path) as server,
            httpx.Client(base_url=server.base_url, timeout=30) as client,
        ):
            issued = issue(client, 1, FULL_SCOPES)
            key = issued["credential"]
            revoke_by_key = client.post(f"{ISSUE}/{key}/revoke", headers=key_header(key))
            wrong_route = client.get(f"/v1/agent-credentials/self/{key}", headers=key_header(key))
        log = log_path.read_text(errors="replace")

        assert revoke_by_key.status_code == 404
        assert wrong_route.status_code == 404
        leaks = [f"log line: {line}" for line in log.splitlines() if found_in(line.encode(), [key])]
        leaks += [
            f"error message: {answer.json()['message']}"
            for answer in (revoke_by_key, wrong_route)
            if found_in(answer.content, [key])
        ]
        assert not leaks, leaks

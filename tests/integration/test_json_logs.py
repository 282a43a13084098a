"""JSON Lines logs from a real `agentkeys serve` (AGENTKEYS_LOG_FORMAT=json): every line parses,
the access, decision and revocation lines carry their fields, no secret is written anywhere, and
hostile input stays one bounded line.

One server runs one realistic session for the whole module; each test reads its output.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import httpx
import pytest

from agentkeys.config import Mode, Settings
from agentkeys.credentials import keys
from agentkeys.credentials.policy_file import load_policy
from agentkeys.logs import TEXT_FORMAT, JsonFormatter, KeyValueFormatter
from agentkeys.ratelimit.base import RequestRate
from tests.support.admin import create_admin_key
from tests.support.app import TEST_SECRET, AppFactory, client_for
from tests.support.factories import (
    credential_request,
    issue_credential,
    key_header,
    request_credential,
)
from tests.support.servers import running_server

ISSUE = "/v1/agent-credentials"
SELF = "/v1/agent-credentials/self"
REVOKE_TEMPLATE = "/v1/agent-credentials/{credentialId}/revoke"
ADMIN_REVOKE_TEMPLATE = "/v1/admin/credentials/{credentialId}/revoke"
REQUIRED = {"ts", "level", "event", "request_id"}
ACCESS_FIELDS = {"method", "route", "status", "duration_ms", "credential_id", "client_address"}
# Any key-like token that is not the redaction marker.
KEY_TEXT = re.compile(rb"wsk_(?:agent|admin)_(?!\[redacted\])[0-9A-Za-z]")
# The longest line one event may write: a value is cut at 512 characters, each written as at
# most 6 (``\u2028``) by JSON's escapes, plus the line's other fields.
MAX_ACCESS_LINE = 6 * 512 + 1_024
LONG_RUN = 6_500
HOSTILE_PATHS = {
    "newline": "/nothing%0A{%22ts%22:%22forged%22,%22event%22:%22credential%20revoked%22}",
    "separators": "/nothing%E2%80%A8x%E2%80%A9y%C2%85z%0D%0Aw",
    "nul": "/v1/homes/%00/get",
    "long": "/nothing/" + "%E2%80%A8" * LONG_RUN,  # 58.5 KB of request line
}


@dataclass
class Session:
    """What the module's server was asked, what it answered, and what it wrote."""

    written: bytes = b""
    base_url: str = ""
    secrets: list[str] = field(default_factory=list)
    request_ids: dict[str, str] = field(default_factory=dict)
    answers: dict[str, httpx.Response] = field(default_factory=dict)
    issued: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused_below: dict[str, int] = field(default_factory=dict)

    @cached_property
    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.written.decode().splitlines()]

    def lines_of(self, name: str) -> list[dict[str, Any]]:
        """Every line logged while serving the request the session named ``name``."""
        return [line for line in self.lines if line["request_id"] == self.request_ids[name]]

    def access_line(self, name: str) -> dict[str, Any]:
        (line,) = [line for line in self.lines_of(name) if line["event"] == "request"]
        return line


def raw_request(base_url: str, head: str) -> tuple[int, str]:
    """Send a request head as written (no client encoding); its status and request id."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head.encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    found = re.search(rb'"request_id":"(ws_request_[0-9A-Za-z]+)"', answer)
    found = found or re.search(rb"x-request-id: (\S+)", answer, flags=re.IGNORECASE)
    assert found, answer[:500]
    return status, found[1].decode()


def run_session(base_url: str, database_url: str, session: Session) -> None:
    def remember(name: str, response: httpx.Response) -> httpx.Response:
        session.answers[name] = response
        session.request_ids[name] = response.headers["x-request-id"]
        return response

    with httpx.Client(base_url=base_url, timeout=30) as client:
        for name, organization in (("holder", "Self Revoking Co"), ("managed", "Managed Co")):
            body = remember(
                f"issue-{name}",
                client.post(ISSUE, json=credential_request(organization_name=organization)),
            ).json()
            assert body["outcome"] == "issued", body
            session.issued[name] = body
            session.secrets.append(body["credential"])
        holder = session.issued["holder"]
        vague = remember(
            "vague", client.post(ISSUE, json=credential_request(assignment="do the thing"))
        )
        assert vague.json()["outcome"] == "needs_more_info", vague.text
        # A key pasted where it does not belong: a field of a request, a query string, a path.
        pasted = remember(
            "pasted",
            client.post(ISSUE, json=credential_request(organization_name=holder["credential"])),
        )
        assert pasted.status_code == 200, pasted.text
        remember("query", client.get(f"/nowhere?key={holder['credential']}"))
        remember("in-path", client.get(f"{ISSUE}/{holder['credential']}/revoke"))
        remember("self", client.get(SELF, headers=key_header(holder["credential"])))
        remember("bad-key", client.get(SELF, headers=key_header("wsk_agent_" + "A" * 49)))
        remember("wrong-method", client.post("/readyz"))
        remember("head", client.head("/healthz"))
        remember(
            "self-revoke",
            client.post(
                holder["revocation_path"],
                headers=key_header(holder["credential"]),
                json={"reason": f"done with {holder['credential']}"},
            ),
        )
        admin_id, admin_key = asyncio.run(
            create_admin_key(
                Settings(mode=Mode.PRODUCTION, secret=TEST_SECRET, database_url=database_url),
                "night-shift",
            )
        )
        session.secrets.append(admin_key)
        session.request_ids["admin-key-id"] = admin_id
        managed = session.issued["managed"]["credential_id"]
        remember(
            "admin-revoke",
            client.post(
                f"/v1/admin/credentials/{managed}/revoke",
                headers={"Authorization": f"Bearer {admin_key}"},
                json={"reason": "incident"},
            ),
        )
    for name, target in HOSTILE_PATHS.items():
        status, request_id = raw_request(
            base_url, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        session.answers[name] = httpx.Response(status)
        session.request_ids[name] = request_id
    # 60 KB of header (under the 64 KiB head limit), holding a key and line breaks' UTF-8.
    status, request_id = raw_request(
        base_url,
        f"GET {SELF} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"x-ws-api-key: {session.secrets[0]}\u2028{'x' * 60_000}\r\n\r\n",
    )
    session.answers["long-header"] = httpx.Response(status)
    session.request_ids["long-header"] = request_id
    # Refused below the application, where no route or access line exists: still one line.
    for name, head in (
        ("head-too-large", f"GET / HTTP/1.1\r\nHost: x\r\nx-big: {'y' * 70_000}\r\n\r\n"),
        ("malformed", "GET / NOT-HTTP\r\n\r\n"),
    ):
        status, request_id = raw_request(base_url, head)
        session.refused_below[name] = status
        session.request_ids[name] = request_id


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    directory = tmp_path_factory.mktemp("json-logs")
    database_url = f"sqlite+aiosqlite:///{directory / 'served.db'}"
    recorded = Session()
    with running_server(
        database_url=database_url,
        log_path=directory / "server.log",
        extra_env={"AGENTKEYS_LOG_FORMAT": "json"},
    ) as server:
        recorded.base_url = server.base_url
        run_session(server.base_url, database_url, recorded)
        server.stop()
    recorded.written = server.log_path.read_bytes()
    return recorded


class TestEveryLine:
    def test_every_line_is_one_json_object_with_the_required_keys(self, session: Session) -> None:
        text = session.written.decode("utf-8", errors="strict")
        assert text.endswith("\n")
        for line in text.splitlines():
            entry = json.loads(line)
            assert isinstance(entry, dict), line
            assert entry.keys() >= REQUIRED, line
            assert entry["level"] in {"debug", "info", "warning", "error", "critical"}, line
            assert isinstance(entry["event"], str), line
            assert entry["ts"].endswith("Z"), line
            datetime.fromisoformat(entry["ts"])

    def test_uvicorn_lines_come_out_as_json_and_there_is_no_uvicorn_access_log(
        self, session: Session
    ) -> None:
        events = [(line["logger"], line["event"]) for line in session.lines]

        assert ("uvicorn.error", "Application startup complete.") in events
        assert ("uvicorn.error", "Application shutdown complete.") in events
        assert not [line for line in session.lines if line["logger"] == "uvicorn.access"]

    def test_the_server_says_where_it_listens(self, session: Session) -> None:
        # Uvicorn does not, when it is handed the socket: the operator must not have to guess.
        (first, *_) = session.lines
        assert first["logger"] == "agentkeys.cli"
        assert first["event"] == f"serving on {session.base_url} (workers: 1)"

    def test_nothing_went_wrong_in_the_server(self, session: Session) -> None:
        assert not [
            line
            for line in session.lines
            if line["level"] in {"error", "critical"} or "traceback" in line
        ]


class TestAccessLine:
    def test_each_request_has_exactly_one_access_line_with_its_fields(
        self, session: Session
    ) -> None:
        for name, answer in session.answers.items():
            line = session.access_line(name)

            assert line.keys() >= REQUIRED | ACCESS_FIELDS, line
            assert line["logger"] == "agentkeys.access"
            assert line["status"] == answer.status_code, (name, line)
            assert isinstance(line["duration_ms"], int | float), line
            assert line["duration_ms"] >= 0
            assert line["client_address"] == "127.0.0.1"

    def test_the_route_is_the_template_and_the_path_is_apart(self, session: Session) -> None:
        holder = session.issued["holder"]["credential_id"]
        revoke = session.access_line("self-revoke")

        assert revoke["route"] == REVOKE_TEMPLATE
        assert revoke["path"] == f"{ISSUE}/{holder}/revoke"
        assert revoke["method"] == "POST"
        assert session.access_line("admin-revoke")["route"] == ADMIN_REVOKE_TEMPLATE
        assert session.access_line("issue-holder")["route"] == ISSUE
        assert session.access_line("self")["route"] == SELF

    def test_unknown_paths_wrong_methods_and_head_are_named(self, session: Session) -> None:
        assert session.access_line("query")["route"] == "unmatched"
        assert session.access_line("query")["path"] == "/nowhere"  # never the query string
        wrong_method = session.access_line("wrong-method")
        assert (wrong_method["route"], wrong_method["status"]) == ("/readyz", 405)
        head = session.access_line("head")
        assert (head["method"], head["route"], head["status"]) == ("HEAD", "/healthz", 200)

    def test_a_keyed_request_names_its_credential_never_its_key(self, session: Session) -> None:
        holder = session.issued["holder"]

        assert session.access_line("self")["credential_id"] == holder["credential_id"]
        assert session.access_line("self-revoke")["credential_id"] == holder["credential_id"]
        assert holder["credential"] not in session.written.decode()

    def test_requests_without_a_valid_key_name_no_credential(self, session: Session) -> None:
        for name in ("issue-holder", "vague", "bad-key", "query", "wrong-method"):
            assert session.access_line(name)["credential_id"] is None, name

    def test_an_admin_request_names_the_admin_key_by_id(self, session: Session) -> None:
        line = session.access_line("admin-revoke")

        assert line["admin_key_id"] == session.request_ids["admin-key-id"]
        assert line["credential_id"] is None
        assert line["status"] == 200

    def test_a_request_refused_below_the_application_is_one_line_with_its_status(
        self, session: Session
    ) -> None:
        assert session.refused_below == {"head-too-large": 431, "malformed": 400}
        for name, status in session.refused_below.items():
            (line,) = session.lines_of(name)

            assert line["status"] == status
            assert line["logger"] == "agentkeys.api.protocol"


class TestDecisionAndRevocationLines:
    def test_an_issuance_decision_is_one_line_with_its_outcome_and_ids(
        self, session: Session
    ) -> None:
        issued = session.issued["holder"]
        (decision,) = [
            line
            for line in session.lines_of("issue-holder")
            if line["event"] == "credential request decided"
        ]

        assert decision["outcome"] == "issued"
        assert decision["credential_id"] == issued["credential_id"]
        assert decision["credential_request_id"] == issued["credential_request_id"]
        assert decision["credential_request_id"].startswith("ws_cred_request_")

    def test_a_refusal_is_one_line_without_a_credential(self, session: Session) -> None:
        (decision,) = [
            line
            for line in session.lines_of("vague")
            if line["event"] == "credential request decided"
        ]

        assert decision["outcome"] == "needs_more_info"
        assert decision["credential_id"] is None
        assert decision["credential_request_id"].startswith("ws_cred_request_")

    def test_a_revocation_by_its_own_key_names_self(self, session: Session) -> None:
        (revoked,) = [
            line
            for line in session.lines_of("self-revoke")
            if line["event"] == "credential revoked"
        ]

        assert revoked["revoked_by"] == "self"
        assert revoked["credential_id"] == session.issued["holder"]["credential_id"]

    def test_a_revocation_by_an_admin_key_names_the_key(self, session: Session) -> None:
        (revoked,) = [
            line
            for line in session.lines_of("admin-revoke")
            if line["event"] == "credential revoked"
        ]

        assert revoked["revoked_by"] == "admin:night-shift"
        assert revoked["credential_id"] == session.issued["managed"]["credential_id"]


class TestNoSecretIsLogged:
    def test_no_key_server_secret_or_digest_is_in_the_output(self, session: Session) -> None:
        written = session.written
        digests = [
            keys.digest(secret, server_secret=TEST_SECRET.encode()) for secret in session.secrets
        ]

        assert len(session.secrets) == 3
        assert not KEY_TEXT.findall(written), KEY_TEXT.findall(written)[:3]
        for secret in session.secrets:
            assert secret.encode() not in written
            assert secret[-49:].encode() not in written  # the random part and checksum
        assert TEST_SECRET.encode() not in written
        for digest in digests:
            assert digest.encode() not in written
        # The pasted keys did reach the log, redacted: the scan above is not vacuous.
        assert b"wsk_agent_[redacted]" in written


class TestHostileInput:
    @pytest.mark.parametrize("name", [*HOSTILE_PATHS, "long-header"])
    def test_hostile_input_is_one_bounded_line(self, session: Session, name: str) -> None:
        (line,) = [
            raw for raw in session.written.decode().splitlines() if session.request_ids[name] in raw
        ]

        assert len(line) <= MAX_ACCESS_LINE, len(line)
        assert line.isascii()
        assert json.loads(line)["event"] == "request"

    def test_line_breaks_in_a_path_are_escaped_and_read_back(self, session: Session) -> None:
        path = session.access_line("separators")["path"]

        assert path == "/nothing\u2028x\u2029y\x85z\r\nw"
        assert session.access_line("nul")["path"] == "/v1/homes/\x00/get"
        assert session.access_line("newline")["path"].startswith('/nothing\n{"ts":"forged"')

    def test_no_raw_line_break_or_nul_is_written(self, session: Session) -> None:
        for character in ("\u2028", "\u2029", "\x85", "\r", "\x00"):
            assert character.encode() not in session.written
        assert all(line["ts"] != "forged" for line in session.lines)

    def test_a_60_kb_path_is_cut_and_says_so(self, session: Session) -> None:
        path = session.access_line("long")["path"]

        assert path.startswith("/nothing/\u2028")
        assert path.endswith(f"…[+{len('/nothing/') + LONG_RUN - 512} chars]")


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the JSON formatter writes for the agentkeys loggers during an in-process test."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("agentkeys")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


class TestEveryDecisionIsOneLine:
    async def test_a_refusal_by_the_networks_request_rate_is_a_decision_line_too(
        self, make_app: AppFactory, json_lines: io.StringIO
    ) -> None:
        policy = load_policy()
        policy = replace(
            policy,
            request_costs=replace(
                policy.request_costs,
                issuance_per_network=RequestRate(1, timedelta(seconds=60)),
            ),
        )
        async with client_for(make_app(policy=policy)) as client:
            await request_credential(client, organization_name="First Co")
            refused = await request_credential(client, organization_name="Second Co")

        assert refused.json()["outcome"] == "rate_limited"
        lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
        decisions = [line for line in lines if line["event"] == "credential request decided"]
        assert [line["outcome"] for line in decisions] == ["issued", "rate_limited"]
        assert decisions[1]["credential_request_id"] == refused.json()["credential_request_id"]
        assert decisions[1]["request_id"] == refused.headers["x-request-id"]
        assert decisions[1]["recorded"] is False
        assert decisions[1]["credential_id"] is None


class TestTextFormat:
    async def test_the_access_line_keeps_its_shape_and_gains_the_new_fields(
        self, client: httpx.AsyncClient
    ) -> None:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(KeyValueFormatter(TEXT_FORMAT))
        access = logging.getLogger("agentkeys.access")
        previous = access.level
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        try:
            issued = await issue_credential(client)
            stream.truncate(0)
            stream.seek(0)
            answer = await client.get(SELF, headers=key_header(issued["credential"]))
        finally:
            access.removeHandler(handler)
            access.setLevel(previous)

        line = stream.getvalue()
        assert re.fullmatch(
            r"\S+ \S+ INFO agentkeys\.access GET /v1/agent-credentials/self 200 "
            rf"request_id={answer.headers['x-request-id']} route=/v1/agent-credentials/self "
            rf"duration_ms=[0-9.]+ credential_id={issued['credential_id']} "
            r"client_address=\S+\n",
            line,
        ), line

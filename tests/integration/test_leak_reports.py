"""Leaked-key reports (issue 13): GitHub's signed secret scanning reports and unsigned ones.

A signed report revokes every live key it names at once and answers GitHub's feedback format;
a bad or unknown signature revokes nothing. An unsigned report always answers 202 with the same
body, whatever it names, and revokes a live key. Both store the reporting URL.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pydantic import ValidationError

from agentkeys.clock import FrozenClock
from agentkeys.config import Mode, Settings
from agentkeys.credentials.keys import mint
from agentkeys.leak_report_keys import LeakReportKeysError, load_leak_report_keys
from tests.integration.test_startup import CONFIGURATION_ERROR, assert_refused, run, serve
from tests.support.admin import create_admin_key
from tests.support.app import TEST_SECRET, AppFactory, client_for
from tests.support.assertions import assert_envelope, parse_instant
from tests.support.databases import DatabaseProbe
from tests.support.factories import issue_credential, key_header

pytestmark = pytest.mark.both_backends

LEAKED = "/v1/agent-credentials/leaked"
SELF = "/v1/agent-credentials/self"
KEY_ID = "agentkeys-test-key-1"
FOUND_AT = "https://github.com/octo-org/octo-repo/blob/1f2e3d/config.env"

# GitHub's published example, from
# https://docs.github.com/en/code-security/secret-scanning/secret-scanning-partner-program
# ("Sample HTTP POST sent to verify endpoint": 104 bytes, key id and signature), and the public
# key with that identifier as api.github.com/meta/public_keys/secret_scanning lists it.
GITHUB_KEY_ID = "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c"
GITHUB_KEY = (
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYAGMWO8XgCamYKMJS6jc/qgvSlAd\n"
    "AjPuDPRcXU22YxgBrz+zoN19MzuRyW87qEt9/AmtoNP5GrobzUvQSyJFVw==\n"
    "-----END PUBLIC KEY-----\n"
)
GITHUB_PAYLOAD = (
    b'[{"source":"commit","token":"some_token","type":"some_type",'
    b'"url":"https://example.com/base-repo-url/"}]'
)
GITHUB_SIGNATURE = (
    "MEQCIQDaMKqrGnE27S0kgMrEK0eYBmyG0LeZismAEz/BgZyt7AIfXt9fErtRS4XaeSt/"
    "AO1RtBY66YcAdjxji410VQV4xg=="
)


def pem_of(private_key: ec.EllipticCurvePrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def key_file(path: Path, entries: list[tuple[str, str]]) -> Path:
    """A file in the shape of api.github.com/meta/public_keys/secret_scanning."""
    document = {
        "public_keys": [
            {"key_identifier": identifier, "key": pem, "is_current": True}
            for identifier, pem in entries
        ]
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def sign(private_key: ec.EllipticCurvePrivateKey, body: bytes) -> str:
    return base64.b64encode(private_key.sign(body, ec.ECDSA(hashes.SHA256()))).decode("ascii")


def signed_headers(signature: str, identifier: str = KEY_ID) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Github-Public-Key-Identifier": identifier,
        "Github-Public-Key-Signature": signature,
    }


def matches(*tokens: str) -> bytes:
    return json.dumps(
        [
            {"token": token, "type": "agentkeys_agent_key", "url": FOUND_AT, "source": "content"}
            for token in tokens
        ]
    ).encode()


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def unknown_key() -> str:
    """A well-formed agent key (prefix, length, checksum) this server never issued."""
    return mint(server_secret=b"another server entirely").secret


@pytest.fixture
def signer() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def keys_path(tmp_path: Path, signer: ec.EllipticCurvePrivateKey) -> Path:
    return key_file(
        tmp_path / "leak-keys.json", [(KEY_ID, pem_of(signer)), (GITHUB_KEY_ID, GITHUB_KEY)]
    )


@pytest.fixture
async def http(make_app: AppFactory, keys_path: Path) -> Any:
    async with client_for(make_app(leak_report_keys=keys_path)) as client:
        yield client


async def row(db: DatabaseProbe, credential_id: str) -> dict[str, Any]:
    rows = await db.rows("SELECT * FROM credentials WHERE id = :id", id=credential_id)
    assert len(rows) == 1
    return rows[0]


async def assert_refused_as_revoked(http: httpx.AsyncClient, secret: str) -> None:
    response = await http.get(SELF, headers=key_header(secret))
    assert_envelope(response, status=401, code="AUTH_REVOKED_CREDENTIAL")


async def assert_still_works(http: httpx.AsyncClient, secret: str) -> None:
    response = await http.get(SELF, headers=key_header(secret))
    assert response.status_code == 200, response.text


class TestSignedReports:
    async def test_a_signed_report_revokes_every_live_key_and_answers_feedback(
        self, http: httpx.AsyncClient, signer: ec.EllipticCurvePrivateKey, db: DatabaseProbe
    ) -> None:
        first = await issue_credential(http, user_email="one@example.com")
        second = await issue_credential(http, user_email="two@example.com")
        stranger = unknown_key()
        body = matches(first["credential"], "not-a-key-at-all", second["credential"], stranger)

        response = await http.post(LEAKED, content=body, headers=signed_headers(sign(signer, body)))

        assert response.status_code == 200, response.text
        assert response.json() == [
            {
                "token_hash": sha256_hex(first["credential"]),
                "token_type": "agentkeys_agent_key",
                "label": "true_positive",
            },
            {
                "token_hash": sha256_hex("not-a-key-at-all"),
                "token_type": "agentkeys_agent_key",
                "label": "false_positive",
            },
            {
                "token_hash": sha256_hex(second["credential"]),
                "token_type": "agentkeys_agent_key",
                "label": "true_positive",
            },
            {
                "token_hash": sha256_hex(stranger),
                "token_type": "agentkeys_agent_key",
                "label": "false_positive",
            },
        ]
        for issued in (first, second):
            await assert_refused_as_revoked(http, issued["credential"])
            stored = await row(db, issued["credential_id"])
            assert stored["revoked_by"] == "leak"
            assert FOUND_AT in stored["revocation_reason"]
            assert "content" in stored["revocation_reason"]

    async def test_token_hash_is_sha256_hex_of_the_token(
        self, http: httpx.AsyncClient, signer: ec.EllipticCurvePrivateKey
    ) -> None:
        body = matches("abc")
        response = await http.post(LEAKED, content=body, headers=signed_headers(sign(signer, body)))
        # SHA-256("abc"), FIPS 180-2 appendix B.1.
        expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        assert response.json()[0]["token_hash"] == expected

    async def test_githubs_published_example_verifies(self, http: httpx.AsyncClient) -> None:
        response = await http.post(
            LEAKED, content=GITHUB_PAYLOAD, headers=signed_headers(GITHUB_SIGNATURE, GITHUB_KEY_ID)
        )
        assert response.status_code == 200, response.text
        assert response.json() == [
            {
                "token_hash": sha256_hex("some_token"),
                "token_type": "some_type",
                "label": "false_positive",
            }
        ]

    async def test_githubs_example_with_one_byte_more_is_refused(
        self, http: httpx.AsyncClient
    ) -> None:
        response = await http.post(
            LEAKED,
            content=GITHUB_PAYLOAD + b" ",
            headers=signed_headers(GITHUB_SIGNATURE, GITHUB_KEY_ID),
        )
        assert_envelope(response, status=401, code="AUTH_INVALID_API_KEY")

    @pytest.mark.parametrize("fault", ["other-body", "other-key", "unknown-id", "not-base64"])
    async def test_a_bad_signature_revokes_nothing(
        self,
        http: httpx.AsyncClient,
        signer: ec.EllipticCurvePrivateKey,
        db: DatabaseProbe,
        fault: str,
    ) -> None:
        issued = await issue_credential(http)
        body = matches(issued["credential"])
        headers = {
            "other-body": signed_headers(sign(signer, body + b"\n")),
            "other-key": signed_headers(sign(ec.generate_private_key(ec.SECP256R1()), body)),
            "unknown-id": signed_headers(sign(signer, body), identifier="no-such-key"),
            "not-base64": signed_headers("%%%not base64%%%"),
        }[fault]

        response = await http.post(LEAKED, content=body, headers=headers)

        assert_envelope(response, status=401, code="AUTH_INVALID_API_KEY")
        await assert_still_works(http, issued["credential"])
        assert (await row(db, issued["credential_id"]))["revoked_at"] is None

    async def test_one_signature_header_alone_is_refused(self, http: httpx.AsyncClient) -> None:
        issued = await issue_credential(http)
        response = await http.post(
            LEAKED,
            content=matches(issued["credential"]),
            headers={"Github-Public-Key-Identifier": KEY_ID, "Content-Type": "application/json"},
        )
        assert_envelope(response, status=401, code="AUTH_INVALID_API_KEY")
        await assert_still_works(http, issued["credential"])

    async def test_signed_reports_are_refused_without_configured_keys(
        self, client: httpx.AsyncClient, signer: ec.EllipticCurvePrivateKey
    ) -> None:
        issued = await issue_credential(client)
        body = matches(issued["credential"])
        response = await client.post(
            LEAKED, content=body, headers=signed_headers(sign(signer, body))
        )
        assert_envelope(response, status=401, code="AUTH_INVALID_API_KEY")
        await assert_still_works(client, issued["credential"])

    async def test_an_unsigned_array_is_refused(self, http: httpx.AsyncClient) -> None:
        issued = await issue_credential(http)
        response = await http.post(LEAKED, content=matches(issued["credential"]))
        assert_envelope(response, status=401, code="AUTH_INVALID_API_KEY")
        await assert_still_works(http, issued["credential"])

    async def test_expired_and_already_revoked_keys_are_true_positives_left_as_they_were(
        self,
        http: httpx.AsyncClient,
        signer: ec.EllipticCurvePrivateKey,
        db: DatabaseProbe,
        clock: FrozenClock,
    ) -> None:
        revoked = await issue_credential(http, user_email="revoked@example.com")
        own = await http.post(
            f"/v1/agent-credentials/{revoked['credential_id']}/revoke",
            headers=key_header(revoked["credential"]),
        )
        assert own.status_code == 200, own.text
        expired = await issue_credential(http, user_email="expired@example.com")
        clock.set(parse_instant(expired["expires_at"]))
        body = matches(revoked["credential"], expired["credential"])

        response = await http.post(LEAKED, content=body, headers=signed_headers(sign(signer, body)))

        assert [item["label"] for item in response.json()] == ["true_positive"] * 2
        assert (await row(db, revoked["credential_id"]))["revoked_by"] == "self"
        assert (await row(db, expired["credential_id"]))["revoked_at"] is None

    @pytest.mark.parametrize(
        "body",
        [
            pytest.param(b"[]", id="empty-array"),
            pytest.param(b'[{"type": "t"}]', id="no-token"),
            pytest.param(b'[{"token": 5, "type": "t"}]', id="token-not-a-string"),
            pytest.param(b"[{", id="malformed"),
        ],
    )
    async def test_a_signed_body_of_the_wrong_shape_is_400(
        self, http: httpx.AsyncClient, signer: ec.EllipticCurvePrivateKey, body: bytes
    ) -> None:
        response = await http.post(LEAKED, content=body, headers=signed_headers(sign(signer, body)))
        assert_envelope(response, status=400, code="VALIDATION_FAILED")


class TestUnsignedReports:
    async def test_every_report_gets_the_same_answer_and_a_live_key_is_revoked(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        live = await issue_credential(client)
        other = await issue_credential(client, user_email="bystander@example.com")
        reported = [live["credential"], unknown_key(), "wsk_agent_garbage", "hello"]

        answers = [
            await client.post(LEAKED, json={"credential": credential, "url": FOUND_AT})
            for credential in reported
        ]

        assert {answer.status_code for answer in answers} == {202}
        assert len({answer.content for answer in answers}) == 1
        assert answers[0].json() == {
            "status": "received",
            "message": "Report received. If it names a live key of this service, that key is "
            "revoked now. This answer is the same whatever was sent.",
        }
        await assert_refused_as_revoked(client, live["credential"])
        stored = await row(db, live["credential_id"])
        assert stored["revoked_by"] == "leak"
        assert FOUND_AT in stored["revocation_reason"]
        await assert_still_works(client, other["credential"])

    async def test_reporting_a_revoked_key_again_answers_the_same(
        self, client: httpx.AsyncClient
    ) -> None:
        live = await issue_credential(client)
        first = await client.post(LEAKED, json={"credential": live["credential"]})
        again = await client.post(LEAKED, json={"credential": live["credential"]})
        assert first.status_code == again.status_code == 202
        assert first.content == again.content

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            pytest.param(b'{"credential": "x', "body", id="malformed"),
            pytest.param(b"{}", "credential", id="missing"),
            pytest.param(b'{"credential": 7}', "credential", id="not-a-string"),
            pytest.param(b'{"credential": "k", "url": "ftp://x"}', "url", id="not-http"),
            pytest.param(b"", "body", id="empty"),
        ],
    )
    async def test_a_bad_body_is_400_naming_the_field(
        self, client: httpx.AsyncClient, body: bytes, field: str
    ) -> None:
        response = await client.post(
            LEAKED, content=body, headers={"Content-Type": "application/json"}
        )
        envelope = assert_envelope(response, status=400, code="VALIDATION_FAILED")
        assert [error["field"] for error in envelope["field_errors"]] == [field]

    async def test_unsigned_reports_are_rate_limited_per_network(
        self, make_app: AppFactory
    ) -> None:
        app = make_app()
        # The shipped policy's [revocation_rate]: 30 per 60 seconds per client network.
        async with client_for(app, client_address="203.0.113.7") as http:
            answers = [
                (await http.post(LEAKED, json={"credential": f"guess-{n}"})).status_code
                for n in range(31)
            ]
            assert answers == [202] * 30 + [429]
        # Another network (a /24 apart) keeps its own count.
        async with client_for(app, client_address="198.51.100.9") as http:
            answer = await http.post(LEAKED, json={"credential": "guess"})
            assert answer.status_code == 202, answer.text


class TestDiscoveryAndStats:
    async def test_the_well_known_document_names_the_endpoint(
        self, client: httpx.AsyncClient
    ) -> None:
        document = (await client.get("/.well-known/agent-credentials")).json()
        leaks = document["leak_reports"]
        assert leaks["method"] == "POST"
        assert leaks["path"] == LEAKED
        assert leaks["signature_headers"] == [
            "Github-Public-Key-Identifier",
            "Github-Public-Key-Signature",
        ]
        assert leaks["key_pattern"] == document["authentication"]["key_pattern"]
        assert leaks["unsigned_answer_status"] == 202
        assert leaks["unsigned_rate"] == {"limit": 30, "window_seconds": 60}
        assert leaks["revoked_by"] == "leak"
        # The path it names is served: an unsigned report there is answered 202.
        answer = await client.post(leaks["path"], json={"credential": "x"})
        assert answer.status_code == 202

    async def test_security_txt_names_the_contact_the_expiry_and_the_endpoint(
        self, make_app: AppFactory
    ) -> None:
        app = make_app(security_contact="mailto:keys@wattshift.test")
        async with client_for(app) as http:
            response = await http.get("/.well-known/security.txt")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        fields = [line for line in response.text.splitlines() if not line.startswith("#")]
        # The test clock starts at 2026-03-01T12:00:00Z; 180 days later is 2026-08-28.
        assert fields == [
            "Contact: mailto:keys@wattshift.test",
            "Expires: 2026-08-28T12:00:00Z",
            "Preferred-Languages: en",
        ]
        assert f"POST {LEAKED}" in response.text

    def test_a_contact_that_is_no_uri_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="security_contact"):
            Settings(mode=Mode.PRODUCTION, secret=TEST_SECRET, security_contact="call Bob")

    async def test_leak_revocations_count_as_leak_in_the_stats(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        live = await issue_credential(client)
        await client.post(LEAKED, json={"credential": live["credential"]})
        _, admin_key = await create_admin_key(settings, "ops")
        stats = await client.get(
            "/v1/admin/stats", headers={"Authorization": f"Bearer {admin_key}"}
        )
        assert stats.status_code == 200, stats.text
        assert stats.json()["revocations"] == {"total": 1, "by_revoked_by": {"leak": 1}}


BAD_KEY_FILES = [
    pytest.param(None, "cannot read", id="missing"),
    pytest.param("not json", "not JSON", id="not-json"),
    pytest.param('{"public_keys": []}', "at least one key", id="no-keys"),
    pytest.param(
        '{"public_keys": [{"key_identifier": "k", "key": "-----BEGIN PUBLIC KEY-----\\nAAAA\\n'
        '-----END PUBLIC KEY-----\\n"}]}',
        "public_keys[0].key: not a PEM public key",
        id="bad-pem",
    ),
]


@pytest.mark.parametrize(("text", "said"), BAD_KEY_FILES)
def test_a_bad_key_file_is_refused_when_settings_are_read(
    tmp_path: Path, text: str | None, said: str
) -> None:
    path = tmp_path / "keys.json"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(LeakReportKeysError, match=r"keys\.json"):
        load_leak_report_keys(path)
    with pytest.raises(ValidationError, match="leak_report_keys") as refused:
        Settings(mode=Mode.PRODUCTION, secret=TEST_SECRET, leak_report_keys=path)
    assert said in str(refused.value)


def test_a_key_of_another_curve_is_refused(tmp_path: Path) -> None:
    p384 = pem_of(ec.generate_private_key(ec.SECP384R1()))
    path = key_file(tmp_path / "keys.json", [("k", p384)])
    with pytest.raises(LeakReportKeysError, match="not an ECDSA P-256 public key"):
        load_leak_report_keys(path)


@pytest.mark.parametrize(("text", "said"), BAD_KEY_FILES[:1] + BAD_KEY_FILES[3:])
def test_serve_refuses_a_bad_key_file_in_one_line(
    tmp_path: Path, text: str | None, said: str
) -> None:
    path = tmp_path / "keys.json"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    result = run(serve(), tmp_path, leak_report_keys=str(path))
    line = assert_refused(result, code=CONFIGURATION_ERROR, said="AGENTKEYS_LEAK_REPORT_KEYS:")
    assert said in line

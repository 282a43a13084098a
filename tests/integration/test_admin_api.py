"""The admin API through HTTP on both backends: admin keys (roles, refusals), the credential
listing (filters, cursor pages), one credential, and revocation one at a time or in bulk."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from agentkeys.clock import FrozenClock
from agentkeys.config import Settings
from agentkeys.credentials import keys
from agentkeys.credentials.identity import AdminRole
from tests.support.admin import create_admin_key, revoke_admin_key
from tests.support.app import TEST_SECRET, AppFactory, client_for
from tests.support.assertions import assert_envelope, assert_validation_failed
from tests.support.databases import DatabaseProbe
from tests.support.factories import issue_credential, key_header

# Admin keys, listings and revocations are stored behaviour: both backends (issue 10).
pytestmark = pytest.mark.both_backends

LIST = "/v1/admin/credentials"
BULK = "/v1/admin/credentials/revoke"
SELF = "/v1/agent-credentials/self"
ITEM_FIELDS = {
    "credential_id",
    "organization_name",
    "user_name",
    "user_email",
    "agent",
    "client",
    "assignment",
    "scopes",
    "environment",
    "status",
    "created_at",
    "expires_at",
    "last_used_at",
    "revoked_at",
    "revoked_by",
    "revocation_reason",
    "credential_request_id",
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def issue_for(
    client: httpx.AsyncClient, organization: str, **overrides: Any
) -> dict[str, Any]:
    """A credential for ``organization``, with an e-mail of its own unless given."""
    slug = "".join(c for c in organization.lower() if c.isalnum())
    overrides.setdefault("user_email", f"dev-{slug}@example.com")
    return await issue_credential(client, organization_name=organization, **overrides)


@pytest.fixture
async def admin(settings: Settings) -> dict[str, str]:
    _, key = await create_admin_key(settings, "ops")
    return bearer(key)


@pytest.fixture
async def viewer(settings: Settings) -> dict[str, str]:
    _, key = await create_admin_key(settings, "auditor", AdminRole.VIEWER)
    return bearer(key)


class TestAdminAuthentication:
    ROUTES = (
        ("GET", LIST, None),
        ("GET", f"{LIST}/ws_agent_cred_x", None),
        ("POST", f"{LIST}/ws_agent_cred_x/revoke", {"reason": "incident"}),
        ("POST", BULK, {"organization": "Example Energy Co", "reason": "incident"}),
    )

    async def test_no_key_is_401_missing_on_every_route(self, client: httpx.AsyncClient) -> None:
        for method, path, body in self.ROUTES:
            answer = await client.request(method, path, json=body)
            assert_envelope(answer, status=401, code="AUTH_MISSING_API_KEY")

    async def test_an_agent_key_in_either_header_is_403_forbidden(
        self, client: httpx.AsyncClient
    ) -> None:
        agent_key = (await issue_credential(client))["credential"]
        for headers in (key_header(agent_key), bearer(agent_key)):
            for method, path, body in self.ROUTES:
                answer = await client.request(method, path, json=body, headers=headers)
                assert_envelope(answer, status=403, code="FORBIDDEN")

    async def test_bad_admin_keys_are_401(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        _, real = await create_admin_key(settings, "ops")
        unknown = keys.ADMIN_KEYS.mint(server_secret=TEST_SECRET.encode()).secret
        typo = real[:-1] + ("A" if real[-1] != "A" else "B")
        for key in (unknown, typo, real[:-3], "wsk_admin_short"):
            answer = await client.get(LIST, headers=bearer(key))
            envelope = assert_envelope(answer, status=401, code="AUTH_INVALID_API_KEY")
            assert key not in answer.text
            assert "admin key" in envelope["message"]
        for header in ("Basic b3BzOnNlY3JldA==", f"Bearer  {real}", "Bearer", real):
            answer = await client.get(LIST, headers={"Authorization": header})
            assert_envelope(answer, status=401, code="AUTH_INVALID_API_KEY")
            assert real not in answer.text

    async def test_authorization_sent_twice_is_401(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        twice = httpx.Headers([("Authorization", admin["Authorization"])] * 2)
        answer = await client.get(LIST, headers=twice)
        assert_envelope(answer, status=401, code="AUTH_INVALID_API_KEY")

    async def test_a_revoked_admin_key_is_refused_at_once(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        key_id, key = await create_admin_key(settings, "ops")
        # The cache bound at its maximum: a prompt refusal comes from the announcement.
        app = make_app(key_cache_seconds=1.0)
        async with client_for(app) as client:
            assert (await client.get(LIST, headers=bearer(key))).status_code == 200
            await revoke_admin_key(settings, key_id)
            # What `agentkeys admin revoke-key` announces; without Redis, this process's bus.
            await app.state.credentials.revocations.publish(key_id)
            answer = await client.get(LIST, headers=bearer(key))
        assert_envelope(answer, status=401, code="AUTH_REVOKED_CREDENTIAL")

    async def test_a_viewer_reads_but_may_not_revoke(
        self, client: httpx.AsyncClient, viewer: dict[str, str]
    ) -> None:
        issued = await issue_credential(client)
        assert (await client.get(LIST, headers=viewer)).status_code == 200
        one = f"{LIST}/{issued['credential_id']}"
        assert (await client.get(one, headers=viewer)).status_code == 200
        for path, body in (
            (f"{one}/revoke", {"reason": "incident"}),
            (BULK, {"organization": "Example Energy Co", "reason": "incident"}),
            # Refused for its role before its body is judged.
            (f"{one}/revoke", {}),
        ):
            answer = await client.post(path, json=body, headers=viewer)
            envelope = assert_envelope(answer, status=403, code="FORBIDDEN")
            assert "viewer" in envelope["message"]
        answer = await client.post(issued["revocation_path"], headers=viewer)
        assert_envelope(answer, status=403, code="FORBIDDEN")
        still = await client.get(SELF, headers=key_header(issued["credential"]))
        assert still.status_code == 200

    async def test_admin_keys_are_refused_on_sandbox_routes_as_admin_keys(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        _, key = await create_admin_key(settings, "ops")
        for headers in (key_header(key), bearer(key), {"Authorization": f"bearer {key}"}):
            for method, path in (("GET", SELF), ("POST", "/v1/utility/get")):
                answer = await client.request(method, path, json={}, headers=headers)
                envelope = assert_envelope(answer, status=401, code="AUTH_INVALID_API_KEY")
                assert "admin key" in envelope["message"], envelope
                assert key not in answer.text


class TestAdminRevocationThroughTheAgentRoute:
    async def test_an_admin_key_revokes_any_credential(
        self, client: httpx.AsyncClient, admin: dict[str, str], db: DatabaseProbe
    ) -> None:
        issued = await issue_credential(client)
        answer = await client.post(
            issued["revocation_path"], json={"reason": "leaked in a log"}, headers=admin
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["outcome"] == "revoked"
        refused = await client.get(SELF, headers=key_header(issued["credential"]))
        assert_envelope(refused, status=401, code="AUTH_REVOKED_CREDENTIAL")
        (row,) = await db.rows(
            "SELECT revoked_by, revocation_reason FROM credentials WHERE id = :id",
            id=issued["credential_id"],
        )
        assert row == {"revoked_by": "admin:ops", "revocation_reason": "leaked in a log"}
        again = await client.post(issued["revocation_path"], headers=admin)
        assert again.status_code == 200

    async def test_the_holders_own_revocation_records_self(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        issued = await issue_credential(client)
        headers = key_header(issued["credential"])
        assert (await client.post(issued["revocation_path"], headers=headers)).status_code == 200
        (row,) = await db.rows(
            "SELECT revoked_by FROM credentials WHERE id = :id", id=issued["credential_id"]
        )
        assert row == {"revoked_by": "self"}

    async def test_an_unknown_id_is_404_and_a_bad_body_400(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        answer = await client.post("/v1/agent-credentials/ws_agent_cred_nope/revoke", headers=admin)
        assert_envelope(answer, status=404, code="NOT_FOUND")
        issued = await issue_credential(client)
        bad = await client.post(
            issued["revocation_path"], json={"reason": "x" * 256}, headers=admin
        )
        assert_validation_failed(bad, "reason")


class TestListing:
    async def test_empty(self, client: httpx.AsyncClient, admin: dict[str, str]) -> None:
        answer = await client.get(LIST, headers=admin)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"items": [], "next_cursor": None}
        assert answer.headers["cache-control"] == "no-store"

    async def test_an_item_holds_what_the_issuance_stored(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        issued = await issue_credential(client)
        (item,) = (await client.get(LIST, headers=admin)).json()["items"]
        assert set(item) == ITEM_FIELDS
        assert item == {
            "credential_id": issued["credential_id"],
            "organization_name": "Example Energy Co",
            "user_name": "Avery Developer",
            "user_email": "developer@example.com",
            "agent": "claude-code",
            "client": "cli",
            "assignment": "Prototype bill impact calculations for a customer dashboard",
            "scopes": ["calculate", "homes"],
            "environment": "sandbox",
            "status": "active",
            "created_at": "2026-03-01T12:00:00.000Z",
            "expires_at": issued["expires_at"],
            "last_used_at": None,
            "revoked_at": None,
            "revoked_by": None,
            "revocation_reason": None,
            "credential_request_id": issued["credential_request_id"],
        }
        assert issued["credential"] not in (await client.get(LIST, headers=admin)).text

    async def test_filters(
        self, client: httpx.AsyncClient, admin: dict[str, str], clock: FrozenClock
    ) -> None:
        first = await issue_for(client, "Acme Power", user_email="Ops.Team+bot@Example.com")
        clock.advance(timedelta(minutes=10))
        second = await issue_for(
            client, "Other Grid", requested_scopes=["homes:read"], requested_ttl_seconds=3600
        )
        clock.advance(timedelta(minutes=10))
        third = await issue_for(client, "Acme Power", requested_scopes=["utility:read"])
        await client.post(third["revocation_path"], headers=key_header(third["credential"]))
        clock.advance(timedelta(hours=2))  # the second (1 hour TTL) has expired

        async def ids(**params: str) -> list[str]:
            answer = await client.get(LIST, params=params, headers=admin)
            assert answer.status_code == 200, answer.text
            return [item["credential_id"] for item in answer.json()["items"]]

        a, b, c = first["credential_id"], second["credential_id"], third["credential_id"]
        assert await ids() == [c, b, a]  # newest first
        # The quota's identity: case, punctuation and look-alike letters do not matter.
        assert await ids(organization="acme  power.") == [c, a]
        assert await ids(organization="\u0410cme Power") == [c, a]  # Cyrillic capital A
        assert await ids(user_email="ops.team@example.com") == [a]
        assert await ids(user_email="OPS.TEAM+other@EXAMPLE.COM") == [a]
        assert await ids(status="active") == [a]
        assert await ids(status="expired") == [b]
        assert await ids(status="revoked") == [c]
        # A scope matches credentials granted it or a coarse name that includes it.
        assert await ids(scope="homes:read") == [b, a]
        assert await ids(scope="homes") == [a]
        assert await ids(scope="utility:read") == [c]
        assert await ids(created_after="2026-03-01T12:05:00Z") == [c, b]
        assert await ids(created_before="2026-03-01T12:15:00Z") == [b, a]
        assert await ids(created_after="2026-03-01T12:00:00Z") == [c, b]  # strictly after
        assert await ids(
            organization="Acme Power", status="active", created_before="2026-03-01T12:15:00Z"
        ) == [a]

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"limit": "0"}, "limit"),
            ({"limit": "201"}, "limit"),
            ({"limit": "ten"}, "limit"),
            ({"status": "lost"}, "status"),
            ({"scope": "everything"}, "scope"),
            ({"created_after": "yesterday"}, "created_after"),
            ({"created_before": "1999-12-31T00:00:00Z"}, "created_before"),
            ({"organization": "a\x00b"}, "organization"),
            ({"user_email": "   "}, "user_email"),
            ({"organization": "o" * 256}, "organization"),
            ({"cursor": "not-a-cursor"}, "cursor"),
        ],
    )
    async def test_bad_parameters_are_400_naming_them(
        self,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        params: dict[str, str],
        field: str,
    ) -> None:
        answer = await client.get(LIST, params=params, headers=admin)
        assert_validation_failed(answer, field)


class TestPages:
    async def test_pages_walk_every_credential_once_newest_first(
        self, client: httpx.AsyncClient, admin: dict[str, str], clock: FrozenClock
    ) -> None:
        issued = []
        for number in range(5):
            issued.append((await issue_for(client, f"Org {number}"))["credential_id"])
            if number != 2:  # two share an instant: the id breaks the tie
                clock.advance(timedelta(seconds=1))
        seen: list[str] = []
        cursor = None
        sizes = []
        while True:
            params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            page = (await client.get(LIST, params=params, headers=admin)).json()
            sizes.append(len(page["items"]))
            seen.extend(item["credential_id"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sizes == [2, 2, 1]
        assert sorted(seen) == sorted(issued)
        assert len(seen) == len(set(seen))
        created = [
            item["created_at"] for item in (await client.get(LIST, headers=admin)).json()["items"]
        ]
        assert created == sorted(created, reverse=True)

    async def test_exactly_limit_rows_is_one_page_without_a_cursor(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        for number in range(3):
            await issue_for(client, f"Org {number}")
        page = (await client.get(LIST, params={"limit": "3"}, headers=admin)).json()
        assert len(page["items"]) == 3
        assert page["next_cursor"] is None
        shorter = (await client.get(LIST, params={"limit": "2"}, headers=admin)).json()
        rest = await client.get(
            LIST, params={"limit": "2", "cursor": shorter["next_cursor"]}, headers=admin
        )
        assert len(rest.json()["items"]) == 1
        assert rest.json()["next_cursor"] is None

    async def test_the_default_limit_is_50(
        self, client: httpx.AsyncClient, admin: dict[str, str], clock: FrozenClock
    ) -> None:
        for number in range(51):
            await issue_for(client, f"Org {number}", user_email=f"dev{number}@example.com")
            clock.advance(timedelta(milliseconds=1))
        page = (await client.get(LIST, headers=admin)).json()
        assert len(page["items"]) == 50
        assert page["next_cursor"] is not None

    async def test_a_page_is_stable_under_inserts(
        self, client: httpx.AsyncClient, admin: dict[str, str], clock: FrozenClock
    ) -> None:
        older = []
        for number in range(4):
            older.append((await issue_for(client, f"Org {number}"))["credential_id"])
            clock.advance(timedelta(seconds=1))
        first = (await client.get(LIST, params={"limit": "2"}, headers=admin)).json()
        await issue_for(client, "Newcomer")  # newer than every row listed
        rest = await client.get(
            LIST, params={"limit": "2", "cursor": first["next_cursor"]}, headers=admin
        )
        assert [item["credential_id"] for item in rest.json()["items"]] == older[1::-1]

    async def test_a_tampered_cursor_is_400(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        for number in range(3):
            await issue_for(client, f"Org {number}")
        cursor = (await client.get(LIST, params={"limit": "1"}, headers=admin)).json()[
            "next_cursor"
        ]
        payload, signature = cursor.split(".")
        flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
        for tampered in (
            f"{flipped}.{signature}",
            f"{payload}.{signature[:-1]}",
            payload,
            cursor + "x",
            "." + signature,
            "\u00e9" + cursor,
        ):
            answer = await client.get(LIST, params={"cursor": tampered}, headers=admin)
            assert_validation_failed(answer, "cursor")


class TestOneCredential:
    async def test_the_item_and_its_decision(
        self, client: httpx.AsyncClient, viewer: dict[str, str]
    ) -> None:
        issued = await issue_credential(client)
        answer = await client.get(f"{LIST}/{issued['credential_id']}", headers=viewer)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert set(body) == ITEM_FIELDS | {"decision"}
        decision = body["decision"]
        assert decision["credential_request_id"] == issued["credential_request_id"]
        assert decision["request_id"] == issued["request_id"]
        assert decision["outcome"] == "issued"
        assert decision["decided_at"] == body["created_at"]
        assert decision["client_address"] == "203.0.113.7"
        assert decision["request"]["organization_name"] == "Example Energy Co"
        assert decision["details"]["scopes"] == ["calculate", "homes"]

    async def test_an_unknown_id_is_404(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        for path in (f"{LIST}/ws_agent_cred_nope", f"{LIST}/ws_agent_cred_nope/revoke"):
            method = "GET" if path.endswith("nope") else "POST"
            answer = await client.request(method, path, json={"reason": "r"}, headers=admin)
            assert_envelope(answer, status=404, code="NOT_FOUND")

    @pytest.mark.parametrize("credential_id", ["x" * 129, "ws_agent_cred_%00"])
    async def test_an_id_no_credential_can_have_is_400_naming_it(
        self, client: httpx.AsyncClient, admin: dict[str, str], credential_id: str
    ) -> None:
        for method, suffix in (("GET", ""), ("POST", "/revoke")):
            answer = await client.request(
                method, f"{LIST}/{credential_id}{suffix}", json={"reason": "r"}, headers=admin
            )
            assert_validation_failed(answer, "credentialId")
            assert credential_id not in answer.text


class TestRevokeOne:
    async def test_revoked_at_once_idempotent_and_recorded(
        self, client: httpx.AsyncClient, admin: dict[str, str], clock: FrozenClock
    ) -> None:
        issued = await issue_credential(client)
        headers = key_header(issued["credential"])
        assert (await client.get(SELF, headers=headers)).status_code == 200  # cached now
        path = f"{LIST}/{issued['credential_id']}/revoke"
        answer = await client.post(path, json={"reason": "incident 42"}, headers=admin)
        assert answer.status_code == 200, answer.text
        item = answer.json()
        assert item["status"] == "revoked"
        assert item["revoked_by"] == "admin:ops"
        assert item["revocation_reason"] == "incident 42"
        assert item["revoked_at"] == "2026-03-01T12:00:00.000Z"
        refused = await client.get(SELF, headers=headers)
        assert_envelope(refused, status=401, code="AUTH_REVOKED_CREDENTIAL")

        clock.advance(timedelta(minutes=5))
        again = await client.post(path, json={"reason": "second thoughts"}, headers=admin)
        assert again.status_code == 200
        assert again.json() == item  # the first revocation's time, actor and reason kept

    @pytest.mark.parametrize(
        "body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "r" * 256}, {"reason": 5}]
    )
    async def test_a_reason_is_required(
        self, client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any]
    ) -> None:
        issued = await issue_credential(client)
        path = f"{LIST}/{issued['credential_id']}/revoke"
        assert_validation_failed(await client.post(path, json=body, headers=admin), "reason")


class TestBulkRevocation:
    async def test_by_organization(self, client: httpx.AsyncClient, admin: dict[str, str]) -> None:
        acme = [await issue_for(client, "Acme Power") for _ in range(3)]
        other = await issue_for(client, "Other Grid")
        await client.post(acme[0]["revocation_path"], headers=key_header(acme[0]["credential"]))
        for issued in [*acme, other]:
            await client.get(SELF, headers=key_header(issued["credential"]))  # cached

        answer = await client.post(
            BULK, json={"organization": "ACME power", "reason": "incident"}, headers=admin
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == {
            "revoked": 2,
            # Issued at one instant (the frozen clock): oldest first, the id breaking the tie.
            "credential_ids": sorted([acme[1]["credential_id"], acme[2]["credential_id"]]),
        }
        for issued in acme:
            refused = await client.get(SELF, headers=key_header(issued["credential"]))
            assert_envelope(refused, status=401, code="AUTH_REVOKED_CREDENTIAL")
        assert (await client.get(SELF, headers=key_header(other["credential"]))).status_code == 200
        revoked = (await client.get(LIST, params={"status": "revoked"}, headers=admin)).json()[
            "items"
        ]
        by = {item["credential_id"]: item["revoked_by"] for item in revoked}
        assert by == {
            acme[0]["credential_id"]: "self",
            acme[1]["credential_id"]: "admin:ops",
            acme[2]["credential_id"]: "admin:ops",
        }
        again = await client.post(
            BULK, json={"organization": "Acme Power", "reason": "incident"}, headers=admin
        )
        assert again.json() == {"revoked": 0, "credential_ids": []}

    async def test_by_email_and_by_creation_time(
        self, client: httpx.AsyncClient, admin: dict[str, str], clock: FrozenClock
    ) -> None:
        old = await issue_for(client, "Acme Power", user_email="dev@example.com")
        clock.advance(timedelta(hours=1))
        mine = await issue_for(client, "Other Grid", user_email="Dev+two@Example.com")
        new = await issue_for(client, "Third Co")

        by_email = await client.post(
            BULK, json={"user_email": "DEV@example.com", "reason": "left"}, headers=admin
        )
        assert by_email.json() == {
            "revoked": 2,
            "credential_ids": [old["credential_id"], mine["credential_id"]],
        }
        third = await issue_for(client, "Fourth Co")
        clock.advance(timedelta(seconds=1))
        cutoff = await client.post(
            BULK,
            json={"created_before": "2026-03-01T13:00:00.500Z", "reason": "rotation"},
            headers=admin,
        )
        # Both created at 13:00:00.000: oldest first, the id breaking the tie.
        assert cutoff.json() == {
            "revoked": 2,
            "credential_ids": sorted([new["credential_id"], third["credential_id"]]),
        }

    @pytest.mark.parametrize(
        "body",
        [
            {"reason": "r"},
            {"organization": "Acme", "user_email": "a@example.com", "reason": "r"},
            {"organization": "Acme", "created_before": "2026-03-01T00:00:00Z", "reason": "r"},
        ],
    )
    async def test_exactly_one_selector(
        self, client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any]
    ) -> None:
        answer = await client.post(BULK, json=body, headers=admin)
        envelope = assert_validation_failed(answer, "body")
        assert "exactly one of organization, user_email, created_before" in str(envelope)

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"organization": "Acme"}, "reason"),
            ({"organization": "  ", "reason": "r"}, "organization"),
            ({"created_before": "soon", "reason": "r"}, "created_before"),
            ({"user_email": 7, "reason": "r"}, "user_email"),
        ],
    )
    async def test_bad_fields_are_named(
        self,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        body: dict[str, Any],
        field: str,
    ) -> None:
        assert_validation_failed(await client.post(BULK, json=body, headers=admin), field)


class TestOpenApi:
    async def test_admin_routes_are_documented_with_their_scheme_and_errors(
        self, client: httpx.AsyncClient
    ) -> None:
        described = (await client.get("/openapi.json")).json()
        scheme = described["components"]["securitySchemes"]["AdminKey"]
        assert scheme["type"] == "http"
        assert scheme["scheme"] == "bearer"
        admin_operations = [
            (path, method, operation)
            for path, operations in described["paths"].items()
            for method, operation in operations.items()
            if path.startswith("/v1/admin/")
        ]
        assert {(path, method) for path, method, _ in admin_operations} == {
            ("/v1/admin/credentials", "get"),
            ("/v1/admin/credentials/{credentialId}", "get"),
            ("/v1/admin/credentials/{credentialId}/revoke", "post"),
            ("/v1/admin/credentials/revoke", "post"),
            ("/v1/admin/decisions", "get"),
            ("/v1/admin/decisions/export", "get"),
            ("/v1/admin/stats", "get"),
            ("/v1/admin/webhooks", "get"),
            ("/v1/admin/webhooks", "post"),
            ("/v1/admin/webhooks/{endpointId}", "get"),
            ("/v1/admin/webhooks/{endpointId}/update", "post"),
            ("/v1/admin/webhooks/{endpointId}/delete", "post"),
            ("/v1/admin/webhooks/{endpointId}/attempts", "get"),
            ("/v1/admin/webhooks/{endpointId}/disable", "post"),
            ("/v1/admin/webhooks/{endpointId}/rotate-secret", "post"),
            ("/v1/admin/webhooks/{endpointId}/test", "post"),
        }
        for path, method, operation in admin_operations:
            assert operation["tags"] == ["admin"], path
            assert operation["security"] == [{"AdminKey": []}], path
            for status in ("400", "401", "403"):
                assert status in operation["responses"], (path, method, status)
        parameters = {
            parameter["name"]
            for parameter in described["paths"]["/v1/admin/credentials"]["get"]["parameters"]
        }
        assert parameters == {
            "organization",
            "user_email",
            "status",
            "scope",
            "created_after",
            "created_before",
            "cursor",
            "limit",
        }


class TestRouting:
    async def test_the_bulk_path_is_never_read_as_a_credential_id(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        answer = await client.get(BULK, headers=admin)
        assert_envelope(answer, status=405, code="METHOD_NOT_ALLOWED")
        assert answer.headers["allow"] == "POST"

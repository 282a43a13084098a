"""The verification API (``POST /v1/keys/verify``) and RFC 7662 introspection
(``POST /oauth/introspect``) on both backends: every verdict, the callers' roles, no oracle for an
unauthenticated caller, bad bodies, and the request rate a verdict counts."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import httpx
import pytest

from agentkeys.clock import FrozenClock
from agentkeys.config import Settings
from agentkeys.credentials.identity import AdminRole
from tests.support.admin import create_admin_key, revoke_admin_key
from tests.support.app import AppFactory, client_for
from tests.support.assertions import assert_envelope, assert_validation_failed, parse_instant
from tests.support.factories import issue_credential
from tests.support.policies import gateway_policy

# Verdicts read stored credentials and admin keys: both backends.
pytestmark = pytest.mark.both_backends

VERIFY = "/v1/keys/verify"
INTROSPECT = "/oauth/introspect"
SELF = "/v1/agent-credentials/self"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
VERDICT_FIELDS = {"valid", "code", "credential_id", "scopes", "expires_at", "ratelimit"}
UNKNOWN_KEY = "wsk_agent_" + "0" * 43 + "000000"
UNKNOWN_ADMIN_KEY = "wsk_admin_" + "0" * 49


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def basic(user: str, password: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}"}


async def issue_key(client: httpx.AsyncClient, *scopes: str) -> dict[str, Any]:
    return await issue_credential(client, requested_scopes=list(scopes))


async def verdict(client: httpx.AsyncClient, caller: str, **body: Any) -> dict[str, Any]:
    response = await client.post(VERIFY, json=body, headers=bearer(caller))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    answer: dict[str, Any] = response.json()
    assert set(answer) == VERDICT_FIELDS
    return answer


class TestVerdicts:
    async def test_a_usable_key_is_valid_with_its_credential_scopes_and_rate(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(make_app(policy=gateway_policy(request_limit=5))) as client:
            issued = await issue_key(client, "meters:read", "homes")

            answer = await verdict(client, caller, key=issued["credential"])

        assert answer["valid"] is True
        assert answer["code"] == "VALID"
        assert answer["credential_id"] == issued["credential_id"]
        assert answer["scopes"] == ["homes:read", "homes:write", "meters:read"]
        assert answer["expires_at"] == issued["expires_at"]
        assert answer["ratelimit"]["limit"] == 5
        assert answer["ratelimit"]["remaining"] == 4
        assert 0 < answer["ratelimit"]["reset"] <= 60
        assert answer["ratelimit"]["window"] == 60

    async def test_scopes_asked_for_must_all_be_held(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(make_app(policy=gateway_policy())) as client:
            issued = await issue_key(client, "meters:read")

            held = await verdict(client, caller, key=issued["credential"], scopes=["meters:read"])
            lacking = await verdict(
                client, caller, key=issued["credential"], scopes=["meters:read", "meters:write"]
            )

        assert (held["valid"], held["code"]) == (True, "VALID")
        assert (lacking["valid"], lacking["code"]) == (False, "INSUFFICIENT_SCOPE")
        assert lacking["credential_id"] == issued["credential_id"]
        assert lacking["scopes"] == ["meters:read"]
        assert lacking["ratelimit"] is not None

    async def test_a_coarse_name_asks_for_every_scope_it_stands_for(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(make_app(policy=gateway_policy())) as client:
            both = (await issue_key(client, "homes"))["credential"]
            half = (await issue_key(client, "homes:read"))["credential"]

            by_both = await verdict(client, caller, key=both, scopes=["homes"])
            member = await verdict(client, caller, key=both, scopes=["homes:write"])
            by_half = await verdict(client, caller, key=half, scopes=["homes"])

        assert [by_both["code"], member["code"], by_half["code"]] == [
            "VALID",
            "VALID",
            "INSUFFICIENT_SCOPE",
        ]

    async def test_method_and_path_need_the_first_matching_upstream_routes_scope(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(make_app(policy=gateway_policy())) as client:
            reader = (await issue_key(client, "meters:read"))["credential"]

            read = await verdict(client, caller, key=reader, method="GET", path="/v2/meters/42?x=1")
            write = await verdict(client, caller, key=reader, method="PUT", path="/v2/meters/42")
            unmapped = await verdict(client, caller, key=reader, method="GET", path="/v3/other")

        assert read["code"] == "VALID"
        assert write["code"] == "INSUFFICIENT_SCOPE"
        assert unmapped["code"] == "INSUFFICIENT_SCOPE"

    async def test_an_unmatched_request_needs_the_default_scope_when_one_is_set(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        policy = gateway_policy(default_scope="meters:read")
        async with client_for(make_app(policy=policy)) as client:
            reader = (await issue_key(client, "meters:read"))["credential"]
            writer = (await issue_key(client, "meters:write"))["credential"]

            by_reader = await verdict(client, caller, key=reader, method="GET", path="/v3/x")
            by_writer = await verdict(client, caller, key=writer, method="GET", path="/v3/x")

        assert by_reader["code"] == "VALID"
        assert by_writer["code"] == "INSUFFICIENT_SCOPE"

    @pytest.mark.parametrize(
        "key",
        [UNKNOWN_KEY, "wsk_agent_short", "not a key", "wsk_admin_" + "0" * 49],
        ids=["unknown", "malformed", "garbage", "admin-shaped"],
    )
    async def test_a_key_that_is_no_credential_is_not_found_with_nothing_else(
        self, make_app: AppFactory, settings: Settings, key: str
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(make_app(policy=gateway_policy())) as client:
            answer = await verdict(client, caller, key=key)

        assert answer == {
            "valid": False,
            "code": "NOT_FOUND",
            "credential_id": None,
            "scopes": [],
            "expires_at": None,
            "ratelimit": None,
        }

    async def test_an_expired_key_is_expired_naming_its_credential(
        self, make_app: AppFactory, settings: Settings, clock: FrozenClock
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(make_app(policy=gateway_policy())) as client:
            issued = await issue_key(client, "meters:read")
            clock.set(parse_instant(issued["expires_at"]))

            answer = await verdict(client, caller, key=issued["credential"])

        assert (answer["valid"], answer["code"]) == (False, "EXPIRED")
        assert answer["credential_id"] == issued["credential_id"]
        assert answer["expires_at"] == issued["expires_at"]
        assert answer["ratelimit"] is None

    async def test_a_revoked_key_is_revoked_at_once(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(make_app(policy=gateway_policy())) as client:
            issued = await issue_key(client, "meters:read")
            before = await verdict(client, caller, key=issued["credential"])
            revoked = await client.post(
                f"/v1/agent-credentials/{issued['credential_id']}/revoke",
                headers={"x-ws-api-key": issued["credential"]},
            )
            assert revoked.status_code == 200, revoked.text

            after = await verdict(client, caller, key=issued["credential"])

        assert before["code"] == "VALID"
        assert (after["valid"], after["code"]) == (False, "REVOKED")
        assert after["credential_id"] == issued["credential_id"]
        assert after["ratelimit"] is None


class TestRequestRate:
    async def test_each_verdict_counts_one_request_of_the_key_as_its_sandbox_requests_do(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(make_app(policy=gateway_policy(request_limit=3))) as client:
            issued = await issue_key(client, "meters:read")
            key = issued["credential"]

            first = await verdict(client, caller, key=key)
            sandbox = await client.get(SELF, headers={"x-ws-api-key": key})
            third = await verdict(client, caller, key=key)
            over = await verdict(client, caller, key=key)

        assert first["ratelimit"]["remaining"] == 2
        assert sandbox.status_code == 200
        assert third["ratelimit"]["remaining"] == 0
        assert (over["valid"], over["code"]) == (False, "RATE_LIMITED")
        assert over["credential_id"] == issued["credential_id"]
        assert over["ratelimit"]["remaining"] == 0
        assert over["ratelimit"]["reset"] > 0

    async def test_the_callers_answer_carries_no_ratelimit_headers_of_the_key(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(make_app(policy=gateway_policy())) as client:
            key = (await issue_key(client, "meters:read"))["credential"]

            response = await client.post(VERIFY, json={"key": key}, headers=bearer(caller))

        assert "ratelimit" not in response.headers
        assert "ratelimit-policy" not in response.headers


class TestCallers:
    @pytest.mark.parametrize("role", [AdminRole.VERIFY, AdminRole.ADMIN])
    async def test_verify_and_admin_keys_may_verify(
        self, make_app: AppFactory, settings: Settings, role: AdminRole
    ) -> None:
        _, caller = await create_admin_key(settings, "caller", role)
        async with client_for(make_app(policy=gateway_policy())) as client:
            key = (await issue_key(client, "meters:read"))["credential"]

            answer = await verdict(client, caller, key=key)
            introspected = await client.post(
                INTROSPECT, data={"token": key}, headers=bearer(caller)
            )

        assert answer["code"] == "VALID"
        assert introspected.status_code == 200
        assert introspected.json()["active"] is True

    @pytest.mark.parametrize("user", ["gateway", ""])
    async def test_introspection_takes_the_admin_key_as_basic_password_too(
        self, make_app: AppFactory, settings: Settings, user: str
    ) -> None:
        _, caller = await create_admin_key(settings, "caller", AdminRole.VERIFY)
        _, viewer = await create_admin_key(settings, "reader", AdminRole.VIEWER)
        async with client_for(make_app(policy=gateway_policy())) as client:
            key = (await issue_key(client, "meters:read"))["credential"]

            by_basic = await client.post(
                INTROSPECT, data={"token": key}, headers=basic(user, caller)
            )
            by_bearer = await client.post(INTROSPECT, data={"token": key}, headers=bearer(caller))
            by_viewer = await client.post(
                INTROSPECT, data={"token": key}, headers=basic(user, viewer)
            )
            by_stranger = await client.post(
                INTROSPECT, data={"token": key}, headers=basic(user, UNKNOWN_ADMIN_KEY)
            )

        assert by_basic.status_code == 200, by_basic.text
        assert by_basic.json() == by_bearer.json()
        assert by_basic.json()["active"] is True
        assert_envelope(by_viewer, status=403, code="FORBIDDEN")
        assert_envelope(by_stranger, status=401, code="AUTH_INVALID_API_KEY")

    @pytest.mark.parametrize(
        "authorization",
        [
            "Basic",
            "Basic not-base64!",
            "Basic " + base64.b64encode(b"no-colon").decode(),
            "Basic " + base64.b64encode(b"gateway:").decode(),
            "Basic " + base64.b64encode(b"\xff:\xfe").decode(),
        ],
        ids=["empty", "not-base64", "no-colon", "no-password", "not-utf8"],
    )
    async def test_malformed_basic_credentials_are_401_never_an_answer(
        self, make_app: AppFactory, settings: Settings, authorization: str
    ) -> None:
        async with client_for(make_app(policy=gateway_policy())) as client:
            key = (await issue_key(client, "meters:read"))["credential"]

            response = await client.post(
                INTROSPECT, data={"token": key}, headers={"Authorization": authorization}
            )

        envelope = assert_envelope(response, status=401, code="AUTH_INVALID_API_KEY")
        assert "Basic" in envelope["message"]
        assert key not in response.text

    async def test_a_viewer_key_may_not_verify(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        _, caller = await create_admin_key(settings, "reader", AdminRole.VIEWER)
        async with client_for(make_app(policy=gateway_policy())) as client:
            key = (await issue_key(client, "meters:read"))["credential"]

            verified = await client.post(VERIFY, json={"key": key}, headers=bearer(caller))
            introspected = await client.post(
                INTROSPECT, data={"token": key}, headers=bearer(caller)
            )

        assert "verify" in assert_envelope(verified, status=403, code="FORBIDDEN")["message"]
        assert_envelope(introspected, status=403, code="FORBIDDEN")

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/v1/admin/credentials"),
            ("GET", "/v1/admin/decisions"),
            ("GET", "/v1/admin/stats"),
            ("GET", "/v1/admin/webhooks"),
            ("POST", "/v1/admin/credentials/revoke"),
        ],
    )
    async def test_a_verify_key_is_refused_on_every_other_admin_route(
        self, make_app: AppFactory, settings: Settings, method: str, path: str
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(make_app(policy=gateway_policy())) as client:
            response = await client.request(
                method, path, json={"organization": "x", "reason": "y"}, headers=bearer(caller)
            )

        envelope = assert_envelope(response, status=403, code="FORBIDDEN")
        assert "'verify'" in envelope["message"]

    async def test_a_verify_key_may_not_revoke_a_credential_nor_read_metrics(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(
            make_app(policy=gateway_policy()), client_address="198.51.100.9"
        ) as client:
            issued = await issue_key(client, "meters:read")

            revoked = await client.post(
                f"/v1/agent-credentials/{issued['credential_id']}/revoke", headers=bearer(caller)
            )
            metrics = await client.get("/metrics", headers=bearer(caller))
            still = await verdict(client, caller, key=issued["credential"])

        assert_envelope(revoked, status=403, code="FORBIDDEN")
        assert_envelope(metrics, status=403, code="FORBIDDEN")
        assert still["code"] == "VALID"

    @pytest.mark.parametrize(
        "key", ["valid", UNKNOWN_KEY, "garbage"], ids=["valid", "unknown", "garbage"]
    )
    @pytest.mark.parametrize(
        "headers",
        [
            {},
            {"Authorization": "Bearer wsk_admin_" + "0" * 49},
            {"Authorization": "Basic dXNlcjpwYXNz"},
        ],
        ids=["no-caller", "unknown-admin-key", "other-scheme"],
    )
    async def test_an_unauthenticated_caller_gets_401_whatever_the_key(
        self, make_app: AppFactory, settings: Settings, key: str, headers: dict[str, str]
    ) -> None:
        async with client_for(make_app(policy=gateway_policy())) as client:
            if key == "valid":
                key = (await issue_key(client, "meters:read"))["credential"]
            verified = await client.post(VERIFY, json={"key": key}, headers=headers)
            introspected = await client.post(INTROSPECT, data={"token": key}, headers=headers)
            malformed = await client.post(VERIFY, content=b"{nope", headers=headers)

        for response in (verified, introspected, malformed):
            assert response.status_code == 401, response.text
            assert "valid" not in response.json()
            assert "active" not in response.json()

    async def test_a_revoked_caller_is_refused_at_once(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        caller_id, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(make_app(policy=gateway_policy())) as client:
            key = (await issue_key(client, "meters:read"))["credential"]
            assert (await verdict(client, caller, key=key))["code"] == "VALID"
            await revoke_admin_key(settings, caller_id)
            # Announced by `admin revoke-key`; here the app's own cache is evicted as it would be.
            client_app = client._transport.app  # type: ignore[attr-defined]
            client_app.state.admin.verifier.cache.clear()

            response = await client.post(VERIFY, json={"key": key}, headers=bearer(caller))

        assert_envelope(response, status=401, code="AUTH_REVOKED_CREDENTIAL")

    async def test_an_agent_key_may_not_verify(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        async with client_for(make_app(policy=gateway_policy())) as client:
            key = (await issue_key(client, "meters:read"))["credential"]

            as_header = await client.post(VERIFY, json={"key": key}, headers={"x-ws-api-key": key})
            as_bearer = await client.post(VERIFY, json={"key": key}, headers=bearer(key))

        assert_envelope(as_header, status=403, code="FORBIDDEN")
        assert_envelope(as_bearer, status=403, code="FORBIDDEN")


class TestBadBodies:
    @pytest.mark.parametrize(
        ("body", "fields"),
        [
            ({}, ["key"]),
            ({"key": ""}, ["key"]),
            ({"key": 12}, ["key"]),
            ({"key": "k", "scopes": "meters:read"}, ["scopes"]),
            ({"key": "k", "scopes": [1]}, ["scopes[0]"]),
            ({"key": "k", "method": "GET"}, ["path"]),
            ({"key": "k", "path": "/v2/meters/1"}, ["method"]),
            ({"key": "k", "method": "GET", "path": "v2/meters"}, ["path"]),
            ({"key": "k", "method": "G T", "path": "/v2"}, ["method"]),
            ({"key": "x" * 513}, ["key"]),
            # A scope no key could hold: the caller's mistake, never a verdict on the key.
            ({"key": "k", "scopes": ["meters:read", "meters:rede"]}, ["scopes[1]"]),
            ({"key": "k", "scopes": ["billing", "homes", "nope"]}, ["scopes[0]", "scopes[2]"]),
        ],
    )
    async def test_a_bad_body_is_refused_naming_its_field(
        self, make_app: AppFactory, settings: Settings, body: dict[str, Any], fields: list[str]
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(make_app(policy=gateway_policy())) as client:
            response = await client.post(VERIFY, json=body, headers=bearer(caller))

        assert_validation_failed(response, *fields)

    async def test_an_unknown_scope_is_named_whatever_the_key(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(make_app(policy=gateway_policy(request_limit=5))) as client:
            issued = await issue_key(client, "meters:read")

            response = await client.post(
                VERIFY,
                json={"key": issued["credential"], "scopes": ["meters:rede"]},
                headers=bearer(caller),
            )
            after = await verdict(client, caller, key=issued["credential"])

        envelope = assert_validation_failed(response, "scopes[0]")
        assert "meters:rede" in envelope["field_errors"][0]["message"]
        assert "meters:read" in envelope["field_errors"][0]["message"]
        # Refused before the key was looked at: no request of the key was counted.
        assert after["ratelimit"]["remaining"] == after["ratelimit"]["limit"] - 1

    @pytest.mark.parametrize("content", [b"", b"{nope", b"[]"])
    async def test_a_body_that_is_no_object_is_refused(
        self, make_app: AppFactory, settings: Settings, content: bytes
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(make_app(policy=gateway_policy())) as client:
            response = await client.post(
                VERIFY,
                content=content,
                headers={**bearer(caller), "Content-Type": "application/json"},
            )

        assert response.status_code == 400
        assert_envelope(response, status=400, code="VALIDATION_FAILED")


class TestIntrospection:
    async def test_an_active_key_answers_rfc_7662_claims(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(make_app(policy=gateway_policy(request_limit=1))) as client:
            issued = await issue_key(client, "meters:read", "utility:read")
            # The rate is spent: introspection is no use by the holder, and does not count.
            assert (await verdict(client, caller, key=issued["credential"]))["code"] == "VALID"

            response = await client.post(
                INTROSPECT,
                data={"token": issued["credential"], "token_type_hint": "access_token"},
                headers=bearer(caller),
            )

        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        expires = parse_instant(issued["expires_at"])
        assert response.json() == {
            "active": True,
            "scope": "meters:read utility:read",
            "client_id": issued["credential_id"],
            "sub": issued["credential_id"],
            "token_type": "wsk_agent",
            "exp": int(expires.timestamp()),
            "iat": int((expires - timedelta(seconds=86_400)).timestamp()),
            "environment": "sandbox",
        }

    @pytest.mark.parametrize("state", ["unknown", "malformed", "expired", "revoked", "admin"])
    async def test_an_inactive_key_answers_only_active_false(
        self, make_app: AppFactory, settings: Settings, clock: FrozenClock, state: str
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(make_app(policy=gateway_policy())) as client:
            issued = await issue_key(client, "meters:read")
            token = {"unknown": UNKNOWN_KEY, "malformed": "wsk_agent_x", "admin": caller}.get(
                state, issued["credential"]
            )
            if state == "expired":
                clock.set(parse_instant(issued["expires_at"]))
            if state == "revoked":
                await client.post(
                    f"/v1/agent-credentials/{issued['credential_id']}/revoke",
                    headers={"x-ws-api-key": issued["credential"]},
                )

            response = await client.post(INTROSPECT, data={"token": token}, headers=bearer(caller))

        assert response.status_code == 200, response.text
        assert response.content == b'{"active":false}'

    @pytest.mark.parametrize(
        ("content", "fields"),
        [
            (b"", ["token"]),
            (b"token=", ["token"]),
            (b"token=a&token=b", ["token"]),
            (b"token=a&token_type_hint=x&token_type_hint=y", ["token_type_hint"]),
            (b"token", ["body"]),
            (b"token=%FF", ["body"]),
            (b"\xff=1", ["body"]),
            (b"&".join(b"f%d=1" % n for n in range(20)), ["body"]),
        ],
        ids=["empty", "blank", "twice", "hint-twice", "no-equals", "bad-utf8", "binary", "many"],
    )
    async def test_a_bad_form_is_refused_naming_its_field(
        self, make_app: AppFactory, settings: Settings, content: bytes, fields: list[str]
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(make_app(policy=gateway_policy())) as client:
            response = await client.post(
                INTROSPECT, content=content, headers={**bearer(caller), **FORM}
            )

        assert_validation_failed(response, *fields), response.text

    async def test_a_json_body_is_refused_as_the_wrong_media_type(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(make_app(policy=gateway_policy())) as client:
            response = await client.post(
                INTROSPECT, json={"token": UNKNOWN_KEY}, headers=bearer(caller)
            )

        assert_envelope(response, status=415, code="VALIDATION_FAILED")

    async def test_a_form_larger_than_the_body_limit_is_refused(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        _, caller = await create_admin_key(settings, "gateway", AdminRole.VERIFY)
        async with client_for(make_app(policy=gateway_policy(), max_body_bytes=1024)) as client:
            response = await client.post(
                INTROSPECT, content=b"token=" + b"a" * 2000, headers={**bearer(caller), **FORM}
            )

        assert_envelope(response, status=413, code="VALIDATION_FAILED")

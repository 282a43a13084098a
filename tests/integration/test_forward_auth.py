"""Forward auth for gateways (``/v1/auth/forward``) on both backends: where the key and the
original request are read from, the exact answer when allowed, every refusal with its status and
headers, and the request rate counted as on the sandbox routes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agentkeys.clock import FrozenClock
from agentkeys.config import Settings
from agentkeys.credentials.identity import AdminRole
from tests.support.admin import create_admin_key
from tests.support.app import AppFactory, client_for
from tests.support.assertions import assert_envelope, parse_instant
from tests.support.factories import issue_credential
from tests.support.policies import gateway_policy

# Verdicts read stored credentials: both backends.
pytestmark = pytest.mark.both_backends

FORWARD = "/v1/auth/forward"
SELF = "/v1/agent-credentials/self"
UNKNOWN_KEY = "wsk_agent_" + "0" * 43 + "000000"


def nginx(method: str, uri: str, key: str | None = None) -> dict[str, str]:
    headers = {"X-Original-Method": method, "X-Original-URI": uri}
    return headers | ({"x-ws-api-key": key} if key is not None else {})


def traefik(method: str, uri: str, key: str) -> dict[str, str]:
    return {"X-Forwarded-Method": method, "X-Forwarded-Uri": uri, "Authorization": f"Bearer {key}"}


async def issue_key(client: httpx.AsyncClient, *scopes: str) -> dict[str, Any]:
    return await issue_credential(client, requested_scopes=list(scopes))


def assert_denied(response: httpx.Response, *, status: int, code: str) -> dict[str, Any]:
    envelope = assert_envelope(response, status=status, code=code)
    assert response.headers["x-agentkeys-reason"] == code
    assert response.headers["cache-control"] == "no-store"
    assert "x-agentkeys-credential-id" not in response.headers
    if status == 401:
        assert response.headers["www-authenticate"].startswith('Bearer realm="agentkeys"')
    else:
        assert "www-authenticate" not in response.headers
    return envelope


class TestAllowed:
    async def test_an_allowed_request_is_exactly_200_empty_with_identity_headers(
        self, make_app: AppFactory
    ) -> None:
        async with client_for(make_app(policy=gateway_policy(request_limit=7))) as client:
            issued = await issue_key(client, "meters:read", "homes")

            response = await client.get(
                FORWARD, headers=nginx("GET", "/v2/meters/42", issued["credential"])
            )

        assert response.status_code == 200
        assert response.content == b""
        assert response.headers["content-length"] == "0"
        assert response.headers["x-agentkeys-credential-id"] == issued["credential_id"]
        assert response.headers["x-agentkeys-scopes"] == "homes:read homes:write meters:read"
        assert response.headers["x-agentkeys-expires-at"] == issued["expires_at"]
        assert response.headers["ratelimit-policy"] == '"credential";q=7;w=60'
        assert response.headers["ratelimit"].startswith('"credential";r=6;t=')
        assert response.headers["cache-control"] == "no-store"
        assert "x-agentkeys-reason" not in response.headers

    async def test_traefiks_headers_and_a_bearer_key_are_read(self, make_app: AppFactory) -> None:
        async with client_for(make_app(policy=gateway_policy())) as client:
            key = (await issue_key(client, "meters:write"))["credential"]

            allowed = await client.get(FORWARD, headers=traefik("POST", "/v2/meters/1", key))
            refused = await client.get(FORWARD, headers=traefik("GET", "/v2/meters/1", key))

        assert allowed.status_code == 200
        assert_denied(refused, status=403, code="AUTH_INSUFFICIENT_SCOPE")

    async def test_traefiks_headers_win_over_nginxs(self, make_app: AppFactory) -> None:
        async with client_for(make_app(policy=gateway_policy())) as client:
            key = (await issue_key(client, "meters:read"))["credential"]

            response = await client.get(
                FORWARD,
                headers={
                    **traefik("DELETE", "/v2/meters/1", key),
                    **nginx("GET", "/v2/meters/1"),
                },
            )

        assert_denied(response, status=403, code="AUTH_INSUFFICIENT_SCOPE")

    @pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
    async def test_envoys_own_method_and_appended_path_are_the_original_request(
        self, make_app: AppFactory, method: str
    ) -> None:
        async with client_for(make_app(policy=gateway_policy())) as client:
            key = (await issue_key(client, "utility:read"))["credential"]

            public = await client.request(
                method, FORWARD + "/v2/public/a/b?q=1", headers={"x-ws-api-key": key}
            )
            meters = await client.request(
                method, FORWARD + "/v2/meters/1", headers={"x-ws-api-key": key}
            )

        assert public.status_code == 200
        assert public.headers["x-agentkeys-credential-id"].startswith("ws_agent_cred_")
        assert meters.status_code == 403

    async def test_a_body_and_its_content_type_are_never_judged(self, make_app: AppFactory) -> None:
        async with client_for(make_app(policy=gateway_policy(), max_body_bytes=1024)) as client:
            key = (await issue_key(client, "meters:write"))["credential"]

            response = await client.post(
                FORWARD + "/v2/meters/1",
                content=b"x" * 4096,
                headers={"x-ws-api-key": key, "Content-Type": "multipart/form-data; b=1"},
            )

        assert response.status_code == 200

    async def test_the_query_string_is_ignored_when_matching(self, make_app: AppFactory) -> None:
        async with client_for(make_app(policy=gateway_policy())) as client:
            key = (await issue_key(client, "meters:read"))["credential"]

            response = await client.get(
                FORWARD, headers=nginx("GET", "/v2/meters/1?redirect=/v2/meters/1/x", key)
            )

        assert response.status_code == 200

    async def test_x_ws_api_key_wins_over_the_upstreams_own_authorization(
        self, make_app: AppFactory
    ) -> None:
        async with client_for(make_app(policy=gateway_policy())) as client:
            key = (await issue_key(client, "meters:read"))["credential"]

            response = await client.get(
                FORWARD,
                headers={**nginx("GET", "/v2/meters/1", key), "Authorization": "Basic dTpw"},
            )

        assert response.status_code == 200


class TestRefused:
    async def test_no_key_is_401_missing(self, make_app: AppFactory) -> None:
        async with client_for(make_app(policy=gateway_policy())) as client:
            response = await client.get(FORWARD, headers=nginx("GET", "/v2/meters/1"))

        assert_denied(response, status=401, code="AUTH_MISSING_API_KEY")
        assert response.headers["www-authenticate"] == 'Bearer realm="agentkeys"'

    @pytest.mark.parametrize(
        "headers",
        [
            {"x-ws-api-key": UNKNOWN_KEY},
            {"x-ws-api-key": "not-a-key"},
            {"Authorization": "Bearer " + UNKNOWN_KEY},
            {"Authorization": "Basic dTpw"},
            {"Authorization": "Bearer wsk_admin_" + "0" * 49},
        ],
        ids=["unknown", "malformed", "unknown-bearer", "other-scheme", "admin-key"],
    )
    async def test_a_key_that_is_no_credential_is_401_invalid(
        self, make_app: AppFactory, headers: dict[str, str]
    ) -> None:
        async with client_for(make_app(policy=gateway_policy())) as client:
            response = await client.get(
                FORWARD, headers={**nginx("GET", "/v2/meters/1"), **headers}
            )

        assert_denied(response, status=401, code="AUTH_INVALID_API_KEY")
        assert 'error="invalid_token"' in response.headers["www-authenticate"]

    async def test_an_expired_key_is_401_expired(
        self, make_app: AppFactory, clock: FrozenClock
    ) -> None:
        async with client_for(make_app(policy=gateway_policy())) as client:
            issued = await issue_key(client, "meters:read")
            clock.set(parse_instant(issued["expires_at"]))

            response = await client.get(
                FORWARD, headers=nginx("GET", "/v2/meters/1", issued["credential"])
            )

        assert_denied(response, status=401, code="AUTH_EXPIRED_CREDENTIAL")

    async def test_a_revoked_key_is_refused_at_once(self, make_app: AppFactory) -> None:
        async with client_for(make_app(policy=gateway_policy())) as client:
            issued = await issue_key(client, "meters:read")
            headers = nginx("GET", "/v2/meters/1", issued["credential"])
            assert (await client.get(FORWARD, headers=headers)).status_code == 200
            await client.post(
                f"/v1/agent-credentials/{issued['credential_id']}/revoke",
                headers={"x-ws-api-key": issued["credential"]},
            )

            response = await client.get(FORWARD, headers=headers)

        assert_denied(response, status=401, code="AUTH_REVOKED_CREDENTIAL")

    async def test_a_scope_not_held_is_403_naming_it(self, make_app: AppFactory) -> None:
        async with client_for(make_app(policy=gateway_policy())) as client:
            key = (await issue_key(client, "meters:read"))["credential"]

            response = await client.get(FORWARD, headers=nginx("PUT", "/v2/meters/1", key))

        envelope = assert_denied(response, status=403, code="AUTH_INSUFFICIENT_SCOPE")
        assert "meters:write" in envelope["message"]

    @pytest.mark.parametrize(
        "uri",
        ["/v3/unknown", "/v2/meters", "/v2/meters/1/extra", "/v2/public/%2e%2e/meters/1", "x"],
    )
    async def test_a_request_no_route_maps_is_403_without_a_default_scope(
        self, make_app: AppFactory, uri: str
    ) -> None:
        async with client_for(make_app(policy=gateway_policy())) as client:
            key = (await issue_key(client, "meters:read", "utility:read"))["credential"]

            response = await client.get(FORWARD, headers=nginx("GET", uri, key))

        assert_denied(response, status=403, code="AUTH_INSUFFICIENT_SCOPE")

    async def test_a_repeated_original_uri_header_is_refused_not_guessed(
        self, make_app: AppFactory
    ) -> None:
        async with client_for(make_app(policy=gateway_policy())) as client:
            key = (await issue_key(client, "meters:read"))["credential"]

            response = await client.get(
                FORWARD,
                headers=[
                    ("x-ws-api-key", key),
                    ("X-Original-URI", "/v2/meters/1"),
                    ("X-Original-URI", "/v2/meters/2"),
                ],
            )

        envelope = assert_denied(response, status=403, code="AUTH_INSUFFICIENT_SCOPE")
        assert "more than once" in envelope["message"]

    @pytest.mark.parametrize(
        ("sent", "named", "missing"),
        [
            ({"X-Original-URI": "/v2/meters/1"}, "X-Original-URI", "X-Original-Method"),
            ({"X-Forwarded-Uri": "/v2/meters/1"}, "X-Forwarded-Uri", "X-Forwarded-Method"),
            ({"X-Original-Method": "GET"}, "X-Original-Method", "X-Original-URI"),
            ({"X-Forwarded-Method": "GET"}, "X-Forwarded-Method", "X-Forwarded-Uri"),
        ],
    )
    async def test_a_method_or_uri_header_alone_is_refused_never_judged_as_get(
        self, make_app: AppFactory, sent: dict[str, str], named: str, missing: str
    ) -> None:
        async with client_for(make_app(policy=gateway_policy())) as client:
            # GET /v2/meters/1 would be allowed: the forward request's own GET must not stand in.
            key = (await issue_key(client, "meters:read"))["credential"]

            response = await client.get(FORWARD, headers={"x-ws-api-key": key, **sent})

        envelope = assert_denied(response, status=403, code="AUTH_INSUFFICIENT_SCOPE")
        assert named in envelope["message"]
        assert missing in envelope["message"]

    async def test_the_key_is_judged_before_the_route(self, make_app: AppFactory) -> None:
        async with client_for(make_app(policy=gateway_policy())) as client:
            response = await client.get(FORWARD, headers=nginx("GET", "/v3/unknown", UNKNOWN_KEY))

        assert_denied(response, status=401, code="AUTH_INVALID_API_KEY")


class TestRequestRate:
    async def test_forward_auth_counts_as_a_sandbox_request_and_refuses_over_the_rate(
        self, make_app: AppFactory
    ) -> None:
        async with client_for(make_app(policy=gateway_policy(request_limit=3))) as client:
            issued = await issue_key(client, "meters:read")
            key = issued["credential"]
            headers = nginx("GET", "/v2/meters/1", key)

            first = await client.get(FORWARD, headers=headers)
            sandbox = await client.get(SELF, headers={"x-ws-api-key": key})
            third = await client.get(FORWARD, headers=headers)
            over = await client.get(FORWARD, headers=headers)
            sandbox_over = await client.get(SELF, headers={"x-ws-api-key": key})

        assert [first.status_code, sandbox.status_code, third.status_code] == [200, 200, 200]
        assert third.headers["ratelimit"].startswith('"credential";r=0;')
        envelope = assert_denied(over, status=429, code="RATE_LIMITED")
        assert int(over.headers["retry-after"]) == envelope["retry_after_seconds"] > 0
        assert over.headers["ratelimit"].startswith('"credential";r=0;')
        assert sandbox_over.status_code == 429

    async def test_status_on_limit_403_answers_a_spent_rate_403(self, make_app: AppFactory) -> None:
        async with client_for(make_app(policy=gateway_policy(request_limit=1))) as client:
            key = (await issue_key(client, "meters:read"))["credential"]
            headers = nginx("GET", "/v2/meters/1", key)
            assert (await client.get(FORWARD, headers=headers)).status_code == 200

            response = await client.get(FORWARD + "?status_on_limit=403", headers=headers)
            scope_refusal = await client.get(
                FORWARD + "?status_on_limit=403", headers=nginx("PUT", "/v2/meters/1", key)
            )

        assert_denied(response, status=403, code="RATE_LIMITED")
        assert int(response.headers["retry-after"]) > 0
        # Over the rate, a request is refused for the rate before its scope is judged.
        assert_denied(scope_refusal, status=403, code="RATE_LIMITED")

    async def test_a_wrong_scope_still_counts_a_request(self, make_app: AppFactory) -> None:
        async with client_for(make_app(policy=gateway_policy(request_limit=2))) as client:
            key = (await issue_key(client, "meters:read"))["credential"]

            wrong = await client.get(FORWARD, headers=nginx("PUT", "/v2/meters/1", key))
            right = await client.get(FORWARD, headers=nginx("GET", "/v2/meters/1", key))

        assert wrong.status_code == 403
        assert wrong.headers["ratelimit"].startswith('"credential";r=1;')
        assert right.headers["ratelimit"].startswith('"credential";r=0;')

    @pytest.mark.parametrize("value", ["429", "500", "", "x" * 100])
    async def test_any_other_status_on_limit_answers_429_and_is_never_refused(
        self, make_app: AppFactory, value: str
    ) -> None:
        async with client_for(make_app(policy=gateway_policy(request_limit=1))) as client:
            key = (await issue_key(client, "meters:read"))["credential"]
            path = FORWARD + "/v2/meters/1?status_on_limit=" + value
            allowed = await client.get(path, headers={"x-ws-api-key": key})

            response = await client.get(path, headers={"x-ws-api-key": key})

        assert allowed.status_code == 200
        assert_denied(response, status=429, code="RATE_LIMITED")


class TestUpstreamDefaultScope:
    async def test_an_unmatched_request_needs_the_default_scope(self, make_app: AppFactory) -> None:
        policy = gateway_policy(default_scope="utility:read")
        async with client_for(make_app(policy=policy)) as client:
            holder = (await issue_key(client, "utility:read"))["credential"]
            other = (await issue_key(client, "meters:read"))["credential"]

            allowed = await client.get(FORWARD, headers=nginx("GET", "/anything", holder))
            refused = await client.get(FORWARD, headers=nginx("GET", "/anything", other))

        assert allowed.status_code == 200
        assert_denied(refused, status=403, code="AUTH_INSUFFICIENT_SCOPE")


class TestAdminKeys:
    async def test_an_admin_key_is_no_agent_key_here(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        _, admin = await create_admin_key(settings, "ops", AdminRole.ADMIN)
        async with client_for(make_app(policy=gateway_policy())) as client:
            response = await client.get(
                FORWARD,
                headers={**nginx("GET", "/v2/public/x"), "Authorization": f"Bearer {admin}"},
            )

        assert_denied(response, status=401, code="AUTH_INVALID_API_KEY")


class TestDescription:
    async def test_the_operation_documents_its_answers_headers(self, make_app: AppFactory) -> None:
        operation = make_app().openapi()["paths"][FORWARD]["get"]

        responses = operation["responses"]
        assert "content" not in responses["200"]
        assert set(responses["200"]["headers"]) == {
            "X-Agentkeys-Credential-Id",
            "X-Agentkeys-Scopes",
            "X-Agentkeys-Expires-At",
            "RateLimit",
            "RateLimit-Policy",
        }
        assert set(responses["401"]["headers"]) == {"X-Agentkeys-Reason", "WWW-Authenticate"}
        assert set(responses["429"]["headers"]) == {"X-Agentkeys-Reason", "Retry-After"}
        assert {p["name"] for p in operation["parameters"]} >= {
            "X-Forwarded-Method",
            "X-Forwarded-Uri",
            "X-Original-Method",
            "X-Original-URI",
            "status_on_limit",
        }

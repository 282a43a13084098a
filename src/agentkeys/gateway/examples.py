"""Examples and long descriptions of the gateway routes' OpenAPI operations."""

from __future__ import annotations

from typing import Any

_CREDENTIAL = "ws_agent_cred_3Jw9cT2kQx8mB4vN7pL1sD"
_KEY = "wsk_agent_" + "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg" + "0a1B2c"

FORWARD_DESCRIPTION = """For a gateway's external authorization (nginx `auth_request`, Traefik
`forwardAuth`, Envoy `ext_authz` in HTTP mode). Any method is accepted and no body is read.

The agent key is read from `x-ws-api-key`, else `Authorization: Bearer <key>`. The original
request is read from `X-Forwarded-Method`/`X-Forwarded-Uri` (Traefik), else
`X-Original-Method`/`X-Original-URI` (nginx), else this request's own method and the path after
`/v1/auth/forward` (Envoy appends the original path). A method header and a URI header come
together or not at all: one without the other, or either sent more than once, is refused
(**403**, the message naming the header) rather than judged with this request's own method.
Its path (the query string is ignored) needs the scope of the policy's first matching
`[upstream]` route, else `upstream.default_scope`; a request neither maps is refused. Counted
against the credential's request rate exactly as a sandbox request.

Allowed: exactly **200**, an empty body, `X-Agentkeys-Credential-Id`, `X-Agentkeys-Scopes`,
`X-Agentkeys-Expires-At`, `RateLimit`, `RateLimit-Policy`, `Cache-Control: no-store`: copy the
identity headers upstream. Refused: **401** (missing, invalid, expired or revoked key;
`WWW-Authenticate`), **403** (scope), **429** (request rate; **403** with
`?status_on_limit=403`), each with `X-Agentkeys-Reason` (the envelope's `error_code`),
`Retry-After` when waiting helps, and the error envelope."""

VERIFY_REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    "request": {
        "summary": "A request to the upstream API",
        "value": {"key": _KEY, "method": "GET", "path": "/v2/meters/42"},
    },
    "scopes": {
        "summary": "Scopes the key must hold",
        "value": {"key": _KEY, "scopes": ["meters:read"]},
    },
    "key": {
        "summary": "No requirement: validity only (usable, within its rate)",
        "value": {"key": _KEY},
    },
}

_RATE = {"limit": 600, "remaining": 599, "reset": 60, "window": 60}
VERIFY_RESPONSE_EXAMPLES: dict[str, dict[str, Any]] = {
    "valid": {
        "summary": "VALID",
        "value": {
            "valid": True,
            "code": "VALID",
            "credential_id": _CREDENTIAL,
            "scopes": ["meters:read", "utility:read"],
            "expires_at": "2026-03-02T12:00:00.000Z",
            "ratelimit": _RATE,
        },
    },
    "insufficient_scope": {
        "summary": "INSUFFICIENT_SCOPE",
        "value": {
            "valid": False,
            "code": "INSUFFICIENT_SCOPE",
            "credential_id": _CREDENTIAL,
            "scopes": ["utility:read"],
            "expires_at": "2026-03-02T12:00:00.000Z",
            "ratelimit": _RATE,
        },
    },
    "not_found": {
        "summary": "NOT_FOUND",
        "value": {
            "valid": False,
            "code": "NOT_FOUND",
            "credential_id": None,
            "scopes": [],
            "expires_at": None,
            "ratelimit": None,
        },
    },
}

INTROSPECTION_REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    "token": {"summary": "An agent key", "value": {"token": _KEY}},
}
INTROSPECTION_EXAMPLES: dict[str, dict[str, Any]] = {
    "active": {
        "summary": "An active key",
        "value": {
            "active": True,
            "scope": "meters:read utility:read",
            "client_id": _CREDENTIAL,
            "sub": _CREDENTIAL,
            "token_type": "wsk_agent",
            "exp": 1772452800,
            "iat": 1772366400,
            "environment": "sandbox",
        },
    },
    "inactive": {"summary": "Unknown, expired or revoked", "value": {"active": False}},
}

"""Examples of the credential routes' bodies and answers, for the OpenAPI document: the seed's
request, and one answer per outcome (each ``needs_more_info`` shape its own) as this server
writes them. Data only."""

from __future__ import annotations

from typing import Any

SEED_REQUEST: dict[str, Any] = {
    "agent": "claude-code",
    "client": "cli",
    "organization_name": "Example Energy Co",
    "user_name": "Avery Developer",
    "assignment": "Prototype bill impact calculations for a customer dashboard",
    "tech_stack": ["typescript", "node"],
    "use_case": "Evaluate WattShift bill impact endpoints in sandbox",
    "user_email": "developer@example.com",
    "company": "Example Energy Co",
    "requested_scopes": ["calculate", "homes"],
    "requested_environment": "sandbox",
    "requested_ttl_seconds": 86400,
}

REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    "seed": {
        "summary": "WattShift's example: bills, battery and homes for a day",
        "value": SEED_REQUEST,
    },
    "every_sandbox_scope": {
        "summary": "The fields the shipped policy requires, every sandbox scope, a week",
        "value": {
            "organization_name": "Example Energy Co",
            "user_name": "Avery Developer",
            "user_email": "developer@example.com",
            "assignment": "Build a solar and battery proposal tool for residential customers",
            "requested_scopes": [
                "utility:read",
                "homes",
                "price_signal:read",
                "calculate",
                "feedback:write",
            ],
            "requested_ttl_seconds": 604800,
        },
    },
}

ALLOWED_SCOPES = [
    "battery:estimate",
    "bill_impact:read",
    "calculate",
    "feedback:write",
    "homes",
    "homes:read",
    "homes:write",
    "price_signal:read",
    "utility:read",
]
_COMMON = {
    "request_id": "ws_request_123456789",
    "credential_request_id": "ws_cred_request_123456789",
    "environment": "sandbox",
    "production_access": False,
}
_RETRY = "Complete or correct the fields named in this response and retry."


def _needs(next_steps: str, **named: list[str]) -> dict[str, Any]:
    lists = {"missing_fields": [], "unknown_scopes": [], "unclear_fields": [], **named}
    return {
        "outcome": "needs_more_info",
        **_COMMON,
        "next_steps": f"{_RETRY} {next_steps}",
        "missing_fields": lists["missing_fields"],
        "unknown_scopes": lists["unknown_scopes"],
        "allowed_scopes": ALLOWED_SCOPES,
        "unclear_fields": lists["unclear_fields"],
    }


RESPONSE_EXAMPLES: dict[str, dict[str, Any]] = {
    "issued": {
        "summary": "issued: store `credential` now, it is never shown again",
        "value": {
            "outcome": "issued",
            **_COMMON,
            "next_steps": "Store the credential securely and send it as the x-ws-api-key "
            "header on sandbox requests.",
            "credential": "wsk_agent_example_token",
            "credential_id": "ws_agent_cred_123456789",
            "key_prefix": "wsk_agent",
            "expires_at": "2025-01-03T12:00:00.000Z",
            "scopes": ["calculate", "homes"],
            "revocation_method": "POST",
            "revocation_path": "/v1/agent-credentials/ws_agent_cred_123456789/revoke",
        },
    },
    "needs_more_info_missing_field": {
        "summary": "needs_more_info: a field the policy requires is absent (missing_fields)",
        "value": _needs("Provide user_email.", missing_fields=["user_email"]),
    },
    "needs_more_info_unknown_scope": {
        "summary": "needs_more_info: a scope outside the catalog (unknown_scopes)",
        "value": _needs(
            "Unknown scopes: billing; choose from: " + ", ".join(ALLOWED_SCOPES) + ".",
            unknown_scopes=["billing"],
        ),
    },
    "needs_more_info_unclear_assignment": {
        "summary": "needs_more_info: the assignment says too little (unclear_fields)",
        "value": _needs(
            "Describe the assignment in a sentence: what you are building and for whom "
            "(at least 3 distinct words).",
            unclear_fields=["assignment"],
        ),
    },
    "rate_limited": {
        "summary": "rate_limited: wait retry_after_seconds (also Retry-After), then retry",
        "value": {
            "outcome": "rate_limited",
            **_COMMON,
            "next_steps": "Too many credential requests. Retry after 3600 seconds.",
            "retry_after_seconds": 3600,
        },
    },
    "production_denied": {
        "summary": "production_denied: nothing minted; ask for sandbox instead",
        "value": {
            "outcome": "production_denied",
            **_COMMON,
            "next_steps": "Production access is never granted through this API. Ask a human "
            "on your team to request production access in the WattShift dashboard, where a "
            "person reviews it. Request a sandbox credential meanwhile.",
        },
    },
}

REVOCATION_REQUEST_EXAMPLES: dict[str, dict[str, Any]] = {
    "with_reason": {"summary": "With a reason", "value": {"reason": "Prototype finished"}},
    "no_body": {"summary": "An empty object (the body may also be omitted)", "value": {}},
}

REVOCATION_EXAMPLE: dict[str, Any] = {
    "outcome": "revoked",
    "credential_id": "ws_agent_cred_123456789",
    "request_id": "ws_request_123456789",
    "production_access": False,
    "next_steps": "The credential is revoked and refused from now on. Request a new one if "
    "you still need access.",
}

SELF_EXAMPLE: dict[str, Any] = {
    "credential_id": "ws_agent_cred_123456789",
    "scopes": ["calculate", "homes"],
    "effective_scopes": ["battery:estimate", "bill_impact:read", "homes:read", "homes:write"],
    "environment": "sandbox",
    "production_access": False,
    "created_at": "2025-01-02T12:00:00.000Z",
    "expires_at": "2025-01-03T12:00:00.000Z",
    "revocation_method": "POST",
    "revocation_path": "/v1/agent-credentials/ws_agent_cred_123456789/revoke",
    "request_id": "ws_request_123456789",
}

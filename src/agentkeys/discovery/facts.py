"""What discovery states, gathered once from the policy and the OpenAPI document: the example
request, the limits in force, the scope catalog with the operations each scope opens. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from agentkeys.credentials.policy import IssuingPolicy, QuotaKind
from agentkeys.discovery.openapi_view import Operation, SchemaReader
from agentkeys.ratelimit.base import RequestRate

REQUEST_SCHEMA = "CreateAgentCredentialRequestDto"
RESPONSE_SCHEMA = "AgentCredentialResponseDto"
REVOCATION_SCHEMA = "RevokeAgentCredentialRequestDto"
SELF_SCHEMA = "AgentCredentialSelfResponseDto"
OPENAPI_PATH = "/openapi.json"

QUOTA_MEANINGS = {
    QuotaKind.ORGANIZATION_ISSUED: "credentials issued per organization and client network",
    QuotaKind.EMAIL_ISSUED: "credentials issued per user_email and client network",
    QuotaKind.ADDRESS_DECISIONS: "credential requests decided per client network "
    "(rate_limited answers do not count)",
    QuotaKind.ORGANIZATION_ACTIVE: "unexpired, unrevoked credentials per organization and "
    "client network",
}

# The seed's example request (spec/seed-request-agent-credential.txt), asking instead for the
# scopes of the walk an agent starts with: a utility, a home, its monthly bill.
SEED_EXAMPLE: dict[str, Any] = {
    "agent": "claude-code",
    "client": "cli",
    "organization_name": "Example Energy Co",
    "user_name": "Avery Developer",
    "assignment": "Prototype bill impact calculations for a customer dashboard",
    "tech_stack": ["typescript", "node"],
    "use_case": "Evaluate WattShift bill impact endpoints in sandbox",
    "user_email": "developer@example.com",
    "company": "Example Energy Co",
    "requested_scopes": ["utility:read", "homes:read", "homes:write", "bill_impact:read"],
    "requested_environment": "sandbox",
    "requested_ttl_seconds": 86400,
}
# Values for the optional fields the seed leaves out, should a policy require them.
MORE_EXAMPLE_VALUES: dict[str, Any] = {
    "device_segment": "residential",
    "project": "customer-bill-dashboard",
    "docs_context": "https://api.example.com/llms.txt",
}
LONGER_ASSIGNMENT = (
    "Prototype bill impact calculations for a customer dashboard: look up the utility serving "
    "each customer's ZIP code, create a sandbox home with its rate plan, compute monthly bills "
    "from quarter-hour usage, and compare tariffs before recommending one to the homeowner."
)


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything the discovery documents say, read once per application."""

    title: str
    summary: str
    version: str
    policy: IssuingPolicy
    operations: tuple[Operation, ...]
    reader: SchemaReader
    header: str
    key_prefix: str
    key_pattern: str
    api_required_fields: tuple[str, ...]
    issuance: Operation | None
    revocation_template: str
    self_check: Operation | None
    mcp_endpoint: str | None

    @property
    def issuance_line(self) -> str:
        return self.issuance.line if self.issuance else "POST /v1/agent-credentials"

    @property
    def required_fields(self) -> tuple[str, ...]:
        """The API's required fields, then those the policy adds."""
        return tuple(dict.fromkeys([*self.api_required_fields, *self.policy.required_fields]))

    def operations_needing(self, scope: str) -> tuple[Operation, ...]:
        """The operations a key needs ``scope`` for (directly, not through an alias)."""
        return tuple(op for op in self.operations if scope in op.scopes)

    def example_request(self) -> dict[str, Any]:
        """The seed's example, made to pass this policy: its required fields present, scopes
        from the catalog, an assignment long enough and a TTL within the bounds."""
        policy = self.policy
        example = dict(SEED_EXAMPLE)
        example["requested_scopes"] = [
            scope for scope in SEED_EXAMPLE["requested_scopes"] if policy.catalog.is_known(scope)
        ] or sorted(policy.catalog.scopes)[:1]
        for name in policy.required_fields:
            if name not in example and name in MORE_EXAMPLE_VALUES:
                example[name] = MORE_EXAMPLE_VALUES[name]
        if distinct_words(example["assignment"], policy.min_word_letters) < (
            policy.min_assignment_words
        ):
            example["assignment"] = LONGER_ASSIGNMENT
        example["requested_ttl_seconds"] = max(
            policy.min_ttl_seconds,
            min(SEED_EXAMPLE["requested_ttl_seconds"], policy.max_ttl_seconds),
        )
        return example


def distinct_words(text: str, min_letters: int) -> int:
    """As the policy counts them: distinct runs of letters of at least ``min_letters``."""
    words = "".join(ch if ch.isalpha() else " " for ch in text).split()
    return len({word.casefold() for word in words if len(word) >= min_letters})


def seconds_text(seconds: float) -> str:
    """``86400 seconds (1 day)``: the figure, and what it is in a unit a person reads."""
    whole = int(seconds)
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if whole >= size and whole % size == 0:
            count = whole // size
            return f"{whole} seconds ({count} {unit}{'s' if count != 1 else ''})"
    return f"{whole} second{'s' if whole != 1 else ''}"


def window_seconds(window: timedelta | None) -> int | None:
    return None if window is None else int(window.total_seconds())


def rate_text(rate: RequestRate) -> str:
    return f"{rate.limit} per {seconds_text(rate.window.total_seconds())}"


def rate_fields(rate: RequestRate | None) -> Mapping[str, int] | None:
    if rate is None:
        return None
    return {"limit": rate.limit, "window_seconds": int(rate.window.total_seconds())}

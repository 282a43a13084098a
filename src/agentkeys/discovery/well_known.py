"""``/.well-known/agent-credentials``: how to get, use and revoke an agent key, as JSON for
programs (``/llms.txt`` says the same to a reader). Built from ``Facts``. Pure."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from agentkeys.clock import format_instant
from agentkeys.credentials.policy import Outcome
from agentkeys.discovery.facts import (
    OPENAPI_PATH,
    QUOTA_MEANINGS,
    REQUEST_SCHEMA,
    RESPONSE_SCHEMA,
    REVOCATION_SCHEMA,
    Facts,
    rate_fields,
    window_seconds,
)
from agentkeys.discovery.llms import LLMS_PATH
from agentkeys.discovery.openapi_view import PAGE_TEMPLATE
from agentkeys.ratelimit.base import RequestRate


def schema_ref(name: str) -> str:
    return f"{OPENAPI_PATH}#/components/schemas/{name}"


class RateDto(BaseModel):
    limit: int = Field(description="Requests allowed per window.")
    window_seconds: int = Field(description="Length of the sliding window, in seconds.")


class IssuanceDto(BaseModel):
    method: str = Field(description="HTTP method of the issuance endpoint.")
    path: str = Field(description="Path of the issuance endpoint, relative to the base URL.")
    operation_id: str | None = Field(description="Its operationId in the OpenAPI document.")
    authentication: str = Field(description="`none`: anyone may ask for a key.")
    content_type: str = Field(description="Media type of the request body.")
    request_schema: str = Field(description="JSON reference to the request body's schema.")
    response_schema: str = Field(description="JSON reference to the answer's schema.")
    required_fields: list[str] = Field(
        description="Fields that must carry a value: the API's own, then the policy's."
    )
    assignment_min_distinct_words: int = Field(
        description="`assignment` needs at least this many distinct words..."
    )
    assignment_min_word_letters: int = Field(description="...of at least this many letters.")
    environments: list[str] = Field(description="Environments a key may be issued for.")
    outcomes: list[str] = Field(description="Every value `outcome` may take.")
    example: dict[str, Any] = Field(
        description="A complete request body this policy accepts (put your own values)."
    )


class ScopeDto(BaseModel):
    name: str = Field(description="The scope, as `requested_scopes` names it.")
    description: str = Field(description="What the scope allows.")
    operations: list[str] = Field(
        description="operationIds of the routes that need this scope (directly)."
    )


class AliasDto(BaseModel):
    name: str = Field(description="A coarse name `requested_scopes` may use.")
    scopes: list[str] = Field(description="The scopes it expands to.")


class TtlDto(BaseModel):
    default_seconds: int = Field(description="Lifetime when `requested_ttl_seconds` is absent.")
    min_seconds: int = Field(description="A shorter request is raised to this.")
    max_seconds: int = Field(description="A longer request is shortened to this.")


class QuotaDto(BaseModel):
    name: str = Field(description="The quota's name, as the policy file names it.")
    meaning: str = Field(description="What it counts.")
    limit: int = Field(description="At most this many.")
    window_seconds: int | None = Field(
        description="Sliding window in seconds; null: counted at any moment (active keys)."
    )


class RatesDto(BaseModel):
    per_credential: RateDto = Field(description="Sandbox requests per key.")
    per_network: RateDto | None = Field(
        description="Sandbox requests per client network over all its keys (null: none)."
    )
    scope_costs: dict[str, int] = Field(
        description="A route needing one of these scopes counts this many requests."
    )
    issuance_per_network: RateDto | None = Field(
        description="Credential requests per client network (null: none)."
    )
    revocations: RateDto | None = Field(description="Revocations (null: none).")


class AuthenticationDto(BaseModel):
    header: str = Field(description="The request header that carries the key.")
    key_prefix: str = Field(description="Every agent key starts with this.")
    key_pattern: str = Field(
        description="A regular expression matching every agent key (for secret scanners)."
    )
    self_path: str | None = Field(description="GET it with a key to learn its scopes and expiry.")


class RevocationDto(BaseModel):
    method: str = Field(description="HTTP method of the revocation endpoint.")
    path_template: str = Field(description="Its path; `{credentialId}` is the credential's id.")
    authentication: str = Field(description="Which key revokes.")
    request_schema: str = Field(description="JSON reference to the optional body's schema.")


LEAKED_PATH = "/v1/agent-credentials/leaked"
SECURITY_TXT_PATH = "/.well-known/security.txt"
# RFC 9116 §2.5.5: Expires SHOULD be less than a year away.
SECURITY_TXT_LIFETIME = timedelta(days=180)
SIGNATURE_HEADERS = ["Github-Public-Key-Identifier", "Github-Public-Key-Signature"]


class LeakReportsDto(BaseModel):
    """Where to report a leaked key, signed (GitHub's secret scanning) or not (anyone)."""

    method: str = Field(description="HTTP method of the reporting endpoint.")
    path: str = Field(description="Path of the reporting endpoint, relative to the base URL.")
    operation_id: str = Field(description="Its operationId in the OpenAPI document.")
    key_pattern: str = Field(
        description="A regular expression matching every agent key: what a scanner looks for."
    )
    unsigned_request_schema: str = Field(
        description='JSON reference to the unsigned body: `{"credential": "wsk_agent_…", '
        '"url": "…"}`, accepted from anyone.'
    )
    unsigned_answer_status: int = Field(
        description="The status of every unsigned report: the same answer whatever the key "
        "(a live key named is revoked)."
    )
    unsigned_rate: RateDto | None = Field(
        description="Unsigned reports per client network (null: none)."
    )
    signed_format: str = Field(
        description="`github_secret_scanning`: GitHub's partner program format, a JSON array "
        "of `{token, type, url, source}`."
    )
    signed_request_schema: str = Field(description="JSON reference to one item of that array.")
    signature_headers: list[str] = Field(
        description="The headers carrying the signing key's identifier and the signature."
    )
    signature_algorithm: str = Field(description="How the signature is made and encoded.")
    feedback_schema: str = Field(
        description="JSON reference to one item of the answer to a signed report."
    )
    revoked_by: str = Field(description="What a key revoked this way shows as `revoked_by`.")
    security_txt: str = Field(description="The RFC 9116 file naming this endpoint.")


class McpDto(BaseModel):
    endpoint: str = Field(description="Path of the MCP server (streamable HTTP).")
    transport: str = Field(description="The MCP transport served there.")


class DocumentationDto(BaseModel):
    llms_txt: str = Field(description="The guide for agents, in the llmstxt.org format.")
    openapi: str = Field(description="The OpenAPI document.")
    operation_page_template: str = Field(
        description="A Markdown page per operation; `{operationId}` as in the OpenAPI document."
    )


class AgentCredentialsDiscoveryDto(BaseModel):
    """How an agent gets, uses and revokes a sandbox key on this server, from its policy."""

    service: str = Field(description="The service's name.")
    version: str = Field(description="The server's version.")
    documentation: DocumentationDto = Field(description="Where the guides are.")
    issuance: IssuanceDto = Field(description="How to ask for a key.")
    authentication: AuthenticationDto = Field(description="How to send the key.")
    scopes: list[ScopeDto] = Field(description="The scope catalog.")
    aliases: list[AliasDto] = Field(description="Coarse names and what they expand to.")
    ttl: TtlDto = Field(description="A key's lifetime bounds.")
    quotas: list[QuotaDto] = Field(description="Quotas on issuance; over one: `rate_limited`.")
    rates: RatesDto = Field(description="Request rates in force.")
    revocation: RevocationDto = Field(description="How to revoke a key.")
    leak_reports: LeakReportsDto = Field(description="How to report a leaked key.")
    mcp: McpDto | None = Field(description="The MCP server, when this server mounts one.")


def well_known(facts: Facts) -> AgentCredentialsDiscoveryDto:
    """The discovery document for ``facts``."""
    policy = facts.policy
    costs = policy.request_costs
    method, _, path = facts.issuance_line.partition(" ")
    return AgentCredentialsDiscoveryDto(
        service=facts.title,
        version=facts.version,
        documentation=DocumentationDto(
            llms_txt=LLMS_PATH, openapi=OPENAPI_PATH, operation_page_template=PAGE_TEMPLATE
        ),
        issuance=IssuanceDto(
            method=method,
            path=path,
            operation_id=facts.issuance.operation_id if facts.issuance else None,
            authentication="none",
            content_type="application/json",
            request_schema=schema_ref(REQUEST_SCHEMA),
            response_schema=schema_ref(RESPONSE_SCHEMA),
            required_fields=list(facts.required_fields),
            assignment_min_distinct_words=policy.min_assignment_words,
            assignment_min_word_letters=policy.min_word_letters,
            environments=["sandbox"],
            outcomes=[outcome.value for outcome in Outcome],
            example=facts.example_request(),
        ),
        authentication=AuthenticationDto(
            header=facts.header,
            key_prefix=facts.key_prefix,
            key_pattern=facts.key_pattern,
            self_path=facts.self_check.path if facts.self_check else None,
        ),
        scopes=[
            ScopeDto(
                name=scope,
                description=description,
                operations=[op.operation_id for op in facts.operations_needing(scope)],
            )
            for scope, description in sorted(policy.catalog.scopes.items())
        ],
        aliases=[
            AliasDto(name=alias, scopes=list(members))
            for alias, members in sorted(policy.catalog.aliases.items())
        ],
        ttl=TtlDto(
            default_seconds=policy.default_ttl_seconds,
            min_seconds=policy.min_ttl_seconds,
            max_seconds=policy.max_ttl_seconds,
        ),
        quotas=[
            QuotaDto(
                name=kind.value,
                meaning=QUOTA_MEANINGS[kind],
                limit=quota.limit,
                window_seconds=window_seconds(quota.window),
            )
            for kind, quota in sorted(policy.quotas.items())
        ],
        rates=RatesDto(
            per_credential=_per_credential(policy.request_rate),
            per_network=_rate(costs.per_network),
            scope_costs=dict(sorted(costs.scope_costs.items())),
            issuance_per_network=_rate(costs.issuance_per_network),
            revocations=_rate(costs.revocations_per_network),
        ),
        revocation=RevocationDto(
            method="POST",
            path_template=facts.revocation_template,
            authentication=f"The credential's own key in `{facts.header}`.",
            request_schema=schema_ref(REVOCATION_SCHEMA),
        ),
        leak_reports=LeakReportsDto(
            method="POST",
            path=LEAKED_PATH,
            operation_id="reportLeakedAgentCredentials",
            key_pattern=facts.key_pattern,
            unsigned_request_schema=schema_ref("LeakReportDto"),
            unsigned_answer_status=202,
            unsigned_rate=_rate(costs.revocations_per_network),
            signed_format="github_secret_scanning",
            signed_request_schema=schema_ref("GitHubLeakMatchDto"),
            signature_headers=list(SIGNATURE_HEADERS),
            signature_algorithm="ECDSA P-256 with SHA-256 over the raw body; the DER signature "
            "in base64. Keys as at https://api.github.com/meta/public_keys/secret_scanning.",
            feedback_schema=schema_ref("LeakFeedbackDto"),
            revoked_by="leak",
            security_txt=SECURITY_TXT_PATH,
        ),
        mcp=(
            McpDto(endpoint=facts.mcp_endpoint, transport="streamable-http")
            if facts.mcp_endpoint
            else None
        ),
    )


def _rate(rate: RequestRate | None) -> RateDto | None:
    fields = rate_fields(rate)
    return None if fields is None else RateDto.model_validate(fields)


def _per_credential(rate: RequestRate) -> RateDto:
    return RateDto(limit=rate.limit, window_seconds=int(rate.window.total_seconds()))


def security_txt(contact: str, expires: datetime) -> str:
    """``/.well-known/security.txt`` (RFC 9116): the operator's contact, and how to report a
    leaked agent key, which needs no contact at all."""
    instant = format_instant(expires.replace(microsecond=0)).replace(".000Z", "Z")
    return (
        f"# Leaked agent keys (wsk_agent_...): POST {LEAKED_PATH} with\n"
        '# {"credential": "wsk_agent_...", "url": "where you found it"}: the key is revoked at\n'
        "# once; the answer is always 202. GitHub secret scanning reports (signed) are\n"
        "# accepted there too. Details: /.well-known/agent-credentials (leak_reports).\n"
        f"Contact: {contact}\n"
        f"Expires: {instant}\n"
        "Preferred-Languages: en\n"
    )

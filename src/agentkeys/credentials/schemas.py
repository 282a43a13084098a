"""Wire shapes of the credential endpoints, named as in WattShift's OpenAPI description."""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, Field, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from agentkeys.clock import format_instant
from agentkeys.credentials.policy import (
    Decision,
    Issue,
    NeedsMoreInfo,
    Outcome,
    ProductionDenied,
    RateLimited,
)
from agentkeys.credentials.quota_keys import organization_key
from agentkeys.redaction import KEY_PREFIX
from agentkeys.validation import EmailAddress, HttpUri, NonBlank, RequestBody, renders_blank

DateTimeString = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
# A requested scope is any short text: one outside the catalog is answered needs_more_info.
RequestedScope = Annotated[str, Field(max_length=128)]


def _names_an_organization(name: str) -> str:
    """A name whose quota identity is empty (punctuation and invisible characters only) names
    no organization, and would share one quota with every other such name."""
    if not organization_key(name):
        raise PydanticCustomError(
            "organization_identity",
            "Must contain a letter or digit (not only punctuation or invisible characters)",
        )
    return name


OrganizationName = Annotated[
    str, Field(min_length=1, max_length=255), NonBlank, AfterValidator(_names_an_organization)
]
# One of ``Outcome``, documented as the inline enum it always was (a component of its own
# would change the published description).
OutcomeField = Annotated[
    str,
    AfterValidator(Outcome),
    WithJsonSchema({"enum": [o.value for o in Outcome], "title": "Outcome", "type": "string"}),
]


def revocation_path(credential_id: str) -> str:
    return f"/v1/agent-credentials/{credential_id}/revoke"


class CreateAgentCredentialRequestDto(RequestBody):
    """What an agent says about itself and its assignment when it asks for a sandbox key."""

    organization_name: OrganizationName = Field(
        description="The organization the agent works for (quotas count per organization)."
    )
    user_name: Annotated[str, Field(min_length=1, max_length=255), NonBlank] = Field(
        description="The person the agent works for."
    )
    assignment: Annotated[str, Field(min_length=10, max_length=4000), NonBlank] = Field(
        description="What the agent was asked to build with the key, in a sentence or more: "
        "too vague (fewer than the policy's minimum of distinct words) is needs_more_info."
    )
    requested_scopes: Annotated[list[RequestedScope], Field(min_length=1, max_length=20)] = Field(
        description="Scope names or aliases to grant (info.x-scopes lists them); a name "
        "outside the catalog is needs_more_info naming it."
    )
    agent: Annotated[str, Field(max_length=128)] | None = Field(
        default=None, description="The agent asking, e.g. claude-code."
    )
    client: Annotated[str, Field(max_length=128)] | None = Field(
        default=None, description="How the agent runs, e.g. cli, ide, web."
    )
    tech_stack: (
        Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=20)] | None
    ) = Field(default=None, description="Languages and frameworks of the project.")
    use_case: Annotated[str, Field(max_length=128)] | None = Field(
        default=None, description="The use case, in a few words."
    )
    device_segment: Annotated[str, Field(max_length=128)] | None = Field(
        default=None, description="The kind of devices the project concerns (solar, EV, ...)."
    )
    project: Annotated[str, Field(max_length=128)] | None = Field(
        default=None, description="The project's name."
    )
    user_email: EmailAddress | None = Field(
        default=None,
        description="The person's e-mail address (syntax checked only). The shipped policy "
        "requires it: without it the answer is needs_more_info naming user_email.",
    )
    company: Annotated[str, Field(max_length=255)] | None = Field(
        default=None, description="The person's company, if not the organization."
    )
    requested_environment: Literal["sandbox", "production"] = Field(
        default="sandbox",
        description="Only sandbox is issued here; production is answered production_denied.",
    )
    requested_ttl_seconds: Annotated[int, Field(gt=0)] | None = Field(
        default=None,
        description="Lifetime wanted, in seconds (default 86400). Beyond the policy's bounds it "
        "is clamped, and next_steps says so.",
    )
    docs_context: HttpUri | None = Field(
        default=None, description="The docs page the agent read (an absolute http(s) URI)."
    )

    @field_validator("requested_environment", mode="before")
    @classmethod
    def _null_means_default(cls, value: object) -> object:
        return "sandbox" if value is None else value

    def provided_fields(self) -> frozenset[str]:
        """Names of the fields that carry a value (not absent, null, empty or blank)."""
        provided = set()
        for name, value in self:
            if value is None or value == [] or (isinstance(value, str) and renders_blank(value)):
                continue
            provided.add(name)
        return frozenset(provided)


SANDBOX_ONLY = "Always sandbox: this API issues sandbox keys only."
NO_PRODUCTION = "Always false: no key issued here reaches production."


class AgentCredentialResponseDto(BaseModel):
    """The decision on a credential request; ``outcome`` says which of the four it was."""

    outcome: OutcomeField = Field(
        description="issued (a key is in `credential`), needs_more_info (fix what the extra "
        "fields name and ask again), rate_limited (wait retry_after_seconds) or "
        "production_denied (nothing minted)."
    )
    request_id: str = Field(description="This HTTP request's id (also the X-Request-Id header).")
    credential_request_id: str = Field(
        description="This decision's id (ws_cred_request_…), whatever the outcome."
    )
    # Always present, so required (no default): the description must say so to generators.
    environment: Literal["sandbox"] = Field(description=SANDBOX_ONLY)
    production_access: Literal[False] = Field(description=NO_PRODUCTION)
    next_steps: str = Field(description="What to do now, in plain words, for this outcome.")
    credential: str | None = Field(
        default=None,
        description="issued: the secret key (wsk_agent_…). Shown once, in this response only: "
        "store it (an env file, never code or logs) and send it as x-ws-api-key.",
    )
    credential_id: str | None = Field(
        default=None, description="issued: the credential's id (ws_agent_cred_…), not secret."
    )
    key_prefix: Literal["wsk_agent"] | None = Field(
        default=None, description="issued: the prefix every agent key starts with."
    )
    expires_at: DateTimeString | None = Field(
        default=None,
        description="issued: when the key stops working (ISO 8601 UTC, milliseconds, Z).",
    )
    scopes: list[str] | None = Field(
        default=None,
        description="issued: the scope names granted, in request order, without duplicates.",
    )
    revocation_method: Literal["POST"] | None = Field(
        default=None, description="issued: the method of revocation_path."
    )
    revocation_path: str | None = Field(
        default=None, description="issued: where to revoke this key when done."
    )
    retry_after_seconds: Annotated[int, Field(gt=0)] | None = Field(
        default=None,
        description="rate_limited: seconds to wait; a retry after them is not refused by the "
        "same quota (also the Retry-After header).",
    )
    missing_fields: list[str] | None = Field(
        default=None, description="needs_more_info: fields the policy requires that were absent."
    )
    unknown_scopes: list[str] | None = Field(
        default=None, description="needs_more_info: requested scopes that are not in the catalog."
    )
    allowed_scopes: list[str] | None = Field(
        default=None, description="needs_more_info: every scope name that may be requested."
    )
    unclear_fields: list[str] | None = Field(
        default=None, description="needs_more_info: fields that say too little to judge."
    )

    @classmethod
    def of(
        cls,
        decision: Decision,
        *,
        request_id: str,
        credential_request_id: str,
        credential_id: str | None = None,
        secret: str | None = None,
    ) -> Self:
        """The one answer to a decision: its outcome's fields and no other (an issued key's
        id and secret only with an ``Issue``)."""
        common = cls(
            outcome=decision.outcome,
            request_id=request_id,
            credential_request_id=credential_request_id,
            environment="sandbox",
            production_access=False,
            next_steps=decision.next_steps,
        )
        match decision:
            case Issue() if credential_id is not None and secret is not None:
                return common.model_copy(
                    update={
                        "credential": secret,
                        "credential_id": credential_id,
                        "key_prefix": KEY_PREFIX,
                        "expires_at": format_instant(decision.expires_at),
                        "scopes": list(decision.scopes),
                        "revocation_method": "POST",
                        "revocation_path": revocation_path(credential_id),
                    }
                )
            case RateLimited():
                return common.model_copy(
                    update={"retry_after_seconds": decision.retry_after_seconds}
                )
            case NeedsMoreInfo():
                return common.model_copy(
                    update={
                        "missing_fields": list(decision.missing_fields),
                        "unknown_scopes": list(decision.unknown_scopes),
                        "allowed_scopes": list(decision.allowed_scopes),
                        "unclear_fields": list(decision.unclear_fields),
                    }
                )
            case Issue() | ProductionDenied():
                return common


class RevokeAgentCredentialRequestDto(RequestBody):
    """The optional body of a revocation."""

    reason: Annotated[str, Field(max_length=255)] | None = Field(
        default=None, description="Why the key is revoked (stored; the first one is kept)."
    )


class AgentCredentialRevocationResponseDto(BaseModel):
    """A revocation done (or already done: revoking is idempotent)."""

    # Always present, so required (no default).
    outcome: Literal["revoked"] = Field(description="Always revoked.")
    credential_id: str = Field(description="The credential revoked.")
    request_id: str = Field(description="This HTTP request's id (also the X-Request-Id header).")
    production_access: Literal[False] = Field(description=NO_PRODUCTION)
    next_steps: str = Field(description="What to do now that the key is revoked.")

    @classmethod
    def revoked(cls, credential_id: str, *, request_id: str, next_steps: str) -> Self:
        return cls(
            outcome="revoked",
            credential_id=credential_id,
            request_id=request_id,
            production_access=False,
            next_steps=next_steps,
        )


class AgentCredentialSelfResponseDto(BaseModel):
    """What the holder of a valid key may know about it: never the secret."""

    credential_id: str = Field(description="The credential's id (ws_agent_cred_…).")
    scopes: list[str] = Field(description="Scopes as granted, in request order.")
    effective_scopes: list[str] = Field(description="What the granted scopes expand to, sorted.")
    environment: Literal["sandbox"] = Field(description=SANDBOX_ONLY)
    production_access: Literal[False] = Field(description=NO_PRODUCTION)
    created_at: DateTimeString = Field(description="When it was issued (ISO 8601 UTC).")
    expires_at: DateTimeString = Field(description="When it stops working (ISO 8601 UTC).")
    revocation_method: Literal["POST"] = Field(description="The method of revocation_path.")
    revocation_path: str = Field(description="Where to revoke it.")
    request_id: str = Field(description="This HTTP request's id (also the X-Request-Id header).")

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

    organization_name: OrganizationName
    user_name: Annotated[str, Field(min_length=1, max_length=255), NonBlank]
    assignment: Annotated[str, Field(min_length=10, max_length=4000), NonBlank]
    requested_scopes: Annotated[list[RequestedScope], Field(min_length=1, max_length=20)]
    agent: Annotated[str, Field(max_length=128)] | None = None
    client: Annotated[str, Field(max_length=128)] | None = None
    tech_stack: (
        Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=20)] | None
    ) = None
    use_case: Annotated[str, Field(max_length=128)] | None = None
    device_segment: Annotated[str, Field(max_length=128)] | None = None
    project: Annotated[str, Field(max_length=128)] | None = None
    user_email: EmailAddress | None = None
    company: Annotated[str, Field(max_length=255)] | None = None
    requested_environment: Literal["sandbox", "production"] = "sandbox"
    requested_ttl_seconds: Annotated[int, Field(gt=0)] | None = None
    docs_context: HttpUri | None = None

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


class AgentCredentialResponseDto(BaseModel):
    """The decision on a credential request; ``outcome`` says which of the four it was."""

    outcome: OutcomeField
    request_id: str
    credential_request_id: str
    environment: Literal["sandbox"] = "sandbox"
    production_access: Literal[False] = False
    next_steps: str
    credential: str | None = Field(
        default=None, description="The secret key. Shown once, in this response only."
    )
    credential_id: str | None = None
    key_prefix: Literal["wsk_agent"] | None = None
    expires_at: DateTimeString | None = None
    scopes: list[str] | None = None
    revocation_method: Literal["POST"] | None = None
    revocation_path: str | None = None
    retry_after_seconds: Annotated[int, Field(gt=0)] | None = None
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
    reason: Annotated[str, Field(max_length=255)] | None = None


class AgentCredentialRevocationResponseDto(BaseModel):
    outcome: Literal["revoked"] = "revoked"
    credential_id: str
    request_id: str
    production_access: Literal[False] = False
    next_steps: str


class AgentCredentialSelfResponseDto(BaseModel):
    """What the holder of a valid key may know about it: never the secret."""

    credential_id: str
    scopes: list[str] = Field(description="Scopes as granted, in request order.")
    effective_scopes: list[str] = Field(description="What the granted scopes expand to, sorted.")
    environment: Literal["sandbox"] = "sandbox"
    production_access: Literal[False] = False
    created_at: DateTimeString
    expires_at: DateTimeString
    revocation_method: Literal["POST"] = "POST"
    revocation_path: str
    request_id: str

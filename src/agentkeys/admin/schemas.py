"""Wire shapes of the admin API: credentials as an operator sees them, revocation bodies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator

from agentkeys.validation import InstantText, NonBlank, RequestBody

DateTimeString = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
CredentialStatus = Literal["active", "expired", "revoked"]
STATUSES: tuple[CredentialStatus, ...] = ("active", "expired", "revoked")
Reason = Annotated[str, Field(min_length=1, max_length=255), NonBlank]
BULK_SELECTORS = ("organization", "user_email", "created_before")


class AdminCredentialDto(BaseModel):
    """One credential as an operator sees it. Never the secret (only its digest is stored)."""

    credential_id: str
    organization_name: str = Field(description="As the requester wrote it.")
    user_name: str | None
    user_email: str | None
    agent: str | None
    client: str | None
    assignment: str | None
    scopes: list[str] = Field(description="As granted.")
    environment: str
    status: CredentialStatus = Field(
        description="`revoked` if revoked (whether or not it has expired since), else `expired` "
        "past expires_at, else `active`."
    )
    created_at: DateTimeString
    expires_at: DateTimeString
    last_used_at: DateTimeString | None = Field(
        description="The last verified use of the key, null if never used. Written in batches: "
        "up to AGENTKEYS_LAST_USED_FLUSH_SECONDS (5 s) late."
    )
    revoked_at: DateTimeString | None
    revoked_by: str | None = Field(
        description="`self` (the credential's own key) or `admin:<admin key name>`."
    )
    revocation_reason: str | None
    credential_request_id: str


class AdminDecisionDto(BaseModel):
    """The issuance decision that minted a credential, from the ledger."""

    credential_request_id: str
    request_id: str
    decided_at: DateTimeString
    outcome: str
    client_address: str
    client_network: str
    request: dict[str, Any] = Field(description="The validated request as sent (no secret).")
    details: dict[str, Any] = Field(description="What the decision said beyond its outcome.")


class AdminCredentialDetailDto(AdminCredentialDto):
    decision: AdminDecisionDto


class AdminCredentialPageDto(BaseModel):
    items: list[AdminCredentialDto]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class AdminRevokeRequestDto(RequestBody):
    reason: Reason


class AdminBulkRevokeRequestDto(RequestBody):
    """Exactly one selector, and why."""

    organization: Annotated[str, Field(min_length=1, max_length=255), NonBlank] | None = Field(
        default=None,
        description="Every active credential of this organization (its quota identity).",
    )
    user_email: Annotated[str, Field(min_length=1, max_length=320), NonBlank] | None = Field(
        default=None, description="Every active credential of this e-mail (its quota identity)."
    )
    created_before: InstantText | None = Field(
        default=None, description="Every active credential created before this instant."
    )
    reason: Reason

    @model_validator(mode="after")
    def _one_selector(self) -> AdminBulkRevokeRequestDto:
        given = [name for name in BULK_SELECTORS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "Give exactly one of organization, user_email, created_before"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class AdminBulkRevocationDto(BaseModel):
    revoked: int = Field(description="How many credentials this request revoked.")
    credential_ids: list[str] = Field(description="Their ids, oldest first.")

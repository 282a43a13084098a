"""Wire shapes of the admin API: credentials as an operator sees them, revocation bodies."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, WithJsonSchema, model_validator

from agentkeys.credentials.policy import Outcome, QuotaKind
from agentkeys.validation import DescribedModel, InstantText, NonBlank, RequestBody

DateTimeString = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
CredentialStatus = Literal["active", "expired", "revoked"]
# A filter's outcome (checked against the four); stored outcomes and quotas are documented as
# their enums but read back as the text the ledger holds.
DecisionOutcome = Literal["issued", "needs_more_info", "rate_limited", "production_denied"]
OutcomeText = Annotated[
    str, WithJsonSchema({"type": "string", "enum": [outcome.value for outcome in Outcome]})
]
QuotaName = Annotated[
    str, WithJsonSchema({"type": "string", "enum": [kind.value for kind in QuotaKind]})
]
STATUSES: tuple[CredentialStatus, ...] = ("active", "expired", "revoked")
# The longest reason and organization name kept: the console's forms take their limits from here.
REASON_MAX_LENGTH = 255
ORGANIZATION_MAX_LENGTH = 255
Reason = Annotated[str, Field(min_length=1, max_length=REASON_MAX_LENGTH), NonBlank]
BULK_SELECTORS = ("organization", "user_email", "created_before")


class AdminCredentialDto(DescribedModel):
    """One credential as an operator sees it. Never the secret (only its digest is stored)."""

    credential_id: str
    """The credential's id (ws_agent_cred_…)."""
    organization_name: str = Field(description="As the requester wrote it.")
    user_name: str | None
    """user_name of the request that issued it."""
    user_email: str | None
    """user_email of the request that issued it."""
    agent: str | None
    """agent of the request that issued it."""
    client: str | None
    """client of the request that issued it."""
    assignment: str | None
    """assignment of the request that issued it."""
    scopes: list[str] = Field(description="As granted.")
    environment: str
    """Always sandbox."""
    status: CredentialStatus = Field(
        description="`revoked` if revoked (whether or not it has expired since), else `expired` "
        "past expires_at, else `active`."
    )
    created_at: DateTimeString
    """When it was issued (ISO 8601 UTC)."""
    expires_at: DateTimeString
    """When it stops (or stopped) working (ISO 8601 UTC)."""
    last_used_at: DateTimeString | None = Field(
        description="The last verified use of the key, null if never used. Written in batches: "
        "up to AGENTKEYS_LAST_USED_FLUSH_SECONDS (5 s) late."
    )
    revoked_at: DateTimeString | None
    """When it was revoked (ISO 8601 UTC); null if never."""
    revoked_by: str | None = Field(
        description="`self` (the credential's own key) or `admin:<admin key name>`."
    )
    revocation_reason: str | None
    """The reason given at the first revocation, if any."""
    credential_request_id: str
    """The decision that issued it (ws_cred_request_…)."""


class AdminDecisionDto(DescribedModel):
    """One issuance decision from the ledger, whatever its outcome: a ledger entry, and the
    decision that issued a credential (its detail). Never a secret: no key is ever stored."""

    credential_request_id: str
    """The decision's id (ws_cred_request_…)."""
    request_id: str = Field(description="The X-Request-Id of the request that was decided.")
    decided_at: DateTimeString
    """When it was decided (ISO 8601 UTC)."""
    outcome: OutcomeText
    """What the request was answered."""
    organization_name: str = Field(description="As the requester wrote it.")
    user_email: str | None = Field(description="As the requester wrote it (null if not given).")
    client_address: str
    """The client's address as recorded."""
    client_network: str = Field(description="The client's network: the unit of address quotas.")
    credential_id: str | None = Field(description="The credential issued; null unless `issued`.")
    request: dict[str, Any] = Field(
        description="The validated request as sent (it holds no secret). For `rate_limited` "
        "only its identity (organization_name, user_email, user_name, agent, each cut to 128 "
        "characters, and requested_environment) with the whole request's `sha256` and `bytes`."
    )
    missing_fields: list[str] | None = Field(
        description="needs_more_info: fields the policy requires that were absent; else null."
    )
    unknown_scopes: list[str] | None = Field(
        description="needs_more_info: requested scopes not in the catalog; else null."
    )
    unclear_fields: list[str] | None = Field(
        description="needs_more_info: fields that said too little to judge; else null."
    )
    retry_after_seconds: int | None = Field(
        description="rate_limited: the wait the answer gave; else null."
    )
    quota: QuotaName | None = Field(
        description="rate_limited: the quota that refused (the first of exhausted_quotas); "
        "else null."
    )
    exhausted_quotas: list[QuotaName] | None = Field(
        description="rate_limited: every quota that was full; else null."
    )
    details: dict[str, Any] = Field(
        description="Everything the decision recorded beyond its outcome, as stored (issued: "
        "`scopes`, `ttl_seconds`; rate_limited: `retry_after_seconds`, `exhausted`; "
        "needs_more_info: the three lists; `alarms`: quotas whose figure over every network "
        "reached its alarm)."
    )


class AdminCredentialDetailDto(AdminCredentialDto):
    decision: AdminDecisionDto
    """The issuance decision, as the ledger holds it."""


class AdminCredentialPageDto(DescribedModel):
    items: list[AdminCredentialDto]
    """This page's credentials, newest first."""
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class AdminRevokeRequestDto(RequestBody):
    reason: Reason
    """Why the key is revoked (stored; the first revocation's is kept)."""


class AdminBulkRevokeRequestDto(RequestBody):
    """Exactly one selector, and why."""

    organization: (
        Annotated[str, Field(min_length=1, max_length=ORGANIZATION_MAX_LENGTH), NonBlank] | None
    ) = Field(
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
    """Why these keys are revoked (stored with each)."""

    @model_validator(mode="after")
    def _one_selector(self) -> AdminBulkRevokeRequestDto:
        given = [name for name in BULK_SELECTORS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "Give exactly one of organization, user_email, created_before"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class AdminBulkRevocationDto(DescribedModel):
    revoked: int = Field(description="How many credentials this request revoked.")
    credential_ids: list[str] = Field(description="Their ids, oldest first.")


class AdminDecisionPageDto(DescribedModel):
    items: list[AdminDecisionDto]
    """This page's decisions, newest first."""
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class OutcomeCountsDto(DescribedModel):
    """A count per outcome: all four, zero when none."""

    issued: int
    """Decisions answered issued."""
    needs_more_info: int
    """Decisions answered needs_more_info."""
    rate_limited: int
    """Decisions answered rate_limited."""
    production_denied: int
    """Decisions answered production_denied."""


class DecisionStatsDto(DescribedModel):
    total: int
    """Decisions within the window."""
    by_outcome: OutcomeCountsDto
    """The same, by outcome."""


class HourStatsDto(DescribedModel):
    hour: DateTimeString = Field(description="The start of a UTC hour.")
    total: int
    """Decisions within the hour."""
    by_outcome: OutcomeCountsDto
    """The same, by outcome."""


class CredentialStatsDto(DescribedModel):
    issued: int = Field(description="Credentials issued within the window.")
    active: int = Field(
        description="Credentials active now (unrevoked, unexpired), whenever issued."
    )


class OrganizationStatsDto(DescribedModel):
    organization: str = Field(
        description="Its quota identity (what the `organization` filter matches)."
    )
    organization_name: str = Field(description="One name it was written as.")
    decisions: int
    """Decisions for the organization within the window."""


class RevocationStatsDto(DescribedModel):
    total: int
    """Credentials revoked within the window."""
    by_revoked_by: dict[str, int] = Field(
        description="Revocations per `revoked_by` value (`self`, `admin:<admin key name>`, "
        "`leak`), most first; at most 100."
    )


class AdminStatsDto(DescribedModel):
    """What happened within the window ending now."""

    window: str = Field(description="As asked, e.g. `24h`.")
    window_seconds: int
    """The window's length in seconds, ending now."""
    since: DateTimeString = Field(description="The window's start (inclusive).")
    until: DateTimeString = Field(description="Now: the window's end (inclusive).")
    decisions: DecisionStatsDto
    """Decisions within the window: the total and by outcome."""
    decisions_by_hour: list[HourStatsDto] = Field(
        description="Every UTC hour the window touches, oldest first, zeros included (at most "
        "721 for 30d)."
    )
    credentials: CredentialStatsDto
    """Credentials issued within the window and active now."""
    top_organizations: list[OrganizationStatsDto] = Field(
        description="The 10 organizations with the most decisions, most first."
    )
    revocations: RevocationStatsDto = Field(description="Revocations made within the window.")

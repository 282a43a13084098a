"""Wire shapes of the verification API (``POST /v1/keys/verify``) and of RFC 7662 token
introspection (``POST /oauth/introspect``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from agentkeys.redaction import redact_all
from agentkeys.validation import DescribedModel, RequestBody

DateTimeString = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
# A key is short (wsk_agent_ + 49); anything much longer is no key, answered NOT_FOUND unread.
MAX_KEY_CHARACTERS = 512
MAX_SCOPES = 64


class VerificationCode(StrEnum):
    """What a verification found, first problem first: the key, then its rate, then scopes."""

    VALID = "VALID"
    NOT_FOUND = "NOT_FOUND"  # missing, malformed, unknown, or an admin key
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"
    INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE"  # a scope not granted, or no upstream route
    RATE_LIMITED = "RATE_LIMITED"


class VerifyKeyRequestDto(RequestBody):
    """Is this agent key good, for these scopes or this upstream request?"""

    @field_validator("*", mode="after")
    @classmethod
    # Replaces RequestBody's validator of the same name (pydantic overrides by name); it takes
    # the field's name too, which the base's signature does not.
    def _redact_keys(cls, value: object, info: ValidationInfo) -> object:  # type: ignore[override]
        # Every body's rule (keys pasted into text are redacted) but for ``key``: here the key
        # is the point. It is never stored, logged or echoed.
        return value if info.field_name == "key" else redact_all(value)

    key: str = Field(min_length=1, max_length=MAX_KEY_CHARACTERS)
    """The agent key to verify (wsk_agent_…), as the service received it."""
    scopes: list[Annotated[str, Field(min_length=1, max_length=128)]] | None = Field(
        default=None, max_length=MAX_SCOPES
    )
    """Scopes the key must hold, every one; a coarse name (`homes`) asks for all its members,
    and a key granted one holds them. A name not in the scope catalog is refused (400
    VALIDATION_FAILED naming it). Without `scopes`, `method` and `path`: no requirement, the
    key's validity only (VALID for any usable key within its rate)."""
    method: str | None = Field(default=None, min_length=1, max_length=32, pattern=r"^[A-Za-z]+$")
    """With `path`: the upstream request's method; the policy's `[upstream]` table names the
    scope it needs (first matching route, else `default_scope`, else refused)."""
    path: str | None = Field(default=None, min_length=1, max_length=4096, pattern=r"^/")
    """With `method`: the upstream request's path (a query string is ignored)."""


class RateLimitStateDto(DescribedModel):
    """The verified credential's request rate after this verification counted."""

    limit: int
    """Requests allowed per window."""
    remaining: int
    """Requests left in the window."""
    reset: int
    """Seconds until the window frees a request (the wait when RATE_LIMITED)."""
    window: int | None = None
    """The window's length in seconds (`limit` requests per `window` seconds)."""


class VerifyKeyResponseDto(DescribedModel):
    """The verdict: `valid` is true only with `code` VALID. Fields the verdict cannot know are
    null (no credential for NOT_FOUND; no rate for NOT_FOUND, EXPIRED, REVOKED)."""

    valid: bool
    """True when the key may make the request: usable, within its rate, holding the scopes."""
    code: VerificationCode
    """Why: VALID, or the first problem found (key, then rate, then scopes)."""
    credential_id: str | None
    """The credential the key belongs to (ws_agent_cred_…); null for NOT_FOUND."""
    scopes: list[str]
    """The scopes the key may use (coarse names expanded), sorted; empty for NOT_FOUND."""
    expires_at: DateTimeString | None
    """When the key stops working (ISO 8601 UTC); null for NOT_FOUND."""
    ratelimit: RateLimitStateDto | None
    """The credential's request rate, which this verification counted one request against
    (as a sandbox request needing the same scopes); null when the key is not usable."""


class IntrospectionDto(DescribedModel):
    """RFC 7662 §2.2. An inactive token (unknown, malformed, expired, revoked) is answered
    `{"active": false}` and nothing else."""

    active: bool
    """Whether the key is usable now."""
    scope: str | None = None
    """The scopes the key may use, space-separated (coarse names expanded)."""
    client_id: str | None = None
    """The credential's id (ws_agent_cred_…)."""
    sub: str | None = None
    """The credential's id, as the token's subject."""
    token_type: Literal["wsk_agent"] | None = None
    """Always wsk_agent: an agentkeys agent credential."""
    exp: int | None = None
    """When the key expires, in seconds since the epoch (the instant enforced, rounded down)."""
    iat: int | None = None
    """When the key was issued, in seconds since the epoch."""
    environment: Literal["sandbox"] | None = None
    """Always sandbox."""

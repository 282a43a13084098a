"""The verification API's answer (``POST /v1/keys/verify``) and what the guard makes of it. Pure.

agentkeys answers every verification 200 with ``{valid, code, credential_id, scopes,
expires_at, ratelimit}``; the guard turns a refusing ``code`` into the same error envelope and
status agentkeys' own routes answer (``Refusal``), and anything it cannot read into a refusal to
serve (``unavailable``): the guard fails closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from agentkeys.errors import ErrorCode
from agentkeys.guard.identity import AgentIdentity, RateLimitState

NEW_CREDENTIAL = "Request a new agent credential from agentkeys (POST /v1/agent-credentials)."
# How long a client is told to wait when agentkeys cannot be asked.
UNAVAILABLE_RETRY_SECONDS = 5
UNAVAILABLE_STATUS = 503


class VerifyCode(StrEnum):
    VALID = "VALID"
    NOT_FOUND = "NOT_FOUND"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"
    INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE"
    RATE_LIMITED = "RATE_LIMITED"


class RateLimitDto(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    limit: int = Field(ge=0)
    remaining: int = Field(ge=0)
    reset: int = Field(ge=0)
    # Optional: agentkeys before 'window' was added does not send it.
    window: int | None = Field(default=None, ge=1)


class VerifyAnswerDto(BaseModel):
    """The body of a verification answer. Unknown fields are ignored (agentkeys may add some)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    valid: bool
    code: VerifyCode
    credential_id: str | None = None
    scopes: list[str] | None = None
    expires_at: AwareDatetime | None = None
    ratelimit: RateLimitDto | None = None

    def identity(self) -> AgentIdentity | None:
        """The credential described, when the answer names one (a refusal may not)."""
        if self.credential_id is None or self.expires_at is None:
            return None
        return AgentIdentity(
            credential_id=self.credential_id,
            scopes=tuple(self.scopes or ()),
            expires_at=self.expires_at,
        )

    def rate(self) -> RateLimitState | None:
        if self.ratelimit is None:
            return None
        return RateLimitState(
            limit=self.ratelimit.limit,
            remaining=self.ratelimit.remaining,
            reset_seconds=self.ratelimit.reset,
            window_seconds=self.ratelimit.window,
        )

    def grant(self) -> tuple[AgentIdentity, RateLimitState] | None:
        """Who and at what rate, for a ``VALID`` answer; ``None`` for any refusal."""
        identity, rate = self.identity(), self.rate()
        if self.code is not VerifyCode.VALID or identity is None or rate is None:
            return None
        return identity, rate

    def is_coherent(self) -> bool:
        """A grant names its credential, expiry and rate, and only ``VALID`` is valid: anything
        else is an answer the guard cannot trust, and it refuses to serve on it."""
        if self.valid != (self.code is VerifyCode.VALID):
            return False
        return not self.valid or self.grant() is not None


@dataclass(frozen=True, slots=True)
class Admission:
    """A request the guard lets through: whose key it carried, and its rate after it."""

    identity: AgentIdentity
    rate: RateLimitState
    from_cache: bool = False


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request the guard answers itself, in agentkeys' error envelope."""

    status: int
    code: ErrorCode
    message: str
    recovery_action: str | None = None
    retry_after_seconds: int | None = None
    rate: RateLimitState | None = None
    # Extra headers (``WWW-Authenticate`` on a 401), names lower-case.
    headers: tuple[tuple[str, str], ...] = field(default=())


def unauthenticated(code: ErrorCode, message: str, recovery_action: str) -> Refusal:
    """A 401: RFC 6750's challenge names what was wrong (no error when no key was sent)."""
    challenge = 'Bearer realm="agentkeys"'
    if code is not ErrorCode.AUTH_MISSING_API_KEY:
        challenge += ', error="invalid_token"'
    return Refusal(
        status=401,
        code=code,
        message=message,
        recovery_action=recovery_action,
        headers=(("www-authenticate", challenge),),
    )


def missing_key() -> Refusal:
    return unauthenticated(
        ErrorCode.AUTH_MISSING_API_KEY,
        "Send your agent credential in the x-ws-api-key header (or Authorization: Bearer).",
        NEW_CREDENTIAL,
    )


def invalid_key(message: str, recovery_action: str) -> Refusal:
    return unauthenticated(ErrorCode.AUTH_INVALID_API_KEY, message, recovery_action)


def unavailable() -> Refusal:
    """agentkeys could not say whether the key is good: never a grant (fail closed)."""
    return Refusal(
        status=UNAVAILABLE_STATUS,
        code=ErrorCode.SERVICE_UNAVAILABLE,
        message="The key service (agentkeys) could not verify the credential.",
        recovery_action="Retry in a few seconds.",
        retry_after_seconds=UNAVAILABLE_RETRY_SECONDS,
    )


def _quoted(scopes: tuple[str, ...]) -> str:
    return ", ".join(f"'{scope}'" for scope in scopes)


def insufficient_scope(missing: tuple[str, ...], rate: RateLimitState | None = None) -> Refusal:
    """A 403 for scopes the route requires (``missing``: those the key was not granted), worded
    as agentkeys' own routes word it."""
    noun = "scope" if len(missing) == 1 else "scopes"
    return Refusal(
        status=403,
        code=ErrorCode.AUTH_INSUFFICIENT_SCOPE,
        message=f"This credential lacks the {noun} {_quoted(missing)} needed for this route.",
        recovery_action=f"Request a new credential that includes {_quoted(missing)}.",
        rate=rate,
    )


def route_refused(request: str, rate: RateLimitState | None = None) -> Refusal:
    """A 403 for a request judged by agentkeys' upstream routes: the key lacks the scope the
    route names, or no route maps the request (agentkeys' answer does not say which)."""
    return Refusal(
        status=403,
        code=ErrorCode.AUTH_INSUFFICIENT_SCOPE,
        message=f"This credential may not make {request}: it lacks the scope agentkeys' upstream "
        "route names for it, or no upstream route maps it.",
        recovery_action="Request a new credential with the scope this request needs, or ask the "
        "API's operator which requests keys may make.",
        rate=rate,
    )


def no_route(request: str) -> Refusal:
    """A method or path no upstream route can map (agentkeys would not look it up): no scope
    could allow it, so none is named."""
    return Refusal(
        status=403,
        code=ErrorCode.AUTH_INSUFFICIENT_SCOPE,
        message=f"No upstream route maps {request}: no scope allows it.",
        recovery_action="Ask the API's operator which requests keys may make.",
    )


def over_the_rate(rate: RateLimitState | None, wait_seconds: int) -> Refusal:
    """A 429: agentkeys said so, or the requests served from the guard's cache, which agentkeys
    did not see, leave no room for this one."""
    return Refusal(
        status=429,
        code=ErrorCode.RATE_LIMITED,
        message="This credential has made too many requests"
        + (f": at most {rate.limit} per window." if rate is not None else "."),
        recovery_action="Slow down and retry after retry_after_seconds.",
        retry_after_seconds=max(1, wait_seconds),
        rate=rate,
    )


def refusal_of(
    answer: VerifyAnswerDto, *, scopes: tuple[str, ...] = (), request: str = ""
) -> Refusal:
    """The refusal for an answer whose code is not ``VALID``; for the 403's message, the
    ``scopes`` the route required, or with none the ``request`` (method and path) agentkeys'
    upstream routes judged."""
    rate = answer.rate()
    match answer.code:
        case VerifyCode.NOT_FOUND:
            return invalid_key(
                "The key does not hold a valid agent credential.",
                "Check that the whole key was sent, or request a new credential.",
            )
        case VerifyCode.EXPIRED:
            return unauthenticated(
                ErrorCode.AUTH_EXPIRED_CREDENTIAL, "This credential has expired.", NEW_CREDENTIAL
            )
        case VerifyCode.REVOKED:
            return unauthenticated(
                ErrorCode.AUTH_REVOKED_CREDENTIAL,
                "This credential has been revoked.",
                NEW_CREDENTIAL,
            )
        case VerifyCode.INSUFFICIENT_SCOPE:
            if not scopes:
                return route_refused(request, rate)
            # The required names the key's (expanded) scopes lack; a coarse name the key holds
            # only in part is not among them by name, so all are named when none stands out.
            held = set(answer.scopes or ())
            missing = tuple(scope for scope in scopes if scope not in held) or scopes
            return insufficient_scope(missing, rate)
        case VerifyCode.RATE_LIMITED:
            return over_the_rate(rate, rate.reset_seconds if rate is not None else 1)
        case VerifyCode.VALID:  # pragma: no cover - the caller admits VALID answers
            raise ValueError("a VALID answer is no refusal")

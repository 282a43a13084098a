"""Is this agent key good for this request? For a gateway (forward auth), a service (the
verification API) and RFC 7662 introspection.

Every answer that uses a key goes through ``api.deps.admit_key``, the sandbox routes' own guard:
the same verified-key cache, the same per-credential (and per-network) request rate, counted
the same way, the same scope rule. A request to the upstream API needs the scope its first
matching ``[upstream]`` route names (``credentials.upstream``).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from agentkeys.api.context import app_context
from agentkeys.api.deps import admit_key, bearer_token_of, presented_key_of
from agentkeys.api.errors import requested_method
from agentkeys.clock import format_instant
from agentkeys.credentials.identity import AuthenticatedCredential
from agentkeys.errors import DomainError, ErrorCode, FieldError, ValidationFailed, echo
from agentkeys.gateway.schemas import (
    IntrospectionDto,
    RateLimitStateDto,
    VerificationCode,
    VerifyKeyRequestDto,
    VerifyKeyResponseDto,
)
from agentkeys.ratelimit.base import RateDecision

FORWARD_PATH = "/v1/auth/forward"
# Where the original request is named, in order of preference: Traefik's, then nginx's usual
# names; a method header and a URI header together, or neither. Absent both, the forward
# request's own method and sub-path (Envoy ext_authz appends the original path to the
# authorization service's path). One without the other is refused: a gateway that drops the
# method header must not get the forward request's own method (GET) judged instead.
METHOD_HEADERS = ("x-forwarded-method", "x-original-method")
URI_HEADERS = ("x-forwarded-uri", "x-original-uri")
HEADER_NAMES = {
    "x-forwarded-method": "X-Forwarded-Method",
    "x-original-method": "X-Original-Method",
    "x-forwarded-uri": "X-Forwarded-Uri",
    "x-original-uri": "X-Original-URI",
}

CODES: dict[ErrorCode, VerificationCode] = {
    ErrorCode.AUTH_MISSING_API_KEY: VerificationCode.NOT_FOUND,
    ErrorCode.AUTH_INVALID_API_KEY: VerificationCode.NOT_FOUND,
    ErrorCode.AUTH_EXPIRED_CREDENTIAL: VerificationCode.EXPIRED,
    ErrorCode.AUTH_REVOKED_CREDENTIAL: VerificationCode.REVOKED,
    ErrorCode.AUTH_INSUFFICIENT_SCOPE: VerificationCode.INSUFFICIENT_SCOPE,
    ErrorCode.RATE_LIMITED: VerificationCode.RATE_LIMITED,
}
# The refusals forward auth answers itself (with its headers); anything else (a database
# outage's 503) is answered as on every route.
DENIALS = frozenset(CODES)


@dataclass(frozen=True, slots=True)
class OriginalRequest:
    """The request the gateway asks about: its method and URI (path and query as sent)."""

    method: str
    uri: str


class UnnamedRequest(ValueError):
    """The forwarded request does not name its original one unambiguously."""


def _header(request: Request, names: tuple[str, ...]) -> tuple[str, str] | None:
    """The first of ``names`` sent, with its value; one sent more than once is refused, never
    guessed at."""
    for name in names:
        values = request.headers.getlist(name)
        if len(values) > 1:
            raise UnnamedRequest(f"The {HEADER_NAMES[name]} header was sent more than once.")
        if values:
            return name, values[0]
    return None


def _either(names: tuple[str, ...]) -> str:
    return " or ".join(HEADER_NAMES[name] for name in names)


def original_request(request: Request) -> OriginalRequest:
    """The request the gateway asks about (``UnnamedRequest`` when a header is repeated, or a
    method header comes without a URI header or the reverse)."""
    method = _header(request, METHOD_HEADERS)
    uri = _header(request, URI_HEADERS)
    if method is None and uri is not None:
        raise UnnamedRequest(
            f"The {HEADER_NAMES[uri[0]]} header was sent without the original request's method "
            f"({_either(METHOD_HEADERS)} is missing)."
        )
    if uri is None and method is not None:
        raise UnnamedRequest(
            f"The {HEADER_NAMES[method[0]]} header was sent without the original request's URI "
            f"({_either(URI_HEADERS)} is missing)."
        )
    if method is not None and uri is not None:
        return OriginalRequest(method=method[1], uri=uri[1])
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    return OriginalRequest(
        method=requested_method(request),
        uri=raw_path.decode("latin-1").removeprefix(FORWARD_PATH) or "/",
    )


def forwarded_key(request: Request) -> str | None:
    """The agent key of a forwarded request: ``x-ws-api-key``, else ``Authorization: Bearer``
    (the upstream's own Authorization is left alone when ``x-ws-api-key`` is sent)."""
    presented = presented_key_of(request)
    if presented is not None:
        return presented
    return bearer_token_of(request)


async def check_forwarded(request: Request) -> AuthenticatedCredential:
    """Forward auth: the credential of a key good for the original request, or the refusal
    (a ``DomainError`` of ``DENIALS``)."""
    key = forwarded_key(request)
    try:
        original = original_request(request)
    except UnnamedRequest as unnamed:
        return await admit_key(request, key, (), unroutable=str(unnamed))
    scope = app_context(request).policy.upstream.scope_for(original.method, original.uri)
    if scope is None:
        return await admit_key(request, key, (), unroutable=_no_route(original))
    return await admit_key(request, key, (scope,))


def _no_route(original: OriginalRequest) -> str:
    return (
        f"No upstream route gives {echo(original.method, 16)} {echo(original.uri)} a scope, "
        "and the policy sets no upstream.default_scope."
    )


async def verify_key(request: Request, body: VerifyKeyRequestDto) -> VerifyKeyResponseDto:
    """The verification API: a verdict on ``body.key``, counted as one request of its holder
    (as a sandbox request needing the same scopes). Never raises for a verdict."""
    if (body.method is None) != (body.path is None):
        missing = "path" if body.path is None else "method"
        raise ValidationFailed([FieldError(missing, "method and path are given together")])
    # A scope the catalog does not know is the caller's programming error (no key could hold
    # it), answered 400 rather than a verdict that would blame the key.
    catalog = app_context(request).policy.catalog
    unknown = [
        FieldError(
            f"scopes[{index}]",
            f"Unknown scope '{echo(name)}'; known: " + ", ".join(catalog.grantable_names()),
        )
        for index, name in enumerate(body.scopes or ())
        if not catalog.is_known(name)
    ]
    if unknown:
        raise ValidationFailed(unknown)
    # A coarse name asked for means every scope it stands for, as a credential granted it has.
    scopes = list(dict.fromkeys(s for name in body.scopes or () for s in catalog.expand([name])))
    unroutable = None
    if body.method is not None and body.path is not None:
        original = OriginalRequest(method=body.method, uri=body.path)
        scope = app_context(request).policy.upstream.scope_for(original.method, original.uri)
        if scope is None:
            unroutable = _no_route(original)
        elif scope not in scopes:
            scopes.append(scope)
    try:
        credential = await admit_key(request, body.key, scopes, unroutable=unroutable)
    except DomainError as refusal:
        code = CODES.get(refusal.code)
        if code is None:
            raise
        return await _refused(request, body.key, code)
    rate = _take_rate(request)
    return VerifyKeyResponseDto(
        valid=True,
        code=VerificationCode.VALID,
        credential_id=credential.id,
        scopes=sorted(credential.effective_scopes),
        expires_at=format_instant(credential.expires_at),
        ratelimit=rate,
    )


def _take_rate(request: Request) -> RateLimitStateDto | None:
    """The rate this verification counted against, for the body; taken from the request so
    the caller's answer carries no RateLimit headers about somebody else's key."""
    state = request.scope["state"]
    state.pop("rate_name", None)
    decision: RateDecision | None = state.pop("rate_decision", None)
    if decision is None:
        return None
    return RateLimitStateDto(
        limit=decision.limit,
        remaining=decision.remaining,
        reset=decision.reset_seconds,
        window=decision.window_seconds,
    )


async def _refused(request: Request, key: str, code: VerificationCode) -> VerifyKeyResponseDto:
    rate = _take_rate(request)
    if code is VerificationCode.NOT_FOUND:
        return VerifyKeyResponseDto(
            valid=False, code=code, credential_id=None, scopes=[], expires_at=None, ratelimit=None
        )
    context = app_context(request)
    # A refused key past the verifier's checks is well-formed and stored: read it again (off the
    # hot path: refusals only) for the credential the caller's logs should name.
    record = await context.verifier.find(context.verifier.digest_of(key))
    if record is None:  # credentials are never deleted but by pruning, which may just have run
        return VerifyKeyResponseDto(
            valid=False, code=code, credential_id=None, scopes=[], expires_at=None, ratelimit=None
        )
    usable = code in (VerificationCode.INSUFFICIENT_SCOPE, VerificationCode.RATE_LIMITED)
    return VerifyKeyResponseDto(
        valid=False,
        code=code,
        credential_id=record.id,
        scopes=sorted(context.policy.catalog.expand(record.scopes)),
        expires_at=format_instant(record.expires_at),
        ratelimit=rate if usable else None,
    )


INACTIVE = IntrospectionDto(active=False)


async def introspect(request: Request, token: str) -> IntrospectionDto:
    """RFC 7662: whether ``token`` is a usable agent key now, and what it may do. Not counted
    against the key's request rate (it is a question about the key, not a use by its holder,
    so a key over its rate is still active)."""
    context = app_context(request)
    try:
        credential = await context.verifier.authenticate(token)
    except DomainError as refusal:
        if refusal.code in CODES:
            return INACTIVE
        raise
    return IntrospectionDto(
        active=True,
        scope=" ".join(sorted(credential.effective_scopes)),
        client_id=credential.id,
        sub=credential.id,
        token_type="wsk_agent",  # noqa: S106 - a token's kind (RFC 7662), no secret
        exp=int(credential.expires_at.timestamp()),
        iat=int(credential.created_at.timestamp()),
        environment="sandbox",
    )

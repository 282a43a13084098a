"""The gateway routes: forward auth (``/v1/auth/forward``), the verification API
(``POST /v1/keys/verify``) and RFC 7662 introspection (``POST /oauth/introspect``).
Thin: parse, call one service function, present."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from agentkeys.api.context import request_id_of
from agentkeys.api.deps import JsonBodyRoute, parse_json_body, served_raw
from agentkeys.api.errors import STATUS_BY_CODE, error_response
from agentkeys.api.openapi import ADMIN_KEY_SCHEME, API_KEY_SCHEME, error_responses
from agentkeys.clock import format_instant
from agentkeys.errors import DomainError, ErrorCode
from agentkeys.gateway.deps import IntrospectingAdmin, VerifyingAdmin
from agentkeys.gateway.examples import (
    FORWARD_DESCRIPTION,
    INTROSPECTION_EXAMPLES,
    INTROSPECTION_REQUEST_EXAMPLES,
    VERIFY_REQUEST_EXAMPLES,
    VERIFY_RESPONSE_EXAMPLES,
)
from agentkeys.gateway.forms import FORM_MEDIA_TYPE, NotAForm, introspection_token
from agentkeys.gateway.schemas import IntrospectionDto, VerifyKeyRequestDto, VerifyKeyResponseDto
from agentkeys.gateway.service import (
    DENIALS,
    FORWARD_PATH,
    check_forwarded,
    introspect,
    verify_key,
)

router = APIRouter(tags=["verification"], route_class=JsonBodyRoute)

INTROSPECT_PATH = "/oauth/introspect"
# Every method a gateway may forward; only GET is documented (one operation per path).
FORWARDED_METHODS = ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# The verification API's body is parsed after its caller is authenticated (no oracle), so
# FastAPI does not see it: its schema is declared here and added to the components.
OPENAPI_SCHEMAS = {
    "VerifyKeyRequestDto": VerifyKeyRequestDto.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
}
VERIFIER_ROLES: dict[str, Any] = {"x-required-roles": ["verify", "admin"]}
VERIFY_DESCRIPTIONS = {
    400: "VALIDATION_FAILED: a bad body, `method` without `path` or the reverse, or a scope "
    "not in the catalog (`scopes[i]` names it).",
}
CALLER_DESCRIPTIONS = {
    401: "AUTH_MISSING_API_KEY, AUTH_INVALID_API_KEY or AUTH_REVOKED_CREDENTIAL: the caller's "
    "admin key (whatever the key asked about).",
    403: "FORBIDDEN: an agent credential, or an admin key with the role viewer.",
}
FORWARD_DESCRIPTIONS = {
    401: "AUTH_MISSING_API_KEY, AUTH_INVALID_API_KEY, AUTH_EXPIRED_CREDENTIAL or "
    "AUTH_REVOKED_CREDENTIAL (X-Agentkeys-Reason names it; WWW-Authenticate is set).",
    403: "AUTH_INSUFFICIENT_SCOPE: the key lacks the scope the original request needs, no "
    "upstream route maps it, or the original request is not named unambiguously (a method "
    "header without a URI header or the reverse, or one sent twice); or RATE_LIMITED with "
    "`status_on_limit=403`.",
    429: "RATE_LIMITED: the credential's request rate is spent (Retry-After).",
}
WWW_AUTHENTICATE = 'Bearer realm="agentkeys"'
# Any other value is taken as absent, never refused: in Envoy's mode the query string is the
# original request's, which agentkeys must not answer with a 400 for a name it happens to use.
StatusOnLimit = Annotated[
    str | None,
    Query(
        description="`403`: a refusal for the request rate answers 403 (for a gateway that "
        "turns any status but 401 and 403 into an error: nginx). Otherwise 429.",
    ),
]
NO_STORE = "no-store"


def forward_refusal(
    request: Request, refusal: DomainError, *, status_on_limit: str | None
) -> JSONResponse:
    """A denial as a gateway reads it: 401, 403 or 429 (403 when asked), the envelope's code in
    X-Agentkeys-Reason, Retry-After when waiting helps, WWW-Authenticate on 401. Never a 5xx."""
    status = STATUS_BY_CODE[refusal.code]
    if refusal.code is ErrorCode.RATE_LIMITED and status_on_limit == "403":
        status = 403
    headers = {"X-Agentkeys-Reason": refusal.code.value, "Cache-Control": NO_STORE}
    if status == 401:
        headers["WWW-Authenticate"] = (
            WWW_AUTHENTICATE
            if refusal.code is ErrorCode.AUTH_MISSING_API_KEY
            else f'{WWW_AUTHENTICATE}, error="invalid_token"'
        )
    return error_response(
        request_id_of(request),
        status=status,
        code=refusal.code,
        message=refusal.message,
        recovery_action=refusal.recovery_action,
        retry_after_seconds=refusal.retry_after_seconds,
        headers=headers,
    )


async def _forward(request: Request, status_on_limit: str | None) -> Response:
    try:
        credential = await check_forwarded(request)
    except DomainError as refusal:
        if refusal.code not in DENIALS:
            raise
        return forward_refusal(request, refusal, status_on_limit=status_on_limit)
    # Exactly 200 and no body (Envoy allows 200 only); the middleware adds the RateLimit fields.
    return Response(
        status_code=200,
        headers={
            "X-Agentkeys-Credential-Id": credential.id,
            "X-Agentkeys-Scopes": " ".join(sorted(credential.effective_scopes)),
            "X-Agentkeys-Expires-At": format_instant(credential.expires_at),
            "Cache-Control": NO_STORE,
        },
    )


# The queries forward auth answers without FastAPI's parsing (``served_raw``): none, or
# ``status_on_limit`` alone, exactly. Any other is parsed (and refused if need be) as declared.
RAW_QUERIES: dict[bytes, str | None] = {
    b"": None,
    b"status_on_limit=403": "403",
    b"status_on_limit=429": "429",
}


async def forward_raw(request: Request) -> Response | None:
    """Forward auth straight from the request: asked once per request of a whole upstream API,
    so it skips FastAPI's parameter parsing (``api.deps.served_raw``). The sub-path of the
    Envoy route is read from the raw path in either case (``service.original_request``)."""
    query: bytes = request.scope["query_string"]
    if query not in RAW_QUERIES:
        return None
    return await _forward(request, RAW_QUERIES[query])


FORWARD_RESPONSES: dict[int | str, dict[str, Any]] = {
    **error_responses(401, 403, 429, descriptions=FORWARD_DESCRIPTIONS),
    200: {
        "description": "The key may make the original request. Empty body; copy these headers "
        "upstream.",
        "content": None,
        "headers": {
            "X-Agentkeys-Credential-Id": {
                "description": "The credential (ws_agent_cred_…).",
                "schema": {"type": "string"},
            },
            "X-Agentkeys-Scopes": {
                "description": "The scopes the key may use, space-separated, sorted.",
                "schema": {"type": "string"},
            },
            "X-Agentkeys-Expires-At": {
                "description": "When the key stops working (ISO 8601 UTC).",
                "schema": {"type": "string", "format": "date-time"},
            },
            "RateLimit": {
                "description": "The credential's rate after this request "
                '(`"credential";r=599;t=60`).',
                "schema": {"type": "string"},
            },
            "RateLimit-Policy": {
                "description": 'The credential\'s rate (`"credential";q=600;w=60`).',
                "schema": {"type": "string"},
            },
        },
    },
}
_REASON = {
    "description": "The envelope's error_code, for the gateway to pass on.",
    "schema": {"type": "string"},
}
_DENIAL_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "X-Agentkeys-Reason": _REASON,
        "WWW-Authenticate": {
            "description": 'Bearer realm="agentkeys" (with error="invalid_token" for a key '
            "sent but refused).",
            "schema": {"type": "string"},
        },
    },
    403: {
        "X-Agentkeys-Reason": _REASON,
        "Retry-After": {
            "description": "RATE_LIMITED only: seconds until a request is allowed again.",
            "schema": {"type": "integer"},
        },
    },
    429: {
        "X-Agentkeys-Reason": _REASON,
        "Retry-After": {
            "description": "Seconds until a request is allowed again.",
            "schema": {"type": "integer"},
        },
    },
}
for _status, _headers in _DENIAL_HEADERS.items():
    FORWARD_RESPONSES[_status]["headers"] = _headers

FORWARD_OPENAPI: dict[str, Any] = {
    # The key in x-ws-api-key, or as 'Authorization: Bearer <key>'.
    "security": [{API_KEY_SCHEME: []}],
    "parameters": [
        {
            "name": name,
            "in": "header",
            "required": False,
            "description": description,
            "schema": {"type": "string"},
        }
        for name, description in (
            ("X-Forwarded-Method", "The original request's method (Traefik); with a URI header."),
            ("X-Forwarded-Uri", "The original request's URI (Traefik); with a method header."),
            ("X-Original-Method", "The original request's method (nginx); with a URI header."),
            ("X-Original-URI", "The original request's URI (nginx); with a method header."),
        )
    ],
}


@router.get(
    FORWARD_PATH,
    operation_id="forwardAuth",
    summary="Forward auth for a gateway: may this key make the original request?",
    description=FORWARD_DESCRIPTION,
    response_class=Response,
    responses=FORWARD_RESPONSES,
    openapi_extra=FORWARD_OPENAPI,
)
@served_raw(forward_raw)
async def forward_auth(request: Request, status_on_limit: StatusOnLimit = None) -> Response:
    return await _forward(request, status_on_limit)


@router.get(
    FORWARD_PATH + "/{path:path}",
    operation_id="forwardAuthPath",
    summary="Forward auth, the original path appended (Envoy ext_authz)",
    description=FORWARD_DESCRIPTION,
    response_class=Response,
    responses=FORWARD_RESPONSES,
    openapi_extra=FORWARD_OPENAPI,
)
@served_raw(forward_raw)
async def forward_auth_path(
    request: Request,
    path: Annotated[
        str, Path(description="The original request's path, appended by the gateway (Envoy).")
    ],
    status_on_limit: StatusOnLimit = None,
) -> Response:
    # ``path`` is read from the raw request path (``service.original_request``), undecoded.
    del path
    return await _forward(request, status_on_limit)


# Any method: a gateway may forward the original one (Envoy, nginx's subrequest).
router.add_api_route(FORWARD_PATH, forward_auth, methods=FORWARDED_METHODS, include_in_schema=False)
router.add_api_route(
    FORWARD_PATH + "/{path:path}",
    forward_auth_path,
    methods=FORWARDED_METHODS,
    include_in_schema=False,
)


@router.post(
    "/v1/keys/verify",
    operation_id="verifyAgentKey",
    summary="Verify an agent key for a service: valid, and good for these scopes or request?",
    response_model=VerifyKeyResponseDto,
    responses={
        **error_responses(
            400, 401, 403, descriptions={**CALLER_DESCRIPTIONS, **VERIFY_DESCRIPTIONS}
        ),
        200: {"content": {"application/json": {"examples": VERIFY_RESPONSE_EXAMPLES}}},
    },
    openapi_extra={
        "security": [{ADMIN_KEY_SCHEME: []}],
        **VERIFIER_ROLES,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/VerifyKeyRequestDto"},
                    "examples": VERIFY_REQUEST_EXAMPLES,
                }
            },
        },
    },
)
async def verify_agent_key(
    request: Request, _caller: VerifyingAdmin, response: Response
) -> VerifyKeyResponseDto:
    """Always 200 with a verdict once the caller is authenticated (an admin key with the role
    `verify` or `admin`; the caller is checked before the key is looked up). The verdict counts
    one request against the key's request rate, as a sandbox request needing the same scopes
    would: a service verifies each request it serves. `method` and `path` (together) name a
    request to the upstream API, whose scope the policy's `[upstream]` table gives. With
    neither `scopes` nor `method`/`path` there is no requirement: validity only. A scope not in
    the catalog is a mistake of the caller, refused with 400 VALIDATION_FAILED naming it
    (`field_errors[].field` `scopes[i]`), never a verdict."""
    body = await parse_json_body(request, VerifyKeyRequestDto)
    response.headers["Cache-Control"] = NO_STORE
    return await verify_key(request, body)


@router.post(
    INTROSPECT_PATH,
    operation_id="introspectToken",
    summary="RFC 7662 token introspection of an agent key",
    response_model=IntrospectionDto,
    response_model_exclude_none=True,
    responses={
        **error_responses(
            400,
            401,
            403,
            descriptions={
                **CALLER_DESCRIPTIONS,
                415: "VALIDATION_FAILED: the body is not application/x-www-form-urlencoded.",
            },
        ),
        200: {"content": {"application/json": {"examples": INTROSPECTION_EXAMPLES}}},
    },
    openapi_extra={
        "security": [{ADMIN_KEY_SCHEME: []}],
        **VERIFIER_ROLES,
        "requestBody": {
            "required": True,
            "content": {
                FORM_MEDIA_TYPE: {
                    "schema": {
                        "type": "object",
                        "required": ["token"],
                        "properties": {
                            "token": {
                                "type": "string",
                                "description": "The agent key (wsk_agent_…).",
                            },
                            "token_type_hint": {
                                "type": "string",
                                "description": "Accepted and ignored (RFC 7662 §2.1): "
                                "agentkeys has one kind of token.",
                            },
                        },
                    },
                    "examples": INTROSPECTION_REQUEST_EXAMPLES,
                }
            },
        },
    },
)
async def introspect_token(
    request: Request, _caller: IntrospectingAdmin, response: Response
) -> IntrospectionDto | JSONResponse:
    """RFC 7662: `token` form-encoded; the caller authenticates as for `/v1/keys/verify`
    (`Authorization: Bearer wsk_admin_…`), or with HTTP Basic as RFC 7662 clients send client
    credentials: `Authorization: Basic base64(user:admin key)`, the user name ignored
    (malformed Basic credentials: 401 AUTH_INVALID_API_KEY). An
    unusable key (unknown, malformed, expired, revoked) answers exactly `{"active": false}`.
    Not counted against the key's request rate."""
    try:
        token = await introspection_token(request)
    except NotAForm as refusal:
        return error_response(
            request_id_of(request),
            status=415,
            code=ErrorCode.VALIDATION_FAILED,
            message=str(refusal),
            recovery_action=f"Send the token form-encoded ({FORM_MEDIA_TYPE}).",
        )
    response.headers["Cache-Control"] = NO_STORE
    return await introspect(request, token)

"""Routes of the credential life cycle: request, introspect, revoke. Thin: parse, call, present."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Request, Response
from pydantic import ValidationError

from agentkeys.api.context import note_credential, request_id_of
from agentkeys.api.deps import (
    ClientAddressDep,
    ClientNetworkDep,
    CurrentCredential,
    RequestIdDep,
    address_of_request,
    network_of_request,
    parse_json_body,
    served_raw,
    work_of,
)
from agentkeys.api.openapi import (
    ADMIN_KEY_SCHEME,
    API_KEY_SCHEME,
    error_responses,
    idempotent_openapi,
)
from agentkeys.clock import format_instant
from agentkeys.credentials.deps import (
    CredentialServiceDep,
    PresentedKeyDep,
    RevokingAdminDep,
    credential_service,
    limit_failed_revocations,
    limit_revocations_of,
)
from agentkeys.credentials.examples import (
    REQUEST_EXAMPLES,
    RESPONSE_EXAMPLES,
    REVOCATION_EXAMPLE,
    REVOCATION_REQUEST_EXAMPLES,
    SELF_EXAMPLE,
)
from agentkeys.credentials.policy import RateLimited
from agentkeys.credentials.schemas import (
    AgentCredentialResponseDto,
    AgentCredentialRevocationResponseDto,
    AgentCredentialSelfResponseDto,
    CreateAgentCredentialRequestDto,
    RevokeAgentCredentialRequestDto,
    revocation_path,
)
from agentkeys.credentials.service import REVOKED_NEXT_STEPS, CredentialService, RevocationTarget
from agentkeys.errors import DomainError
from agentkeys.idempotency.keys import HEADER as IDEMPOTENCY_HEADER
from agentkeys.idempotency.route import IdempotentRoute, idempotent
from agentkeys.validation import decode_json

router = APIRouter(
    prefix="/v1/agent-credentials", tags=["agent credentials"], route_class=IdempotentRoute
)

CredentialIdPath = Annotated[
    str, Path(alias="credentialId", description="The credential to revoke (ws_agent_cred_…).")
]
# Revoke parses its body after the guards, so FastAPI does not see it: its schema is declared
# here and added to the description's components by ``api.openapi``.
OPENAPI_SCHEMAS = {
    "RevokeAgentCredentialRequestDto": RevokeAgentCredentialRequestDto.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
}


async def issue_raw(request: Request) -> Response | None:
    """A plain credential request (a JSON body, no Idempotency-Key) decided without FastAPI's
    dependency resolution and body parsing, each a tenth of a decision's CPU: the body is read
    as FastAPI reads it (``decode_json``) and validated by the same model. Anything else (an
    Idempotency-Key, another content type, a body the model refuses) is left to FastAPI, which
    answers it as the route declares, refusals included."""
    if request.headers.getlist(IDEMPOTENCY_HEADER) or not _json_content(
        request.headers.get("content-type")
    ):
        return None
    try:
        body = CreateAgentCredentialRequestDto.model_validate(decode_json(await request.body()))
    except (ValueError, RecursionError, ValidationError):
        return None
    async with work_of(request) as session:
        return await issuance_answer(
            body,
            service=await credential_service(request, session),
            request_id=request_id_of(request),
            address=address_of_request(request),
            network=network_of_request(request),
        )


def _json_content(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media_type, _, parameters = content_type.partition(";")
    return media_type.strip().lower() == "application/json" and parameters.strip().lower() in (
        "",
        "charset=utf-8",
    )


@router.post(
    "",
    operation_id="requestAgentSandboxCredential",
    summary="Request a sandbox-only agent credential",
    response_model=AgentCredentialResponseDto,
    response_model_exclude_none=True,
    responses={
        **error_responses(400, 409, 422),
        200: {"content": {"application/json": {"examples": RESPONSE_EXAMPLES}}},
    },
    response_description="Sandbox credential issuance outcome.",
    openapi_extra=idempotent_openapi(),
)
@idempotent
@served_raw(issue_raw)
async def request_agent_credential(
    *,
    body: Annotated[CreateAgentCredentialRequestDto, Body(openapi_examples=REQUEST_EXAMPLES)],
    service: CredentialServiceDep,
    request_id: RequestIdDep,
    address: ClientAddressDep,
    network: ClientNetworkDep,
) -> AgentCredentialResponseDto:
    """Ask for a short-lived sandbox key. No authentication: this is how an agent starts.

    Always 200 once the body is valid; `outcome` says whether a key was issued.
    """
    # The answer is built by ``issuance_answer`` whichever way the request came in.
    return await issuance_answer(  # type: ignore[return-value]
        body, service=service, request_id=request_id, address=address, network=network
    )


async def issuance_answer(
    body: CreateAgentCredentialRequestDto,
    *,
    service: CredentialService,
    request_id: str,
    address: str,
    network: str,
) -> Response:
    """The decision on one credential request, as its answer (serialized once, by pydantic)."""
    result = await service.request_credential(
        body, client_address=address, client_network=network, request_id=request_id
    )
    answer = AgentCredentialResponseDto.of(
        result.decision,
        request_id=request_id,
        credential_request_id=result.credential_request_id,
        credential_id=result.credential_id,
        secret=result.secret,
    )
    # The answer may hold a secret shown once: no cache anywhere may keep a copy.
    headers = {"Cache-Control": "no-store"}
    if isinstance(result.decision, RateLimited):
        headers["Retry-After"] = str(result.decision.retry_after_seconds)
    return Response(
        answer.model_dump_json(exclude_none=True), media_type="application/json", headers=headers
    )


@router.get(
    "/self",
    operation_id="getOwnAgentCredential",
    summary="Describe the credential presented in x-ws-api-key",
    response_model=AgentCredentialSelfResponseDto,
    responses={
        **error_responses(401, 429),
        200: {"content": {"application/json": {"example": SELF_EXAMPLE}}},
    },
)
async def describe_own_credential(credential: CurrentCredential, request: Request) -> Response:
    """Any valid key may ask what it is: its id, scopes and lifetime. Never the secret."""
    answer = AgentCredentialSelfResponseDto(
        credential_id=credential.id,
        scopes=list(credential.scopes),
        effective_scopes=sorted(credential.effective_scopes),
        environment="sandbox",
        production_access=False,
        created_at=format_instant(credential.created_at),
        expires_at=format_instant(credential.expires_at),
        revocation_method="POST",
        revocation_path=revocation_path(credential.id),
        request_id=request_id_of(request),
    )
    # A hot route: serialized once by pydantic-core rather than validated again by FastAPI.
    return Response(answer.model_dump_json(), media_type="application/json")


async def revocation_request_body(request: Request) -> bytes:
    # Read first, before any database work: a client sending its body slowly holds no session,
    # transaction or lock meanwhile. It is checked only after authentication and ownership.
    return await request.body()


RevocationBodyBytes = Annotated[bytes, Depends(revocation_request_body)]


async def revocation_target(
    request: Request,
    _body: RevocationBodyBytes,
    service: CredentialServiceDep,
    key: PresentedKeyDep,
    admin: RevokingAdminDep,
    credential_id: CredentialIdPath,
) -> RevocationTarget:
    if admin is not None:
        # An operator's admin key (already verified): any credential, no holder's rate.
        return await service.admin_revocation_target(admin, credential_id)
    # Rates before any lock: a failed attempt counts against its network, a holder's own
    # revocation against its credential only, so failures can never block an owner.
    try:
        target = await service.revocation_target(key, credential_id)
    except DomainError:
        await limit_failed_revocations(request)
        raise
    note_credential(request, target.credential_id)  # the key's own credential
    await limit_revocations_of(request, target.credential_id)
    return target


async def revocation_body(
    request: Request,
    _body: RevocationBodyBytes,
    _target: Annotated[RevocationTarget, Depends(revocation_target)],
) -> RevokeAgentCredentialRequestDto:
    # Depends on the target so the body is checked only after authentication and ownership.
    return await parse_json_body(request, RevokeAgentCredentialRequestDto, optional=True)


@router.post(
    "/{credentialId}/revoke",
    operation_id="revokeAgentCredential",
    summary="Revoke a credential",
    response_model=AgentCredentialRevocationResponseDto,
    responses=error_responses(
        400,
        401,
        403,
        404,
        409,
        422,
        429,
        descriptions={403: "FORBIDDEN: the admin key has the role viewer, which may not revoke."},
    )
    | {200: {"content": {"application/json": {"example": REVOCATION_EXAMPLE}}}},
    openapi_extra=idempotent_openapi(
        {
            # The credential's own key, or an operator's admin key.
            "security": [{API_KEY_SCHEME: []}, {ADMIN_KEY_SCHEME: []}],
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {"$ref": "#/components/schemas/RevokeAgentCredentialRequestDto"},
                        "examples": REVOCATION_REQUEST_EXAMPLES,
                    }
                },
            },
        }
    ),
)
@idempotent
async def revoke_agent_credential(
    target: Annotated[RevocationTarget, Depends(revocation_target)],
    body: Annotated[RevokeAgentCredentialRequestDto, Depends(revocation_body)],
    service: CredentialServiceDep,
    request_id: RequestIdDep,
) -> AgentCredentialRevocationResponseDto:
    """Revoke your own credential at once (`x-ws-api-key`), or any credential with an operator's
    admin key (`Authorization: Bearer wsk_admin_…`, role `admin`). Idempotent: revoking again
    answers `revoked` again; the first revocation's time, actor and reason are kept."""
    revoked = await service.revoke(target, reason=body.reason)
    return AgentCredentialRevocationResponseDto.revoked(
        revoked, request_id=request_id, next_steps=REVOKED_NEXT_STEPS
    )

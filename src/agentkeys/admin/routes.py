"""The admin API (`/v1/admin/…`): an operator's view of every credential, and revocation; the
decision ledger (pages, a JSON Lines export) and the stats of a window.
Thin: parse, call one service method, present. Every route takes an admin key
(``Authorization: Bearer wsk_admin_…``); revoking routes need the role ``admin``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.convertors import StringConvertor, register_url_convertor

from agentkeys.admin.deps import (
    AdminCredentialServiceDep,
    AdminDecisionServiceDep,
    CurrentAdmin,
    DecisionExportDep,
    RevokingAdmin,
)
from agentkeys.admin.schemas import (
    AdminBulkRevocationDto,
    AdminBulkRevokeRequestDto,
    AdminCredentialDetailDto,
    AdminCredentialDto,
    AdminCredentialPageDto,
    AdminDecisionPageDto,
    AdminRevokeRequestDto,
    AdminStatsDto,
    CredentialStatus,
    DecisionOutcome,
)
from agentkeys.admin.service import CredentialQuery, DecisionQuery
from agentkeys.api.openapi import ADMIN_KEY_SCHEME, error_responses, idempotent_openapi
from agentkeys.idempotency.route import IdempotentRoute, idempotent
from agentkeys.validation import InstantText, NonBlank, Storable, parse_instant

router = APIRouter(prefix="/v1/admin", tags=["admin"], route_class=IdempotentRoute)


class CredentialIdConvertor(StringConvertor):
    """A credential id in a path: any segment but ``revoke``, so ``/v1/admin/credentials/revoke``
    is the bulk route only (GET or HEAD there answers 405), never the look-up of an id
    ``revoke``."""

    regex = "(?!revoke$)[^/]+"


register_url_convertor("admin_credential_id", CredentialIdConvertor())
ONE = "/credentials/{credentialId:admin_credential_id}"

SECURITY: dict[str, Any] = {"security": [{ADMIN_KEY_SCHEME: []}]}
DESCRIPTIONS = {
    401: "AUTH_MISSING_API_KEY (no admin key), AUTH_INVALID_API_KEY (not a valid admin key) or "
    "AUTH_REVOKED_CREDENTIAL (a revoked admin key).",
    403: "FORBIDDEN: an agent credential (x-ws-api-key or bearer) on the admin API, or a viewer "
    "key on a revoking route.",
    404: "NOT_FOUND: no credential with this id.",
    400: "VALIDATION_FAILED: a parameter or the body is invalid; field_errors names it.",
}
READ_ERRORS = error_responses(400, 401, 403, descriptions=DESCRIPTIONS)
ONE_ERRORS = error_responses(400, 401, 403, 404, descriptions=DESCRIPTIONS)

QueryText = Annotated[str, NonBlank, Storable]
BULK_REVOKE_EXAMPLES = {
    "organization": {
        "summary": "Every active key of an organization",
        "value": {"organization": "Example Energy Co", "reason": "Leaked in a public repository"},
    },
    "before": {
        "summary": "Every active key created before an instant",
        "value": {"created_before": "2026-03-01T00:00:00Z", "reason": "Secret rotation"},
    },
}
REVOKE_EXAMPLES = {
    "example": {"summary": "Revoke one key", "value": {"reason": "Reported as leaked"}}
}
CredentialIdPath = Annotated[
    str,
    Path(alias="credentialId", max_length=128, description="A credential id (ws_agent_cred_…)."),
    Storable,
]


@router.get(
    "/credentials",
    operation_id="listCredentials",
    summary="List credentials, newest first",
    response_model=AdminCredentialPageDto,
    responses=READ_ERRORS,
    openapi_extra=SECURITY,
)
async def list_credentials(
    *,
    _admin: CurrentAdmin,
    service: AdminCredentialServiceDep,
    response: Response,
    organization: Annotated[
        QueryText | None,
        Query(
            max_length=255,
            description="Its quota identity: case, accents, width, "
            "look-alike letters and punctuation do not matter.",
        ),
    ] = None,
    user_email: Annotated[
        QueryText | None,
        Query(
            max_length=320,
            description="Its quota identity: case, +tags and Gmail dots do not matter.",
        ),
    ] = None,
    status: Annotated[
        CredentialStatus | None, Query(description="Only credentials in this state now.")
    ] = None,
    scope: Annotated[
        QueryText | None,
        Query(
            max_length=64,
            description="Credentials that may use this scope: granted it, or a "
            "coarse name including it.",
        ),
    ] = None,
    created_after: Annotated[
        InstantText | None,
        Query(description="Created strictly after (ISO 8601; UTC if no offset)."),
    ] = None,
    created_before: Annotated[
        InstantText | None,
        Query(description="Created strictly before (ISO 8601; UTC if no offset)."),
    ] = None,
    cursor: Annotated[
        QueryText | None, Query(max_length=512, description="next_cursor of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Items per page, 1-200.")] = 50,
) -> AdminCredentialPageDto:
    """Every credential matching all the filters given, newest first, a page at a time."""
    response.headers["Cache-Control"] = "no-store"
    query = CredentialQuery(
        organization=organization,
        user_email=user_email,
        status=status,
        scope=scope,
        created_after=parse_instant(created_after) if created_after is not None else None,
        created_before=parse_instant(created_before) if created_before is not None else None,
    )
    return await service.list(query, cursor=cursor, limit=limit)


@router.post(
    "/credentials/revoke",
    operation_id="revokeCredentials",
    summary="Revoke every active credential of an organization, an e-mail, or created before",
    response_model=AdminBulkRevocationDto,
    responses=error_responses(400, 401, 403, 409, 422, descriptions=DESCRIPTIONS),
    openapi_extra=idempotent_openapi(SECURITY),
)
@idempotent
async def revoke_credentials(
    admin: RevokingAdmin,
    body: Annotated[AdminBulkRevokeRequestDto, Body(openapi_examples=BULK_REVOKE_EXAMPLES)],
    service: AdminCredentialServiceDep,
) -> AdminBulkRevocationDto:
    """Exactly one selector. Each revoked key is refused at once on every replica. Credentials
    already revoked or expired are left as they are (and not counted)."""
    return await service.revoke_matching(body, admin=admin)


@router.get(
    ONE,
    operation_id="getCredential",
    summary="One credential, with the decision that issued it",
    response_model=AdminCredentialDetailDto,
    responses=ONE_ERRORS,
    openapi_extra=SECURITY,
)
async def get_credential(
    _admin: CurrentAdmin,
    service: AdminCredentialServiceDep,
    credential_id: CredentialIdPath,
    response: Response,
) -> AdminCredentialDetailDto:
    response.headers["Cache-Control"] = "no-store"
    return await service.get(credential_id)


@router.post(
    ONE + "/revoke",
    operation_id="revokeCredential",
    summary="Revoke one credential",
    response_model=AdminCredentialDto,
    responses=error_responses(400, 401, 403, 404, 409, 422, descriptions=DESCRIPTIONS),
    openapi_extra=idempotent_openapi(SECURITY),
)
@idempotent
async def revoke_credential(
    admin: RevokingAdmin,
    body: Annotated[AdminRevokeRequestDto, Body(openapi_examples=REVOKE_EXAMPLES)],
    service: AdminCredentialServiceDep,
    credential_id: CredentialIdPath,
) -> AdminCredentialDto:
    """Refused at once on every replica. Idempotent: revoking again answers the credential as
    it is, the first revocation's time, actor and reason kept."""
    return await service.revoke(credential_id, admin=admin, reason=body.reason)


# The decision ledger and the stats: every admin key may read them (viewers too).

OrganizationQuery = Annotated[
    QueryText | None,
    Query(
        max_length=255,
        description="Its quota identity: case, accents, width, look-alike letters and "
        "punctuation do not matter.",
    ),
]
EmailQuery = Annotated[
    QueryText | None,
    Query(
        max_length=320, description="Its quota identity: case, +tags and Gmail dots do not matter."
    ),
]
OutcomeQuery = Annotated[
    DecisionOutcome | None, Query(description="Only decisions with this outcome.")
]
AddressQuery = Annotated[
    QueryText | None,
    Query(
        max_length=64,
        description="The client's address as recorded (an IP address in any spelling).",
    ),
]
SinceQuery = Annotated[
    InstantText | None, Query(description="Decided at or after (ISO 8601; UTC if no offset).")
]
UntilQuery = Annotated[
    InstantText | None, Query(description="Decided strictly before (ISO 8601; UTC if no offset).")
]
JSON_LINES = "application/x-ndjson"


def _instant_or_none(text: str | None) -> datetime | None:
    return parse_instant(text) if text is not None else None


@router.get(
    "/decisions",
    operation_id="listDecisions",
    summary="The decision ledger, newest first",
    response_model=AdminDecisionPageDto,
    responses=READ_ERRORS,
    openapi_extra=SECURITY,
)
async def list_decisions(
    *,
    _admin: CurrentAdmin,
    service: AdminDecisionServiceDep,
    response: Response,
    outcome: OutcomeQuery = None,
    organization: OrganizationQuery = None,
    user_email: EmailQuery = None,
    client_address: AddressQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
    cursor: Annotated[
        QueryText | None, Query(max_length=512, description="next_cursor of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Items per page, 1-200.")] = 50,
) -> AdminDecisionPageDto:
    """Every issuance decision matching all the filters given, whatever its outcome: the
    request as sent (never a secret) and what the answer said. A page at a time."""
    response.headers["Cache-Control"] = "no-store"
    query = DecisionQuery(
        outcome=outcome,
        organization=organization,
        user_email=user_email,
        client_address=client_address,
        since=_instant_or_none(since),
        until=_instant_or_none(until),
    )
    return await service.list(query, cursor=cursor, limit=limit)


def _as_json(responses: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """Error answers documented as JSON on a route whose own media type is another: FastAPI
    would file a ``model`` under the route's media type, so the schema is named instead."""
    return {
        status: {
            "description": response["description"],
            "content": {
                "application/json": {
                    "schema": {"$ref": f"#/components/schemas/{response['model'].__name__}"}
                }
            },
        }
        for status, response in responses.items()
    }


class JsonLinesDocumented(JSONResponse):
    """Names the export's media type in the description only (the route answers a stream):
    a JSON response class is the one FastAPI documents with the schema given, no `string`."""

    media_type = JSON_LINES


@router.get(
    "/decisions/export",
    operation_id="exportDecisions",
    summary="Export the decision ledger as JSON Lines, oldest first",
    response_class=JsonLinesDocumented,
    responses={
        200: {
            "description": "One decision per line (the shape of the listing's items), oldest "
            "first, streamed; the export ends at the instant it began.",
            "content": {JSON_LINES: {"schema": {"$ref": "#/components/schemas/AdminDecisionDto"}}},
        },
        **_as_json(READ_ERRORS),
    },
    openapi_extra=SECURITY,
)
async def export_decisions(
    *,
    _admin: CurrentAdmin,
    export: DecisionExportDep,
    outcome: OutcomeQuery = None,
    organization: OrganizationQuery = None,
    user_email: EmailQuery = None,
    client_address: AddressQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
) -> StreamingResponse:
    """Every decision matching the filters, in constant memory however many: read in short
    batches, no database lock held while the client reads. Filters as the listing's."""
    where = export.prepare(
        DecisionQuery(
            outcome=outcome,
            organization=organization,
            user_email=user_email,
            client_address=client_address,
            since=_instant_or_none(since),
            until=_instant_or_none(until),
        )
    )
    return StreamingResponse(
        export.lines(where), media_type=JSON_LINES, headers={"Cache-Control": "no-store"}
    )


@router.get(
    "/stats",
    operation_id="getStats",
    summary="Decisions, credentials and revocations within a window",
    response_model=AdminStatsDto,
    responses=READ_ERRORS,
    openapi_extra=SECURITY,
)
async def stats(
    _admin: CurrentAdmin,
    service: AdminDecisionServiceDep,
    response: Response,
    window: Annotated[
        str,
        Query(
            max_length=8,
            description="The time ending now, from 1h to 30d: a whole number of minutes (m), "
            "hours (h), days (d) or weeks (w), e.g. 1h, 24h, 7d, 30d.",
        ),
    ] = "24h",
) -> AdminStatsDto:
    """Decisions by outcome and per UTC hour, credentials issued and active, the top 10
    organizations by decisions, and revocations by `revoked_by`."""
    response.headers["Cache-Control"] = "no-store"
    return await service.stats(window)

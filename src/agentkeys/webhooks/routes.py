"""The webhook admin API (`/v1/admin/webhooks/…`). Thin: parse, call one service method, present.
Every route takes an admin key; viewers may read, only the role ``admin`` may change."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response

from agentkeys.admin.deps import CurrentAdmin, RevokingAdmin
from agentkeys.api.deps import JsonBodyRoute
from agentkeys.api.openapi import ADMIN_KEY_SCHEME, error_responses
from agentkeys.validation import Storable
from agentkeys.webhooks.deps import WebhookServiceDep
from agentkeys.webhooks.schemas import (
    WebhookAttemptListDto,
    WebhookCreateRequestDto,
    WebhookEndpointDto,
    WebhookEndpointListDto,
    WebhookEndpointWithSecretDto,
    WebhookTestDto,
    WebhookUpdateRequestDto,
)

router = APIRouter(prefix="/v1/admin/webhooks", tags=["admin"], route_class=JsonBodyRoute)

SECURITY: dict[str, Any] = {"security": [{ADMIN_KEY_SCHEME: []}]}
DESCRIPTIONS = {
    401: "AUTH_MISSING_API_KEY, AUTH_INVALID_API_KEY or AUTH_REVOKED_CREDENTIAL (admin key).",
    403: "FORBIDDEN: an agent credential, or a viewer key on a route that changes something.",
    404: "NOT_FOUND: no webhook endpoint with this id.",
    400: "VALIDATION_FAILED: the body is invalid (a URL webhooks may not go to included).",
}
READ_ERRORS = error_responses(400, 401, 403, descriptions=DESCRIPTIONS)
ONE_ERRORS = error_responses(400, 401, 403, 404, descriptions=DESCRIPTIONS)


ONE = "/{endpointId}"
CREATE_EXAMPLES = {
    "example": {
        "summary": "Revocations and leaks to an incident channel",
        "value": {
            "url": "https://hooks.example.com/agentkeys",
            "events": ["credential.revoked", "credential.leaked"],
            "description": "Incident channel",
        },
    }
}
UPDATE_EXAMPLES = {
    "events": {
        "summary": "Subscribe to issuance too",
        "value": {"events": ["credential.issued", "credential.revoked", "credential.leaked"]},
    },
    "enable": {"summary": "Re-enable a disabled endpoint", "value": {"enabled": True}},
}
EndpointIdPath = Annotated[
    str,
    Path(alias="endpointId", max_length=128, description="A webhook endpoint id (ws_webhook_…)."),
    Storable,
]


@router.post(
    "",
    operation_id="createWebhook",
    summary="Create a webhook endpoint (its secret shown once)",
    response_model=WebhookEndpointWithSecretDto,
    status_code=201,
    responses=READ_ERRORS,
    openapi_extra=SECURITY,
)
async def create_webhook(
    _admin: RevokingAdmin,
    body: Annotated[WebhookCreateRequestDto, Body(openapi_examples=CREATE_EXAMPLES)],
    service: WebhookServiceDep,
    response: Response,
) -> WebhookEndpointWithSecretDto:
    """The secret (whsec_…) is in this answer only: store it where the receiver verifies."""
    response.headers["Cache-Control"] = "no-store"
    return await service.create(body)


@router.get(
    "",
    operation_id="listWebhooks",
    summary="List webhook endpoints",
    response_model=WebhookEndpointListDto,
    responses=READ_ERRORS,
    openapi_extra=SECURITY,
)
async def list_webhooks(
    _admin: CurrentAdmin, service: WebhookServiceDep, response: Response
) -> WebhookEndpointListDto:
    response.headers["Cache-Control"] = "no-store"
    return await service.list()


@router.get(
    ONE,
    operation_id="getWebhook",
    summary="One webhook endpoint",
    response_model=WebhookEndpointDto,
    responses=ONE_ERRORS,
    openapi_extra=SECURITY,
)
async def get_webhook(
    _admin: CurrentAdmin,
    service: WebhookServiceDep,
    endpoint_id: EndpointIdPath,
    response: Response,
) -> WebhookEndpointDto:
    response.headers["Cache-Control"] = "no-store"
    return await service.get(endpoint_id)


@router.post(
    ONE + "/update",
    operation_id="updateWebhook",
    summary="Change a webhook endpoint's URL, events, description or enabled state",
    response_model=WebhookEndpointDto,
    responses=ONE_ERRORS,
    openapi_extra=SECURITY,
)
async def update_webhook(
    _admin: RevokingAdmin,
    body: Annotated[WebhookUpdateRequestDto, Body(openapi_examples=UPDATE_EXAMPLES)],
    service: WebhookServiceDep,
    endpoint_id: EndpointIdPath,
) -> WebhookEndpointDto:
    """Only the fields given change."""
    return await service.update(endpoint_id, body)


@router.post(
    ONE + "/disable",
    operation_id="disableWebhook",
    summary="Stop delivering to a webhook endpoint (messages wait)",
    response_model=WebhookEndpointDto,
    responses=ONE_ERRORS,
    openapi_extra=SECURITY,
)
async def disable_webhook(
    _admin: RevokingAdmin, service: WebhookServiceDep, endpoint_id: EndpointIdPath
) -> WebhookEndpointDto:
    return await service.disable(endpoint_id)


@router.post(
    ONE + "/delete",
    operation_id="deleteWebhook",
    summary="Delete a webhook endpoint, its pending messages and attempts",
    status_code=204,
    responses=ONE_ERRORS,
    openapi_extra=SECURITY,
)
async def delete_webhook(
    _admin: RevokingAdmin, service: WebhookServiceDep, endpoint_id: EndpointIdPath
) -> Response:
    await service.delete(endpoint_id)
    return Response(status_code=204)


@router.post(
    ONE + "/rotate-secret",
    operation_id="rotateWebhookSecret",
    summary="A new signing secret (shown once); the previous one keeps signing for 24 h",
    response_model=WebhookEndpointWithSecretDto,
    responses=ONE_ERRORS,
    openapi_extra=SECURITY,
)
async def rotate_webhook_secret(
    _admin: RevokingAdmin,
    service: WebhookServiceDep,
    endpoint_id: EndpointIdPath,
    response: Response,
) -> WebhookEndpointWithSecretDto:
    """Every message carries both signatures until previous_secret_expires_at."""
    response.headers["Cache-Control"] = "no-store"
    return await service.rotate(endpoint_id)


@router.post(
    ONE + "/test",
    operation_id="testWebhook",
    summary="Queue a webhook.test message for this endpoint",
    response_model=WebhookTestDto,
    status_code=202,
    responses=ONE_ERRORS,
    openapi_extra=SECURITY,
)
async def send_test_webhook(
    _admin: RevokingAdmin, service: WebhookServiceDep, endpoint_id: EndpointIdPath
) -> WebhookTestDto:
    return await service.send_test(endpoint_id)


@router.get(
    ONE + "/attempts",
    operation_id="listWebhookAttempts",
    summary="The latest delivery attempts to a webhook endpoint, newest first",
    response_model=WebhookAttemptListDto,
    responses=ONE_ERRORS,
    openapi_extra=SECURITY,
)
async def list_webhook_attempts(
    _admin: CurrentAdmin,
    service: WebhookServiceDep,
    endpoint_id: EndpointIdPath,
    response: Response,
    limit: Annotated[int, Query(ge=1, le=100, description="At most this many, 1-100.")] = 100,
) -> WebhookAttemptListDto:
    response.headers["Cache-Control"] = "no-store"
    return await service.attempts(endpoint_id, limit=limit)

"""``POST /v1/feedback`` (scope ``feedback:write``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from agentkeys.api.deps import ClientNetworkDep, JsonBodyRoute, RequestIdDep
from agentkeys.api.openapi import error_responses
from agentkeys.sandbox import examples
from agentkeys.sandbox.feedback.deps import FeedbackServiceDep, FeedbackWriter
from agentkeys.sandbox.feedback.schemas import (
    CreateFeedbackDto,
    FeedbackReceivedDto,
)

router = APIRouter(prefix="/v1/feedback", tags=["feedback"], route_class=JsonBodyRoute)


@router.post(
    "",
    operation_id="submitFeedback",
    status_code=201,
    summary="Send feedback about the API",
    response_model=FeedbackReceivedDto,
    responses=error_responses(400, 401, 403, 429),
)
async def send_feedback(
    body: Annotated[CreateFeedbackDto, Body(openapi_examples=examples.FEEDBACK)],
    credential: FeedbackWriter,
    service: FeedbackServiceDep,
    request_id: RequestIdDep,
    network: ClientNetworkDep,
) -> FeedbackReceivedDto:
    """Tell the API team what worked and what did not. Needs `feedback:write`. Each key stores
    at most 100 feedbacks a day, and each client network at most the policy's
    `[storage.feedback]` rows and bytes a day over all its keys (then 429 with `Retry-After`)."""
    record = await service.record_feedback(
        body, credential_id=credential.id, request_id=request_id, client_network=network
    )
    return FeedbackReceivedDto.acknowledging(body, feedback_id=record.id)

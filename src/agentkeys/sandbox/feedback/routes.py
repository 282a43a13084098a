"""``POST /v1/feedback`` (scope ``feedback:write``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from agentkeys.api.deps import RequestIdDep, SessionDep, app_context, require_scopes
from agentkeys.api.responses import error_responses
from agentkeys.credentials.identity import AuthenticatedCredential
from agentkeys.sandbox.feedback.schemas import (
    CreateFeedbackDto,
    FeedbackReceivedDto,
)
from agentkeys.sandbox.feedback.service import FeedbackService

router = APIRouter(prefix="/v1/feedback", tags=["feedback"])

FeedbackWriter = Annotated[AuthenticatedCredential, Depends(require_scopes("feedback:write"))]


async def feedback_service(request: Request, session: SessionDep) -> FeedbackService:
    return FeedbackService(session, clock=app_context(request).clock)


@router.post(
    "",
    status_code=201,
    summary="Send feedback about the API",
    response_model=FeedbackReceivedDto,
    responses=error_responses(400, 401, 403, 429),
)
async def send_feedback(
    body: CreateFeedbackDto,
    credential: FeedbackWriter,
    service: Annotated[FeedbackService, Depends(feedback_service)],
    request_id: RequestIdDep,
) -> FeedbackReceivedDto:
    """Tell the API team what worked and what did not. Needs `feedback:write`."""
    record = await service.record_feedback(body, credential_id=credential.id, request_id=request_id)
    return FeedbackReceivedDto.acknowledging(body, feedback_id=record.id)

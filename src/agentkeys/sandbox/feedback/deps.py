"""The feedback feature's wiring: its service and its scope guard."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agentkeys.api.context import app_context
from agentkeys.api.deps import SessionDep, require_scopes
from agentkeys.credentials.identity import AuthenticatedCredential
from agentkeys.credentials.scopes import Scope
from agentkeys.sandbox.feedback.service import FeedbackService

FeedbackWriter = Annotated[AuthenticatedCredential, Depends(require_scopes(Scope.FEEDBACK_WRITE))]


async def feedback_service(request: Request, session: SessionDep) -> FeedbackService:
    context = app_context(request)
    return FeedbackService(
        session, clock=context.clock, network_budget=context.policy.storage.feedback
    )


FeedbackServiceDep = Annotated[FeedbackService, Depends(feedback_service)]

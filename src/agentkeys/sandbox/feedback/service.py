"""Store feedback, within each credential's storage budget. Never commits: the request's unit of
work does."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from agentkeys import ids
from agentkeys.clock import Clock, to_millisecond
from agentkeys.db.engine import begin_write
from agentkeys.errors import DomainError, ErrorCode
from agentkeys.sandbox.feedback.models import FeedbackRecord
from agentkeys.sandbox.feedback.repository import FeedbackRepository
from agentkeys.sandbox.feedback.schemas import CreateFeedbackDto

# What one credential may store: every field of a feedback is capped (about 60 KB at most), so
# 100 a day bounds a key at about 6 MB a day, far above what a person or an agent writes.
FEEDBACK_BUDGET = 100
FEEDBACK_WINDOW = timedelta(days=1)


class FeedbackBudgetSpent(DomainError):
    code = ErrorCode.RATE_LIMITED


class FeedbackService:
    def __init__(self, session: AsyncSession, *, clock: Clock) -> None:
        self._session = session
        self._repository = FeedbackRepository(session)
        self._clock = clock

    async def record_feedback(
        self, feedback: CreateFeedbackDto, *, credential_id: str, request_id: str
    ) -> FeedbackRecord:
        """Keep the feedback against the credential that sent it, if its budget allows."""
        # Count, then insert: the lock makes the budget exact under concurrent requests.
        await begin_write(self._session, f"feedback:{credential_id}")
        now = to_millisecond(self._clock.now())
        await self._refuse_when_spent(credential_id=credential_id, now=now)
        record = FeedbackRecord(
            id=ids.new_feedback_id(),
            credential_id=credential_id,
            request_id=request_id,
            created_at=now,
            feedback_type=feedback.feedback_type,
            name=feedback.name,
            email=feedback.contact.email if feedback.contact else None,
            company=feedback.company,
            summary=feedback.summary,
            message=feedback.message or "",
            agent=feedback.submitter.agent if feedback.submitter else None,
            endpoint=feedback.endpoint,
            details=feedback.model_dump(mode="json", exclude_none=True),
        )
        await self._repository.add(record)
        return record

    async def _refuse_when_spent(self, *, credential_id: str, now: datetime) -> None:
        since = now - FEEDBACK_WINDOW
        sent = await self._repository.count_sent_since(credential_id=credential_id, since=since)
        if sent < FEEDBACK_BUDGET:
            return
        # A place frees when the oldest feedback beyond the budget leaves the window.
        freeing = await self._repository.sent_at(
            credential_id=credential_id, since=since, position=sent - FEEDBACK_BUDGET
        )
        wait = max(1, math.ceil((freeing + FEEDBACK_WINDOW - now).total_seconds()))
        raise FeedbackBudgetSpent(
            f"This credential has sent {FEEDBACK_BUDGET} feedbacks in the last 24 hours, "
            "the most the sandbox stores for one key.",
            recovery_action=f"Send more feedback after {wait} seconds.",
            retry_after_seconds=wait,
        )

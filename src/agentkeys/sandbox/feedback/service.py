"""Store feedback. Never commits: the request's unit of work does."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from agentkeys import ids
from agentkeys.clock import Clock, to_millisecond
from agentkeys.sandbox.feedback.models import FeedbackRecord
from agentkeys.sandbox.feedback.schemas import CreateFeedbackDto


class FeedbackService:
    def __init__(self, session: AsyncSession, *, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    async def record_feedback(
        self, feedback: CreateFeedbackDto, *, credential_id: str, request_id: str
    ) -> FeedbackRecord:
        """Keep the feedback against the credential that sent it."""
        record = FeedbackRecord(
            id=ids.new_feedback_id(),
            credential_id=credential_id,
            request_id=request_id,
            created_at=to_millisecond(self._clock.now()),
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
        self._session.add(record)
        await self._session.flush()
        return record

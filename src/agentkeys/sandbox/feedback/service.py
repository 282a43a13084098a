"""Store feedback, within each credential's storage budget. Never commits: the request's unit of
work does."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agentkeys import ids
from agentkeys.clock import Clock, to_millisecond
from agentkeys.credentials.policy import StorageBudget
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


# A feedback's stored text and JSON: what its size in the network's storage budget counts.
_STORED_COLUMNS = ("name", "email", "company", "summary", "message", "agent", "endpoint", "details")


def stored_size(columns: dict[str, Any]) -> int:
    """Bytes a row stores: its text and JSON columns as compact UTF-8 JSON."""
    return len(json.dumps(columns, ensure_ascii=False, separators=(",", ":")).encode())


class FeedbackService:
    def __init__(
        self, session: AsyncSession, *, clock: Clock, network_budget: StorageBudget | None = None
    ) -> None:
        self._session = session
        self._repository = FeedbackRepository(session)
        self._clock = clock
        self._network_budget = network_budget

    async def record_feedback(
        self,
        feedback: CreateFeedbackDto,
        *,
        credential_id: str,
        request_id: str,
        client_network: str | None = None,
    ) -> FeedbackRecord:
        """Keep the feedback against the credential that sent it, if its budget and its client
        network's allow."""
        # Count, then insert: the locks make both budgets exact under concurrent requests.
        locks = [f"feedback:{credential_id}"]
        if client_network is not None:
            locks.append(f"storage:feedback:{client_network}")
        await begin_write(self._session, *locks)
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
            client_network=client_network,
        )
        record.stored_bytes = stored_size(
            {column: getattr(record, column) for column in _STORED_COLUMNS}
        )
        if client_network is not None and self._network_budget is not None:
            await self._refuse_when_network_spent(
                client_network, self._network_budget, adding=record.stored_bytes, now=now
            )
        await self._repository.add(record)
        return record

    async def _refuse_when_network_spent(
        self, network: str, budget: StorageBudget, *, adding: int, now: datetime
    ) -> None:
        stored = await self._repository.stored_by_network(network, since=now - budget.window)
        wait = budget.wait_for(stored, adding, now=now)
        if wait is None:
            return
        hours = budget.window.total_seconds() / 3600
        raise FeedbackBudgetSpent(
            f"This client network ({network}) has stored {len(stored)} feedbacks "
            f"({sum(size for _, size in stored)} bytes) in the last {hours:g} hours over all its "
            f"keys; the sandbox stores at most {budget.rows} feedbacks and {budget.bytes} bytes "
            "per network.",
            recovery_action=f"Send more feedback after {wait} seconds.",
            retry_after_seconds=wait,
        )

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

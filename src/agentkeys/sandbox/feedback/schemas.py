"""Wire shapes of ``POST /v1/feedback``: WattShift's ``CreateFeedbackDto`` and its answer."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from agentkeys.validation import (
    DescribedModel,
    EmailAddress,
    FreeFormJson,
    FreeFormObject,
    HttpUri,
    NonBlank,
    RequestBody,
)

FeedbackType = Literal[
    "question",
    "docs_issue",
    "source_of_truth_disagreement",
    "blocked_build",
    "bug",
    "feature_request",
    "integration_request",
    "suggestion",
    "other",
]
LongText = Annotated[str, Field(max_length=4000)]


class FeedbackSubmitterDto(RequestBody):
    """Who sends the feedback, e.g. an agent: ``{"kind": "agent", "agent": "claude-code"}``."""

    kind: Annotated[str, Field(max_length=64)] | None = None
    """agent or person."""
    agent: Annotated[str, Field(max_length=128)] | None = None
    """The agent, e.g. claude-code."""
    client: Annotated[str, Field(max_length=128)] | None = None
    """How the agent runs, e.g. cli."""


class FeedbackContactDto(RequestBody):
    """How a person may answer, if the sender wants an answer."""

    email: EmailAddress | None = None
    """Where to reply."""
    preferred_contact: Annotated[str, Field(max_length=32)] | None = None
    """How to reply (e.g. email)."""
    consent_to_contact: bool | None = None
    """false: no reply, even with an email."""


class CreateFeedbackDto(RequestBody):
    """Structured feedback or a question about the API.

    ``name`` is required, and so is some content: ``message``, ``summary``, ``question`` or
    ``actual_behavior`` (an empty feedback is refused naming ``message``).
    """

    name: Annotated[str, Field(min_length=1, max_length=255), NonBlank]
    """Who sends it (a person's or an agent's name)."""
    company: Annotated[str, Field(max_length=255)] | None = None
    """The sender's company."""
    page: Annotated[str, Field(max_length=2048)] | None = None
    """The docs page concerned (a path or URL)."""
    feedback_type: FeedbackType = "other"
    """What kind of feedback this is (default other)."""
    summary: Annotated[str, Field(max_length=500)] | None = None
    """A one-line summary."""
    question: LongText | None = None
    """A question for the API team."""
    expected_behavior: LongText | None = None
    """What you expected to happen."""
    actual_behavior: LongText | None = None
    """What happened instead."""
    sanitized_evidence: FreeFormJson = None
    error: FreeFormJson = None
    repro_steps: LongText | None = None
    """How to reproduce it."""
    suggested_fix: LongText | None = None
    """What would fix it."""
    endpoint: Annotated[str, Field(max_length=255)] | None = None
    """The route concerned, e.g. /v1/homes/{id}/bill/period."""
    operation_id: Annotated[str, Field(max_length=255)] | None = None
    """The operationId concerned, e.g. calculatePeriodBill."""
    environment: Annotated[str, Field(max_length=64)] | None = None
    """The environment used, e.g. sandbox."""
    request_id: Annotated[str, Field(max_length=128)] | None = None
    """The request_id of an answer concerned."""
    docs_url: HttpUri | None = None
    """The URL of the docs page concerned."""
    source_urls: Annotated[list[HttpUri], Field(max_length=10)] | None = None
    """Other pages that back the feedback."""
    routing_tags: FreeFormObject | None = None
    """Free-form tags for routing, e.g. inferred_owning_area."""
    submitter: FeedbackSubmitterDto | None = None
    """Who sends it: a person or an agent."""
    contact: FeedbackContactDto | None = None
    """How to reply, if a reply is wanted."""
    # Last, and validated even when absent: it checks that the feedback says something at all.
    message: LongText | None = Field(default=None, validate_default=True)
    """The feedback itself."""

    @field_validator("feedback_type", mode="before")
    @classmethod
    def _null_means_default(cls, value: object) -> object:
        return "other" if value is None else value

    @field_validator("message")
    @classmethod
    def _says_something(cls, message: str | None, info: ValidationInfo) -> str | None:
        others = (info.data.get(name) for name in ("summary", "question", "actual_behavior"))
        if not any(text and text.strip() for text in (message, *others)):
            raise PydanticCustomError(
                "no_content", "Say something: message, summary, question or actual_behavior"
            )
        return message

    @property
    def wants_reply(self) -> bool:
        contact = self.contact
        return bool(contact and contact.email and contact.consent_to_contact is not False)


class FeedbackFollowUpDto(DescribedModel):
    requested: bool = Field(description="Whether a person will reply (needs contact.email).")
    contact_method: str | None = None
    """How the reply will come (e.g. email); null without one."""


class FeedbackReceivedDto(DescribedModel):
    """WattShift's FeedbackResponseDto: the feedback is stored."""

    feedback_id: str = Field(description="The stored feedback's id (ws_feedback_…).")
    # Always present, so required (no default).
    received: Literal[True] = Field(description="Always true.")
    follow_up: FeedbackFollowUpDto = Field(description="Whether and how a person will reply.")

    @classmethod
    def acknowledging(cls, feedback: CreateFeedbackDto, *, feedback_id: str) -> FeedbackReceivedDto:
        contact = feedback.contact if feedback.wants_reply else None
        return cls(
            feedback_id=feedback_id,
            received=True,
            follow_up=FeedbackFollowUpDto(
                requested=contact is not None,
                contact_method=(contact.preferred_contact or "email") if contact else None,
            ),
        )

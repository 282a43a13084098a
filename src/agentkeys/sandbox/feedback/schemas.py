"""Wire shapes of ``POST /v1/feedback`` (WattShift's ``CreateFeedbackDto``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from agentkeys.validation import EmailAddress, NonBlank, RequestBody

FeedbackTypeName = Literal["bug", "feature_request", "documentation", "question", "praise", "other"]


class CreateFeedbackDto(RequestBody):
    name: Annotated[str, Field(min_length=1, max_length=255), NonBlank]
    message: Annotated[str, Field(min_length=1, max_length=4000), NonBlank]
    email: EmailAddress | None = None
    company: Annotated[str, Field(max_length=255)] | None = None
    summary: Annotated[str, Field(max_length=500)] | None = None
    feedback_type: FeedbackTypeName = "other"
    agent: Annotated[str, Field(max_length=128)] | None = None
    endpoint: Annotated[str, Field(max_length=255)] | None = Field(
        default=None, description="The API route the feedback is about, if any."
    )

    @field_validator("feedback_type", mode="before")
    @classmethod
    def _null_means_default(cls, value: object) -> object:
        return "other" if value is None else value


class FeedbackFollowUpDto(BaseModel):
    expected: bool = Field(description="Whether a person will reply (only with an e-mail).")
    channel: Literal["email"] | None = None
    message: str


class FeedbackReceivedDto(BaseModel):
    feedback_id: str
    received: Literal[True] = True
    follow_up: FeedbackFollowUpDto

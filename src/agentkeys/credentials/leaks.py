"""Leaked-key reports: revoke every live key a report names, at once (``revoked_by: leak``).

Two ways in. GitHub's secret scanning partner program posts a signed JSON array of matches and
reads back, per match, whether it was a real key (``LeakFeedbackDto``). Anyone else may post one
key, unsigned, and is always answered the same (``LeakReportReceivedDto``): whatever was sent,
nothing says whether it was a key (RFC 7009 §2.2's rule for revocation).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter, ValidationInfo, field_validator
from sqlalchemy.ext.asyncio import AsyncSession

from agentkeys.clock import Clock
from agentkeys.credentials import keys
from agentkeys.credentials.repository import CredentialRepository
from agentkeys.credentials.revocations import RevocationBus
from agentkeys.credentials.service import revoke_record
from agentkeys.db.engine import begin_write
from agentkeys.redaction import redact_all
from agentkeys.validation import HttpUri, RequestBody

# What ``revoked_by`` records for a key revoked on a leak report (a metrics label too).
LEAK = "leak"
# Most matches one signed report may carry (GitHub sends them in batches).
MAX_MATCHES = 1000
# A token longer than any key of ours is still answered (false_positive), up to this length.
MAX_TOKEN_CHARACTERS = 1024
MAX_TEXT_CHARACTERS = 255
MAX_URL_CHARACTERS = 2048
# The reason stored with the revocation holds the reporting URL, cut to this length.
MAX_REASON_CHARACTERS = 2300

Label = Literal["true_positive", "false_positive"]


class _ReportBody(RequestBody):
    """A report's body: the key reported is the point of it, so that field alone is read
    whole (it is only ever digested and hashed, never stored); the rest is redacted as usual."""

    @field_validator("*", mode="after")
    @classmethod
    # Replaces RequestBody's validator of the same name; it needs the field's name too.
    def _redact_keys(cls, value: object, info: ValidationInfo) -> object:  # type: ignore[override]
        return value if info.field_name in REPORTED_FIELDS else redact_all(value)


REPORTED_FIELDS = frozenset({"token", "credential"})


class GitHubLeakMatchDto(_ReportBody):
    """One match in a report from GitHub's secret scanning (the array's items)."""

    token: Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_CHARACTERS)] = Field(
        description="The string found, which may be an agent key (`wsk_agent_…`)."
    )
    type: Annotated[str, Field(max_length=MAX_TEXT_CHARACTERS)] = Field(
        description="The secret type GitHub matched (echoed back as `token_type`)."
    )
    url: Annotated[str, Field(max_length=MAX_URL_CHARACTERS)] | None = Field(
        default=None, description="Where it was found (stored with the revocation)."
    )
    source: Annotated[str, Field(max_length=MAX_TEXT_CHARACTERS)] | None = Field(
        default=None, description="What kind of place it was found in (`content`, `commit`, …)."
    )


GITHUB_REPORT = TypeAdapter(
    Annotated[list[GitHubLeakMatchDto], Field(min_length=1, max_length=MAX_MATCHES)]
)


class LeakReportDto(_ReportBody):
    """An unsigned report of one leaked key, from anyone."""

    credential: Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_CHARACTERS)] = Field(
        description="The leaked agent key (`wsk_agent_…`), exactly as found."
    )
    url: HttpUri | None = Field(
        default=None, description="Where it was found (stored with the revocation)."
    )


class LeakFeedbackDto(BaseModel):
    """GitHub's feedback format, one item per match reported, in the report's order."""

    token_hash: str = Field(description="SHA-256 of the token as sent, lowercase hex.")
    token_type: str = Field(description="The match's `type`, as sent.")
    label: Label = Field(
        description="`true_positive`: a key this service issued (revoked now unless it already "
        "was, or had expired); `false_positive`: not a key of this service."
    )


LEAK_FEEDBACK = TypeAdapter(list[LeakFeedbackDto])

RECEIVED_MESSAGE = (
    "Report received. If it names a live key of this service, that key is revoked now. "
    "This answer is the same whatever was sent."
)


class LeakReportReceivedDto(BaseModel):
    """The one answer to every unsigned report: it never says whether a key was named."""

    status: Literal["received"] = Field(description="Always `received`.")
    message: str = Field(description="What happens to a live key reported.")


RECEIVED = LeakReportReceivedDto(status="received", message=RECEIVED_MESSAGE)


@dataclass(frozen=True, slots=True)
class ReportedToken:
    token: str
    # The revocation's reason: where the key was found.
    reason: str


def token_hash(token: str) -> str:
    """GitHub's ``token_hash``: SHA-256 of the raw token, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def reason_of(url: str | None, *, source: str | None, signed: bool) -> str:
    reporter = "GitHub secret scanning" if signed else "an unsigned report"
    where = f" ({source})" if source else ""
    found = f" at {url}" if url else ""
    return f"Leaked: reported by {reporter}{where}{found}"[:MAX_REASON_CHARACTERS]


class LeakReports:
    """Revoke the keys a report names. Never commits: the unit of work does."""

    def __init__(
        self,
        session: AsyncSession,
        *,
        clock: Clock,
        server_secret: bytes,
        revocations: RevocationBus,
    ) -> None:
        self._session = session
        self._repository = CredentialRepository(session)
        self._clock = clock
        self._server_secret = server_secret
        self._revocations = revocations

    async def revoke_reported(self, reported: Sequence[ReportedToken]) -> list[bool]:
        """For each token, whether it is a key this service issued (revoked, expired or not).

        Every live key among them is revoked in this one transaction: all at once, with the
        same instant, and announced to every replica once committed. A token that is not a
        well-formed key is still digested and looked up, so that every token takes one path.
        """
        await begin_write(self._session)
        now = self._clock.now()
        ours: list[bool] = []
        for item in reported:
            digest = keys.digest(item.token, server_secret=self._server_secret)
            # Looked up whatever its form (a malformed token is found nowhere): one path.
            record = await self._repository.get_by_digest(digest, for_update=True)
            ours.append(record is not None)
            if record is None or now >= record.expires_at:
                continue  # not ours, or expired: nothing to revoke
            await revoke_record(
                self._session,
                self._revocations,
                record,
                actor=LEAK,
                reason=item.reason,
                now=now,
            )
        return ours

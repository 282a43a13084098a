"""Issue, verify and revoke credentials. Services never commit: the unit of work does."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from agentkeys import ids
from agentkeys.clock import Clock, to_millisecond
from agentkeys.credentials import keys
from agentkeys.credentials.models import CredentialRecord, CredentialRequestRecord
from agentkeys.credentials.policy import (
    CredentialAsk,
    Decision,
    Issue,
    IssuingPolicy,
    NeedsMoreInfo,
    ProductionDenied,
    QuotaKind,
    QuotaUsage,
    RateLimited,
    decide,
)
from agentkeys.credentials.repository import CredentialRepository
from agentkeys.credentials.revocations import RevocationBus
from agentkeys.credentials.schemas import CreateAgentCredentialRequestDto
from agentkeys.credentials.verifier import CredentialVerifier, invalid_key
from agentkeys.db.engine import after_commit, begin_write
from agentkeys.errors import NotFound, echo

logger = logging.getLogger(__name__)

Outcome = Literal["issued", "needs_more_info", "rate_limited", "production_denied"]
OUTCOMES: dict[type[Any], Outcome] = {
    Issue: "issued",
    NeedsMoreInfo: "needs_more_info",
    RateLimited: "rate_limited",
    ProductionDenied: "production_denied",
}
REVOKED_NEXT_STEPS = (
    "The credential is revoked and refused from now on. Request a new one if you still need access."
)


def organization_key(name: str) -> str:
    """Organizations compare case-folded with runs of whitespace collapsed (CONTRACT §1)."""
    return " ".join(name.split()).casefold()


def revocation_path(credential_id: str) -> str:
    return f"/v1/agent-credentials/{credential_id}/revoke"


@dataclass(frozen=True, slots=True)
class IssuanceResult:
    credential_request_id: str
    decision: Decision
    credential_id: str | None = None
    secret: str | None = None

    @property
    def outcome(self) -> Outcome:
        return OUTCOMES[type(self.decision)]


class CredentialService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        clock: Clock,
        policy: IssuingPolicy,
        server_secret: bytes,
        verifier: CredentialVerifier,
        revocations: RevocationBus,
    ) -> None:
        self._session = session
        self._repository = CredentialRepository(session)
        self._clock = clock
        self._policy = policy
        self._server_secret = server_secret
        self._verifier = verifier
        self._revocations = revocations

    async def request_credential(
        self,
        request: CreateAgentCredentialRequestDto,
        *,
        client_address: str,
        request_id: str,
    ) -> IssuanceResult:
        """Decide one credential request, record the decision, and mint a key if it is issued."""
        org_key = organization_key(request.organization_name)
        email_key = request.user_email.casefold() if request.user_email else None
        # Decisions sharing a quota key queue here, on every replica, so the counts below cannot
        # change until this decision commits: a quota is never exceeded under concurrency.
        await begin_write(
            self._session,
            f"quota:organization:{org_key}",
            f"quota:address:{client_address}",
            *([f"quota:email:{email_key}"] if email_key else []),
        )
        now = to_millisecond(self._clock.now())
        usage = await self._quota_usage(
            org_key=org_key, email_key=email_key, client_address=client_address, now=now
        )
        ask = CredentialAsk(
            requested_scopes=tuple(request.requested_scopes),
            requested_environment=request.requested_environment,
            requested_ttl_seconds=request.requested_ttl_seconds,
            assignment=request.assignment,
            provided_fields=request.provided_fields(),
        )
        decision = decide(ask, usage=usage, now=now, policy=self._policy)
        result = IssuanceResult(
            credential_request_id=ids.new_credential_request_id(), decision=decision
        )
        self._repository.add(
            CredentialRequestRecord(
                id=result.credential_request_id,
                request_id=request_id,
                created_at=now,
                outcome=result.outcome,
                client_address=client_address,
                organization_name=request.organization_name,
                organization_key=org_key,
                user_email_key=email_key,
                requested_environment=request.requested_environment,
                request=request.model_dump(mode="json"),
                details=_decision_details(decision),
            )
        )
        if isinstance(decision, Issue):
            result = await self._mint(
                result, decision, org_key=org_key, email_key=email_key, now=now
            )
        # Flush inside the service so a constraint failure surfaces before any secret is returned.
        await self._repository.flush()
        logger.info(
            "credential request decided",
            extra={
                "credential_request_id": result.credential_request_id,
                "outcome": result.outcome,
                "credential_id": result.credential_id,
                "request_id": request_id,
            },
        )
        return result

    async def _quota_usage(
        self, *, org_key: str, email_key: str | None, client_address: str, now: datetime
    ) -> dict[QuotaKind, QuotaUsage]:
        usage: dict[QuotaKind, QuotaUsage] = {}
        for kind, quota in self._policy.quotas.items():
            if kind is QuotaKind.ORGANIZATION_ACTIVE:
                usage[kind] = await self._repository.organization_active(
                    org_key, limit=quota.limit, now=now
                )
                continue
            assert quota.window is not None  # noqa: S101 - the policy loader guarantees it
            if kind is QuotaKind.ORGANIZATION_ISSUED:
                usage[kind] = await self._repository.organization_issued(
                    org_key, limit=quota.limit, window=quota.window, now=now
                )
            elif kind is QuotaKind.EMAIL_ISSUED and email_key is not None:
                usage[kind] = await self._repository.email_issued(
                    email_key, limit=quota.limit, window=quota.window, now=now
                )
            elif kind is QuotaKind.ADDRESS_DECISIONS:
                usage[kind] = await self._repository.address_decisions(
                    client_address, limit=quota.limit, window=quota.window, now=now
                )
        return usage

    async def _mint(
        self,
        result: IssuanceResult,
        decision: Issue,
        *,
        org_key: str,
        email_key: str | None,
        now: datetime,
    ) -> IssuanceResult:
        minted = keys.mint(server_secret=self._server_secret)
        credential_id = ids.new_credential_id()
        # The request row must exist before the credential that references it.
        await self._repository.flush()
        self._repository.add(
            CredentialRecord(
                id=credential_id,
                key_digest=minted.digest,
                credential_request_id=result.credential_request_id,
                organization_key=org_key,
                user_email_key=email_key,
                scopes=list(decision.scopes),
                environment="sandbox",
                created_at=now,
                expires_at=decision.expires_at,
            )
        )
        return IssuanceResult(
            credential_request_id=result.credential_request_id,
            decision=decision,
            credential_id=credential_id,
            secret=minted.secret,
        )

    async def revocation_target(
        self, presented: str | None, credential_id: str
    ) -> RevocationTarget:
        """Authenticate a revocation, then check ownership (CONTRACT §2: 401, then 404).

        Without a lock or a transaction of the request's own: a client that then sends its body
        slowly holds nothing. ``revoke`` takes the lock once the body has been read and checked.
        A key may always revoke its own credential, even once revoked or expired, so that a
        retried revocation is answered ``revoked`` again instead of an authentication error.
        """
        key_digest = self._verifier.digest_of(presented)
        record = await self._verifier.find(key_digest)
        if record is None:
            raise invalid_key()
        if record.id == credential_id:
            return RevocationTarget(credential_id=record.id, key_digest=key_digest)
        self._verifier.refuse_unusable(record)
        raise NotFound(f"No credential '{echo(credential_id)}' belongs to this key.")

    async def revoke(self, target: RevocationTarget, *, reason: str | None) -> CredentialRecord:
        """Revoke at once; revoking again changes nothing and is not an error."""
        await begin_write(self._session)
        # Locked until commit (PostgreSQL; SQLite's writer lock already serializes): of many
        # simultaneous revocations only the first writes, and its time and reason are kept.
        record = await self._repository.get_by_digest(target.key_digest, for_update=True)
        if record is None or record.id != target.credential_id:  # credentials are never deleted
            raise invalid_key()
        if record.revoked_at is None:
            record.revoked_at = to_millisecond(self._clock.now())
            record.revoked_by = "holder"
            record.revocation_reason = reason
            await self._repository.flush()
            logger.info("credential revoked", extra={"credential_id": record.id})
            # Announce only once the revocation is committed: a replica that re-read the row
            # before the commit would otherwise cache the credential as still valid.
            credential_id = record.id
            after_commit(self._session, lambda: self._revocations.publish(credential_id))
        return record


@dataclass(frozen=True, slots=True)
class RevocationTarget:
    """A credential the presented key may revoke (its own), checked without a lock."""

    credential_id: str
    key_digest: str


def _decision_details(decision: Decision) -> dict[str, Any]:
    if isinstance(decision, Issue):
        return {"scopes": list(decision.scopes), "ttl_seconds": decision.ttl_seconds}
    if isinstance(decision, RateLimited):
        return {
            "retry_after_seconds": decision.retry_after_seconds,
            "exhausted": [str(kind) for kind in decision.exhausted],
        }
    if isinstance(decision, NeedsMoreInfo):
        return {
            "missing_fields": list(decision.missing_fields),
            "unknown_scopes": list(decision.unknown_scopes),
            "unclear_fields": list(decision.unclear_fields),
        }
    return {}

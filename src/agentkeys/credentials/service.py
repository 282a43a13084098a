"""Issue, verify and revoke credentials. Services never commit: the unit of work does."""

from __future__ import annotations

import hashlib
import logging
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from agentkeys import ids
from agentkeys.clock import Clock, format_instant, to_millisecond
from agentkeys.credentials import keys
from agentkeys.credentials.identity import AdminIdentity
from agentkeys.credentials.models import CredentialRecord
from agentkeys.credentials.policy import (
    CredentialAsk,
    Decision,
    Issue,
    IssuingPolicy,
    NeedsMoreInfo,
    Outcome,
    QuotaKind,
    QuotaUsage,
    RateLimited,
    decide,
    quota_refusal,
)
from agentkeys.credentials.quota_keys import email_key, organization_key
from agentkeys.credentials.repository import (
    ADDRESS_DECISIONS,
    EMAIL_ISSUED,
    NETWORK_ORDINAL,
    NO_QUOTA,
    ORGANIZATION_ACTIVE,
    ORGANIZATION_ISSUED,
    CredentialFilter,
    CredentialOrder,
    CredentialRepository,
    Figure,
    IssuedCredential,
    Position,
    Room,
    Tally,
)
from agentkeys.credentials.repository import REFUSALS_STORED as REFUSALS
from agentkeys.credentials.revocations import RevocationBus
from agentkeys.credentials.schemas import CreateAgentCredentialRequestDto
from agentkeys.credentials.verifier import CredentialVerifier, invalid_key
from agentkeys.db.engine import after_commit, begin_write
from agentkeys.errors import NotFound, echo
from agentkeys.metrics import (
    DECISIONS,
    QUOTA_ALARMS,
    REVOCATIONS,
    UNRECORDED_DECISIONS,
    revoker,
)
from agentkeys.ratelimit.base import RequestRateLimiter
from agentkeys.webhooks import outbox
from agentkeys.webhooks.events import EventType

logger = logging.getLogger(__name__)

for _outcome in Outcome:  # every series from the start: a scrape shows 0, not nothing
    DECISIONS.labels(outcome=_outcome.value)

REVOKED_NEXT_STEPS = (
    "The credential is revoked and refused from now on. Request a new one if you still need access."
)


# What each quota counts.
TALLY_OF = {
    QuotaKind.ORGANIZATION_ISSUED: ORGANIZATION_ISSUED,
    QuotaKind.EMAIL_ISSUED: EMAIL_ISSUED,
    QuotaKind.ORGANIZATION_ACTIVE: ORGANIZATION_ACTIVE,
    QuotaKind.ADDRESS_DECISIONS: ADDRESS_DECISIONS,
}

# Names of the figures a decision reads in one statement besides its quotas (``QuotaKind``).
ALARM = "alarm:"
REFUSALS_STORED = "refusals_stored"
WEBHOOK_ENDPOINTS = "webhook_endpoints"

# What a rate_limited ledger row keeps of the request: identity fields cut to this length.
STORED_TEXT_LIMIT = 128


@dataclass(frozen=True, slots=True)
class _QuotaKeys:
    organization: str
    email: str | None
    network: str

    def lock_names(self) -> list[str]:
        names = [
            f"quota:organization:{self.organization}|{self.network}",
            f"quota:address:{self.network}",
        ]
        if self.email is not None:
            names.append(f"quota:email:{self.email}|{self.network}")
        return names


def _truncated(text: str | None) -> str | None:
    if text is None or len(text) <= STORED_TEXT_LIMIT:
        return text
    return text[: STORED_TEXT_LIMIT - 1] + "…"


def compact_request(request: CreateAgentCredentialRequestDto) -> dict[str, Any]:
    """A refused request as the ledger keeps it: who asked (truncated) and a digest of the rest.

    A refusal is answered without looking at the body beyond its identity, so keeping the whole
    body (up to the body limit, per refused request) would let an already refused client fill
    the disk.
    """
    whole = request.model_dump_json().encode("utf-8")
    return {
        "organization_name": _truncated(request.organization_name),
        "user_email": _truncated(request.user_email),
        "user_name": _truncated(request.user_name),
        "agent": _truncated(request.agent),
        "requested_environment": request.requested_environment,
        "sha256": hashlib.sha256(whole).hexdigest(),
        "bytes": len(whole),
    }


@dataclass(frozen=True, slots=True)
class IssuanceResult:
    credential_request_id: str
    decision: Decision
    credential_id: str | None = None
    secret: str | None = None

    @property
    def outcome(self) -> Outcome:
        return self.decision.outcome


# Per engine: did the last decision's figures find an enabled webhook endpoint? Then the next
# decision goes straight under the locks (its event is written in its transaction) instead of
# reading its figures twice. Only a choice of path: each path checks the endpoints itself.
_EVENTS_LAST_SEEN: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


@dataclass(frozen=True, slots=True)
class _Asked:
    """One credential request, with what it is counted by and where it came from."""

    request: CreateAgentCredentialRequestDto
    keys: _QuotaKeys
    client_address: str
    request_id: str


@dataclass(frozen=True, slots=True)
class _Draft:
    """A decision made, not yet recorded: its answer, its ledger row (None: not stored, a
    refusal over its network's budget), its credential row if issued, the alarms it raised."""

    result: IssuanceResult
    ledger_row: dict[str, Any] | None
    credential_row: dict[str, Any] | None
    alarms: list[str]


def _log_decided(result: IssuanceResult, *, request_id: str, recorded: bool) -> None:
    logger.info(
        "credential request decided",
        extra={
            "credential_request_id": result.credential_request_id,
            "outcome": result.outcome,
            "credential_id": result.credential_id,
            "request_id": request_id,
            "recorded": recorded,
        },
    )


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
        issuance_rate: RequestRateLimiter | None = None,
        fast_commit: bool = False,
    ) -> None:
        self._session = session
        self._repository = CredentialRepository(session)
        self._clock = clock
        self._policy = policy
        self._server_secret = server_secret
        self._verifier = verifier
        self._revocations = revocations
        self._issuance_rate = issuance_rate
        self._fast_commit = fast_commit

    async def request_credential(
        self,
        request: CreateAgentCredentialRequestDto,
        *,
        client_address: str,
        request_id: str,
        client_network: str | None = None,
    ) -> IssuanceResult:
        """Decide one credential request, record the decision, and mint a key if it is issued.

        Organization and e-mail quotas count per ``client_network`` (the address itself when
        not given), so requests from elsewhere can never spend them; the same figures over
        every network only raise alarms.
        """
        network = client_network or client_address
        refused = await self._over_issuance_rate(network, request_id=request_id)
        if refused is not None:
            self._count_decision(refused.outcome)
            return refused
        keys_ = _QuotaKeys(
            organization=organization_key(request.organization_name),
            email=email_key(request.user_email) if request.user_email else None,
            network=network,
        )
        asked = _Asked(request, keys_, client_address=client_address, request_id=request_id)
        engine = self._session.bind
        result: IssuanceResult | None = None
        if (
            isinstance(engine, AsyncEngine)
            and engine.dialect.name == "postgresql"
            and not self._session.in_transaction()
            and not _EVENTS_LAST_SEEN.get(engine.sync_engine, False)
        ):
            result = await self._decided_at_once(engine, asked)
        if result is None:
            result = await self._decided_under_locks(asked)
        self._count_decision(result.outcome)
        return result

    async def _decided_at_once(self, engine: AsyncEngine, asked: _Asked) -> IssuanceResult | None:
        """PostgreSQL: decide as if every quota had room, then record in one statement
        (``CredentialRepository.record_if_room``) that reads the alarms over every network and
        the webhook endpoints, and if none is raised or enabled, takes the locks, counts the
        client network's quotas and writes only if each still has room: the locks are held for
        that statement alone, not for round trips. None when the decision must be made under
        the locks instead: a quota full (a refusal: its wait is read under the locks), an
        alarm to note, or an event for webhook endpoints to write in the same transaction.
        """
        keys_ = asked.keys
        now = to_millisecond(self._clock.now())
        # No usage: the decision is the one made when every quota has room (a refusal is the
        # only decision quotas change), which the statement below checks. No figures: no alarm
        # (the statement checks there is none); the function numbers and stamps the row.
        draft = self._draft(asked, {NETWORK_ORDINAL: 0}, None, usage={}, now=now)
        assert draft.ledger_row is not None  # noqa: S101 - only a refusal may go unrecorded
        async with engine.connect() as connection:
            recorded, figures = await CredentialRepository.record_if_room(
                connection,
                draft.ledger_row,
                draft.credential_row,
                room=self._room(keys_, now),
                durable=not self._fast_commit,
                clear=self._alarm_figures(keys_),
                none=((WEBHOOK_ENDPOINTS, outbox.ENABLED_ENDPOINTS),),
            )
        _EVENTS_LAST_SEEN[engine.sync_engine] = figures[WEBHOOK_ENDPOINTS] > 0
        if not recorded:
            return None
        _log_decided(draft.result, request_id=asked.request_id, recorded=True)
        return draft.result

    async def _decided_under_locks(self, asked: _Asked) -> IssuanceResult:
        keys_ = asked.keys
        # Decisions sharing a quota key queue here, on every replica, so the counts below cannot
        # change until this decision commits: a quota is never exceeded under concurrency.
        await begin_write(self._session, *keys_.lock_names(), durable=not self._fast_commit)
        now = to_millisecond(self._clock.now())
        figures, newest_decided_at = await self._figures_of(keys_, now)
        usage: dict[QuotaKind, QuotaUsage] = {}
        for kind, quota in self._policy.quotas.items():
            used = figures.get(kind.value)
            if used is None:
                continue
            # A full quota (a refusal) reads when it frees: one statement more.
            usage[kind] = (
                QuotaUsage(used=used)
                if used < quota.limit
                else await self._repository.usage(
                    self._quota_tally(kind, keys_, now=now), used=used, limit=quota.limit
                )
            )
        draft = self._draft(asked, figures, newest_decided_at, usage=usage, now=now)
        result = draft.result
        engine = self._session.bind
        if isinstance(engine, AsyncEngine):
            _EVENTS_LAST_SEEN[engine.sync_engine] = figures[WEBHOOK_ENDPOINTS] > 0
        if draft.ledger_row is not None:
            # The ledger row and the credential in one round trip where the backend allows it;
            # a constraint failure surfaces here, before any secret is returned.
            await self._repository.record_decision(draft.ledger_row, draft.credential_row)
            if figures[WEBHOOK_ENDPOINTS]:
                # In this decision's transaction: the event commits with it or not at all.
                await self._emit_decision(result, asked.request, now=now)
                await self._repository.flush()
        else:
            UNRECORDED_DECISIONS.labels(outcome=result.outcome).inc()
        self._announce_alarms(keys_, draft.alarms)
        _log_decided(result, request_id=asked.request_id, recorded=draft.ledger_row is not None)
        return result

    async def _figures_of(
        self, keys_: _QuotaKeys, now: datetime
    ) -> tuple[dict[str, int], datetime | None]:
        """Every figure the decision may need, in one statement: the quotas (per network), the
        same over every network (alarms), the refusals stored and the webhook endpoints; each
        counted only up to what it is compared with, so a long history costs nothing more."""
        return await self._repository.figures(
            self._figures(keys_),
            organization_key=keys_.organization,
            email_key=keys_.email,
            network=keys_.network,
            now=now,
            constants=((WEBHOOK_ENDPOINTS, outbox.ENABLED_ENDPOINTS),),
        )

    def _draft(
        self,
        asked: _Asked,
        figures: dict[str, int],
        newest_decided_at: datetime | None,
        *,
        usage: dict[QuotaKind, QuotaUsage],
        now: datetime,
    ) -> _Draft:
        """The decision on these figures: its answer (a key minted if issued), and the rows to
        record (no ledger row for a refusal over its network's budget of stored refusals)."""
        request, keys_ = asked.request, asked.keys
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
        details = _decision_details(decision)
        alarms: list[str] = []
        if isinstance(decision, RateLimited):
            # Within this network's budget of stored rate_limited rows?
            recorded = figures[REFUSALS_STORED] < self._policy.refused_ledger.limit
            stored_request = compact_request(request)
        else:
            recorded = True
            alarms = self._alarms(figures)
            if alarms:
                details["alarms"] = alarms
            stored_request = request.model_dump(mode="json")
        credential: dict[str, Any] | None = None
        if isinstance(decision, Issue):
            result, credential = self._mint(result, decision, keys_=keys_, now=now)
        if not recorded:
            return _Draft(result, None, None, alarms)
        counted = not isinstance(decision, RateLimited)
        ledger_row = {
            "id": result.credential_request_id,
            "request_id": asked.request_id,
            # A counted decision is never stamped before the one it follows (a replica whose
            # clock is behind another's): its network's running numbers and times stay in the
            # same order, which the address quota's count relies on.
            "created_at": max(now, newest_decided_at)
            if counted and newest_decided_at is not None
            else now,
            "outcome": result.outcome.value,
            "client_address": asked.client_address,
            "client_network": keys_.network,
            "organization_name": request.organization_name,
            "organization_key": keys_.organization,
            "user_email_key": keys_.email,
            "requested_environment": request.requested_environment,
            "request": stored_request,
            "details": details,
            # Refusals are not counted by the address quota: they take no number.
            "network_ordinal": figures[NETWORK_ORDINAL] + 1 if counted else None,
        }
        return _Draft(result, ledger_row, credential, alarms)

    def _room(self, keys_: _QuotaKeys, now: datetime) -> Room:
        """The client network's quotas as ``record_if_room`` checks them."""
        quotas = self._policy.quotas

        def windowed(kind: QuotaKind) -> tuple[datetime | None, int | None]:
            quota = quotas.get(kind)
            if quota is None:
                return NO_QUOTA
            assert quota.window is not None  # noqa: S101 - the policy loader guarantees it
            return now - quota.window, quota.limit

        active = quotas.get(QuotaKind.ORGANIZATION_ACTIVE)
        return Room(
            locks=tuple(keys_.lock_names()),
            network=keys_.network,
            organization_key=keys_.organization,
            email_key=keys_.email,
            now=now,
            organization_issued=windowed(QuotaKind.ORGANIZATION_ISSUED),
            email_issued=windowed(QuotaKind.EMAIL_ISSUED) if keys_.email else NO_QUOTA,
            organization_active_limit=None if active is None else active.limit,
            address_decisions=windowed(QuotaKind.ADDRESS_DECISIONS),
        )

    async def _emit_decision(
        self, result: IssuanceResult, request: CreateAgentCredentialRequestDto, *, now: datetime
    ) -> None:
        """``credential.issued`` or ``credential.denied`` (its reason the outcome)."""
        data: dict[str, Any] = {
            "credential_request_id": result.credential_request_id,
            "organization": request.organization_name,
        }
        if isinstance(result.decision, Issue):
            data |= {
                "credential_id": result.credential_id,
                "scopes": list(result.decision.scopes),
                "environment": "sandbox",
                "expires_at": format_instant(result.decision.expires_at),
            }
            await outbox.emit(self._session, EventType.ISSUED, data=data, now=now)
            return
        data |= {
            "reason": result.outcome.value,
            "requested_scopes": list(request.requested_scopes),
            "requested_environment": request.requested_environment,
        }
        await outbox.emit(self._session, EventType.DENIED, data=data, now=now)

    def _count_decision(self, outcome: Outcome) -> None:
        """``agentkeys_decisions_total{outcome}``, once the unit of work commits (a decision
        whose commit fails was answered 503, not decided)."""
        counter = DECISIONS.labels(outcome=outcome.value)

        async def count() -> None:
            counter.inc()

        after_commit(self._session, count)

    async def _over_issuance_rate(self, network: str, *, request_id: str) -> IssuanceResult | None:
        """Refuse a network over its request rate before any transaction or lock is taken.

        Such a refusal is not written to the ledger: a client already refused must not be able
        to keep the database's write lock busy or fill the disk by asking faster.
        """
        if self._issuance_rate is None:
            return None
        admitted = await self._issuance_rate.hit(network)
        if admitted.allowed:
            return None
        wait = admitted.reset_seconds
        exhausted: tuple[QuotaKind, ...] = ()
        # The rate's wait is seconds; a network over its hourly decision quota must wait until
        # that frees. Told the shorter wait, a client would retry only to be refused again: the
        # answer carries the longer, truthful one (a lock-free read of the ledger).
        by_quota = await self._network_quota_refusal(network)
        if by_quota is not None and by_quota.retry_after_seconds > wait:
            wait, exhausted = by_quota.retry_after_seconds, by_quota.exhausted
        result = IssuanceResult(
            credential_request_id=ids.new_credential_request_id(),
            decision=RateLimited(
                retry_after_seconds=wait,
                exhausted=exhausted,
                next_steps=self._policy.next_steps.rate_limited.format(retry_after=wait),
            ),
        )
        UNRECORDED_DECISIONS.labels(outcome=result.outcome).inc()
        # The same event as every other decision, so one query finds them all.
        logger.info(
            "credential request decided",
            extra={
                "credential_request_id": result.credential_request_id,
                "outcome": result.outcome,
                "credential_id": None,
                "request_id": request_id,
                "recorded": False,
                "limited_by": "network request rate",
            },
        )
        return result

    async def _network_quota_refusal(self, network: str) -> RateLimited | None:
        """The network's decision quota, if full: read without a lock (an answer's wait only)."""
        quota = self._policy.quotas.get(QuotaKind.ADDRESS_DECISIONS)
        if quota is None or quota.window is None:
            return None
        now = to_millisecond(self._clock.now())
        tally = self._repository.address_decisions(network, window=quota.window, now=now)
        used = (await self._repository.counts({"used": tally.count(quota.limit)}))["used"]
        usage = await self._repository.usage(tally, used=used, limit=quota.limit)
        return quota_refusal(self._policy, {QuotaKind.ADDRESS_DECISIONS: usage}, now=now)

    def _figures(self, keys_: _QuotaKeys) -> tuple[Figure, ...]:
        """What a decision counts: each quota for this client network (up to its limit), the
        organization and e-mail quotas over every network (up to their alarm thresholds), and
        this network's stored refusals (up to their budget)."""
        wanted = [
            Figure(kind.value, TALLY_OF[kind], True, quota.window, quota.limit)
            for kind, quota in self._policy.quotas.items()
            if kind is not QuotaKind.EMAIL_ISSUED or keys_.email is not None
        ]
        wanted += self._alarm_figures(keys_)
        budget = self._policy.refused_ledger
        wanted.append(Figure(REFUSALS_STORED, REFUSALS, True, budget.window, budget.limit))
        return tuple(wanted)

    def _alarm_figures(self, keys_: _QuotaKeys) -> tuple[Figure, ...]:
        """The organization and e-mail quotas over every network, each counted up to its alarm
        threshold (``_alarms``)."""
        return tuple(
            Figure(ALARM + kind.value, TALLY_OF[kind], False, quota.window, quota.alarm_threshold)
            for kind, quota in self._policy.quotas.items()
            if (kind is not QuotaKind.EMAIL_ISSUED or keys_.email is not None)
            and kind is not QuotaKind.ADDRESS_DECISIONS
            and (kind is QuotaKind.ORGANIZATION_ACTIVE or quota.window is not None)
        )

    def _quota_tally(self, kind: QuotaKind, keys_: _QuotaKeys, *, now: datetime) -> Tally:
        """The events one quota counts for this client network."""
        network = keys_.network
        window = self._policy.quotas[kind].window
        if kind is QuotaKind.ORGANIZATION_ACTIVE:
            return self._repository.organization_active(
                keys_.organization, network=network, now=now
            )
        assert window is not None  # noqa: S101 - the policy loader guarantees it
        if kind is QuotaKind.ORGANIZATION_ISSUED:
            return self._repository.organization_issued(
                keys_.organization, network=network, window=window, now=now
            )
        if kind is QuotaKind.EMAIL_ISSUED and keys_.email is not None:
            return self._repository.email_issued(
                keys_.email, network=network, window=window, now=now
            )
        return self._repository.address_decisions(network, window=window, now=now)

    def _alarms(self, figures: dict[str, int]) -> list[str]:
        """Organization and e-mail quotas whose figure over every network reached its alarm.

        An alarm never refuses (a stranger elsewhere could otherwise lock the name out); it is
        noted in the ledger row's details and, once the decision is recorded, counted
        (``_announce_alarms``).
        """
        return [
            kind.value
            for kind, quota in self._policy.quotas.items()
            if ALARM + kind.value in figures
            and figures[ALARM + kind.value] >= quota.alarm_threshold
        ]

    def _announce_alarms(self, keys_: _QuotaKeys, raised: list[str]) -> None:
        """``agentkeys_quota_alarms_total`` and a warning for each alarm a decision raised."""
        if not raised:
            return
        for name in raised:
            QUOTA_ALARMS.labels(quota=name).inc()
        logger.warning(
            "quota alarm over every client network",
            extra={"alarms": ",".join(raised), "organization_key": keys_.organization},
        )

    def _mint(
        self,
        result: IssuanceResult,
        decision: Issue,
        *,
        keys_: _QuotaKeys,
        now: datetime,
    ) -> tuple[IssuanceResult, dict[str, Any]]:
        """A new key: the result showing its secret once, and the credential row to store."""
        minted = keys.mint(server_secret=self._server_secret)
        credential_id = ids.new_credential_id()
        row = {
            "id": credential_id,
            "key_digest": minted.digest,
            "credential_request_id": result.credential_request_id,
            "organization_key": keys_.organization,
            "user_email_key": keys_.email,
            "client_network": keys_.network,
            "scopes": list(decision.scopes),
            "environment": "sandbox",
            "created_at": now,
            "expires_at": decision.expires_at,
        }
        issued = IssuanceResult(
            credential_request_id=result.credential_request_id,
            decision=decision,
            credential_id=credential_id,
            secret=minted.secret,
        )
        return issued, row

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
            return RevocationTarget(
                credential_id=record.id,
                actor=SELF,
                already_revoked=record.revoked_at is not None,
            )
        self._verifier.refuse_unusable(record)
        raise NotFound(f"No credential '{echo(credential_id)}' belongs to this key.")

    async def admin_revocation_target(
        self, admin: AdminIdentity, credential_id: str
    ) -> RevocationTarget:
        """An operator's admin key may revoke any credential (CONTRACT §2): 403 for a viewer,
        404 for an id that names no credential. Read without a lock, like the holder's path."""
        admin.require_admin()
        if await self._verifier.find_by_id(credential_id) is None:
            raise NotFound(f"No credential '{echo(credential_id)}'.")
        return RevocationTarget(credential_id=credential_id, actor=admin.actor)

    async def revoke(self, target: RevocationTarget, *, reason: str | None) -> str:
        """Revoke at once; revoking again changes nothing and is not an error. The credential's id.

        A credential already revoked when its target was read is answered without the write
        lock: a repeated revocation, however often, never queues behind or ahead of anyone.
        """
        if target.already_revoked:
            return target.credential_id
        await begin_write(self._session)
        # Locked until commit (PostgreSQL; SQLite's writer lock already serializes): of many
        # simultaneous revocations only the first writes, and its time and reason are kept.
        record = await self._repository.get(target.credential_id, for_update=True)
        if record is None:  # credentials are never deleted
            raise invalid_key()
        await revoke_record(
            self._session,
            self._revocations,
            record,
            actor=target.actor,
            reason=reason,
            now=self._clock.now(),
        )
        return record.id


# What ``revoked_by`` records: the credential's own key, or ``admin:<admin key name>``.
SELF = "self"


@dataclass(frozen=True, slots=True)
class RevocationTarget:
    """A credential the presented key may revoke (its own, or any for an admin key), checked
    without a lock, and who revokes it."""

    credential_id: str
    actor: str
    # Revoked when read (revocation is for ever): nothing left to write.
    already_revoked: bool = False


async def revoke_record(
    session: AsyncSession,
    revocations: RevocationBus,
    record: CredentialRecord,
    *,
    actor: str,
    reason: str | None,
    now: datetime,
) -> bool:
    """Mark a locked credential revoked unless it already is (the first revocation's time,
    actor and reason are kept); announce it to every replica once committed. Whether it was."""
    if record.revoked_at is not None:
        return False
    record.revoked_at = to_millisecond(now)
    record.revoked_by = actor
    record.revocation_reason = reason
    await session.flush()
    # In the revocation's transaction: the event commits with it or not at all.
    await outbox.emit_revoked(session, record, now=now)
    logger.info("credential revoked", extra={"credential_id": record.id, "revoked_by": actor})
    # Announce only once the revocation is committed: a replica that re-read the row before the
    # commit would otherwise cache the credential as still valid.
    credential_id = record.id
    # agentkeys_revocations_total{by}: self, admin or leak (never an admin key's name).
    counter = REVOCATIONS.labels(by=revoker(actor))

    async def announce() -> None:
        counter.inc()
        await revocations.publish(credential_id)

    after_commit(session, announce)
    return True


class CredentialAdministration:
    """What an operator does with credentials: list, read, revoke any of them. Never commits."""

    def __init__(self, session: AsyncSession, *, clock: Clock, revocations: RevocationBus) -> None:
        self._session = session
        self._repository = CredentialRepository(session)
        self._clock = clock
        self._revocations = revocations

    def now(self) -> datetime:
        return self._clock.now()

    async def page(
        self, where: CredentialFilter, *, after: Position | None, limit: int, now: datetime
    ) -> list[IssuedCredential]:
        return await self._repository.page(where, after=after, limit=limit, now=now)

    async def table(
        self,
        where: CredentialFilter,
        *,
        search: str | None,
        order: CredentialOrder,
        descending: bool,
        offset: int,
        limit: int,
        now: datetime,
    ) -> tuple[list[IssuedCredential], int]:
        """One page of a sorted table of credentials, and how many match in all."""
        rows = await self._repository.table(
            where,
            search=search,
            order=order,
            descending=descending,
            offset=offset,
            limit=limit,
            now=now,
        )
        return rows, await self._repository.count(where, search=search, now=now)

    async def count(self, where: CredentialFilter, *, now: datetime) -> int:
        return await self._repository.count(where, search=None, now=now)

    async def organization_names(
        self, where: CredentialFilter, *, now: datetime, limit: int
    ) -> list[str]:
        return await self._repository.organization_names(where, now=now, limit=limit)

    async def get(self, credential_id: str) -> IssuedCredential:
        found = await self._repository.get_issued(credential_id)
        if found is None:
            raise NotFound(f"No credential '{echo(credential_id)}'.")
        return found

    async def revoke(self, credential_id: str, *, actor: str, reason: str) -> IssuedCredential:
        """Revoke one credential at once; idempotent (an earlier revocation is kept as it was)."""
        return (await self.revoke_reporting(credential_id, actor=actor, reason=reason))[0]

    async def revoke_reporting(
        self, credential_id: str, *, actor: str, reason: str
    ) -> tuple[IssuedCredential, bool]:
        """``revoke``, and whether this call revoked it (False: it already was, as it was)."""
        await begin_write(self._session)
        record = await self._repository.get(credential_id, for_update=True)
        if record is None:
            raise NotFound(f"No credential '{echo(credential_id)}'.")
        revoked = await revoke_record(
            self._session, self._revocations, record, actor=actor, reason=reason, now=self.now()
        )
        return await self.get(credential_id), revoked

    async def revoke_matching(
        self, where: CredentialFilter, *, actor: str, reason: str
    ) -> list[str]:
        """Revoke every active credential matching ``where``; the ids revoked, oldest first."""
        await begin_write(self._session)
        now = self.now()
        revoked = []
        for record in await self._repository.active_for_update(where, now=now):
            if await revoke_record(
                self._session, self._revocations, record, actor=actor, reason=reason, now=now
            ):
                revoked.append(record.id)
        logger.info(
            "credentials revoked in bulk", extra={"count": len(revoked), "revoked_by": actor}
        )
        return revoked


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

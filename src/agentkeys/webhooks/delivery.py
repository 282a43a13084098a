"""The delivery worker: sends the outbox's messages, signed (Standard Webhooks), at least once.

Each round claims the due messages in a short transaction (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so of several replicas exactly one claims each message; SQLite's single writer does
the same for one process) and moves their due time a lease ahead; the HTTP requests run with no
transaction open; each outcome is then written in a transaction of its own. A process killed
mid-delivery leaves its claims to expire: another round (here or on a replica) sends them again,
hence at least once. The same loop runs the expiry sweep (``credential.expired``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from agentkeys import __version__, ids
from agentkeys.clock import Clock, to_millisecond
from agentkeys.db.engine import begin_write
from agentkeys.webhooks.events import DISABLE_AFTER, EventType, next_attempt_delay
from agentkeys.webhooks.models import (
    WebhookAttemptRecord,
    WebhookEndpointRecord,
    WebhookSweepRecord,
)
from agentkeys.webhooks.outbox import credential_data, emit
from agentkeys.webhooks.repository import DELIVERED, FAILED, WebhookRepository
from agentkeys.webhooks.sealing import SecretBox
from agentkeys.webhooks.ssrf import RefusedDestination, parse_destination, resolve_checked

logger = logging.getLogger(__name__)

# Longer than a request may take (TIMEOUT), so a claim never ends while its request runs.
LEASE = timedelta(seconds=60)
TIMEOUT_SECONDS = 15.0
BATCH = 20
ERROR_MAX_LENGTH = 255
EXPIRY_SWEEP = "credential.expired"
# The sweep runs this often: `credential.expired` is at most this late (the issue allows 60 s).
SWEEP_SECONDS = 20.0
# How long shutdown waits for a round in progress (its requests' timeout is longer: then cut).
CLOSE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed message and what sending it needs, read in the claim's transaction."""

    message_id: str
    endpoint_id: str
    url: str
    payload: str
    secrets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Sent:
    succeeded: bool
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def gone(self) -> bool:
        return self.status_code == 410


def signature_header(secrets: tuple[str, ...], *, message_id: str, at: datetime, body: str) -> str:
    """One ``v1,…`` signature per valid secret, space-separated (the specification allows
    several, which is how a rotation keeps the old secret valid)."""
    return " ".join(Webhook(secret).sign(message_id, at, body) for secret in secrets)


class WebhookDelivery:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
        box: SecretBox,
        allow_private: bool,
        poll_seconds: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._box = box
        self._allow_private = allow_private
        self._poll_seconds = poll_seconds
        # trust_env off: a proxy from the environment would connect to the name, not the
        # address checked. Redirects are never followed (a 3xx is a failure).
        self._http = httpx.AsyncClient(
            transport=transport,
            trust_env=False,
            follow_redirects=False,
            timeout=TIMEOUT_SECONDS,
        )
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._last_sweep = float("-inf")

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._loop(), name="webhook-delivery")

    async def close(self) -> None:
        """Let the round in progress finish (a database call cancelled half-way would answer a
        closed loop), then stop; cancelled only if it outlasts ``CLOSE_SECONDS``."""
        if self._task is not None:
            self._stopping.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), CLOSE_SECONDS)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        await self._http.aclose()

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                if time.monotonic() - self._last_sweep >= SWEEP_SECONDS:
                    await self.sweep_expired()
                    self._last_sweep = time.monotonic()
                while await self.run_once() == BATCH and not self._stopping.is_set():
                    pass
            except Exception:  # a database outage: try again next round, never die
                logger.exception("webhook delivery round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._poll_seconds)

    async def run_once(self) -> int:
        """One round: claim the due messages, send them, record each outcome. How many sent."""
        claimed = await self._claim()
        # Side by side, each bounded by TIMEOUT_SECONDS: the round ends well within the claims'
        # lease, so no replica ever claims a message still being sent here.
        await asyncio.gather(*(self._deliver(message) for message in claimed))
        return len(claimed)

    async def _deliver(self, message: Claimed) -> None:
        await self._record(message, await self._send(message))

    async def _claim(self) -> list[Claimed]:
        # A plain read first: an idle round takes no write lock (SQLite has but one).
        async with self._session_factory() as session:
            if not await WebhookRepository(session).any_due(now=self._clock.now()):
                return []
        async with self._session_factory() as session, session.begin():
            await begin_write(session)
            now = to_millisecond(self._clock.now())
            repository = WebhookRepository(session)
            claimed = []
            for message in await repository.claim_due(now=now, limit=BATCH):
                endpoint = await repository.endpoint(message.endpoint_id)
                if endpoint is None:  # deleted meanwhile: its messages go with it
                    continue
                message.next_attempt_at = now + LEASE
                claimed.append(
                    Claimed(
                        message_id=message.id,
                        endpoint_id=endpoint.id,
                        url=endpoint.url,
                        payload=message.payload,
                        secrets=self._secrets(endpoint, now=now),
                    )
                )
        return claimed

    def _secrets(self, endpoint: WebhookEndpointRecord, *, now: datetime) -> tuple[str, ...]:
        current = self._box.open(endpoint.secret_sealed, endpoint_id=endpoint.id)
        previous = endpoint.previous_secret_sealed
        expires = endpoint.previous_secret_expires_at
        if previous is None or expires is None or expires <= now:
            return (current,)
        return (current, self._box.open(previous, endpoint_id=endpoint.id))

    async def _send(self, message: Claimed) -> Sent:
        started = time.monotonic()

        def ended(*, status: int | None = None, error: str | None = None) -> Sent:
            return Sent(
                succeeded=status is not None and 200 <= status < 300,
                status_code=status,
                error=error[:ERROR_MAX_LENGTH] if error else None,
                duration_ms=round((time.monotonic() - started) * 1000),
            )

        try:
            destination = parse_destination(message.url, allow_private=self._allow_private)
            address = await resolve_checked(destination, allow_private=self._allow_private)
        except RefusedDestination as refused:
            return ended(error=f"refused: {refused}")
        url = httpx.URL(message.url)
        at = self._clock.now()
        headers = {
            # The name the URL gave, while the connection goes to the address checked.
            "Host": url.netloc.decode("ascii"),
            "Content-Type": "application/json",
            "User-Agent": f"agentkeys-webhooks/{__version__}",
            "webhook-id": message.message_id,
            "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signature_header(
                message.secrets, message_id=message.message_id, at=at, body=message.payload
            ),
        }
        request = self._http.build_request(
            "POST",
            url.copy_with(host=str(address)),
            content=message.payload.encode("utf-8"),
            headers=headers,
            # TLS names and checks the URL's host, not the address connected to.
            extensions={"sni_hostname": destination.host} if destination.scheme == "https" else {},
        )
        try:
            # The whole exchange bounded (httpx's timeout is per read or write: a receiver
            # dripping bytes would hold it for ever). Streamed and closed unread: a receiver's
            # answer body is never needed.
            async with asyncio.timeout(TIMEOUT_SECONDS):
                response = await self._http.send(request, stream=True)
                await response.aclose()
        except TimeoutError:
            return ended(error=f"no answer within {TIMEOUT_SECONDS:g} s")
        except httpx.HTTPError as error:
            return ended(error=f"{type(error).__name__}: {error}")
        return ended(status=response.status_code)

    async def _record(self, claimed: Claimed, sent: Sent) -> None:
        async with self._session_factory() as session, session.begin():
            await begin_write(session)
            now = to_millisecond(self._clock.now())
            repository = WebhookRepository(session)
            message = await repository.message(claimed.message_id)
            endpoint = await repository.endpoint(claimed.endpoint_id, for_update=True)
            if message is None or endpoint is None:
                return
            repository.add(
                WebhookAttemptRecord(
                    id=ids.new_webhook_attempt_id(),
                    message_id=message.id,
                    endpoint_id=endpoint.id,
                    attempted_at=now,
                    succeeded=sent.succeeded,
                    status_code=sent.status_code,
                    error=sent.error,
                    duration_ms=sent.duration_ms,
                )
            )
            message.attempts += 1
            if sent.succeeded:
                message.status = DELIVERED
                endpoint.failing_since = None
                return
            delay = next_attempt_delay(message.attempts)
            if delay is None:
                message.status = FAILED
            else:
                message.next_attempt_at = now + delay
            endpoint.failing_since = endpoint.failing_since or now
            if sent.gone:
                self._disable(endpoint, reason="gone", now=now)
            elif now - endpoint.failing_since >= DISABLE_AFTER:
                self._disable(endpoint, reason="failing", now=now)
        logger.info(
            "webhook attempt",
            extra={
                "webhook_message_id": claimed.message_id,
                "webhook_endpoint_id": claimed.endpoint_id,
                "status_code": sent.status_code,
                "succeeded": sent.succeeded,
            },
        )

    @staticmethod
    def _disable(endpoint: WebhookEndpointRecord, *, reason: str, now: datetime) -> None:
        endpoint.enabled = False
        endpoint.disabled_reason = reason
        endpoint.updated_at = now
        logger.warning(
            "webhook endpoint disabled", extra={"webhook_endpoint_id": endpoint.id, "why": reason}
        )

    async def sweep_expired(self) -> int:
        """``credential.expired`` for every credential that expired since the last sweep (on
        any replica: the mark is locked while sweeping). How many expired."""
        try:
            async with self._session_factory() as session, session.begin():
                await begin_write(session)
                now = to_millisecond(self._clock.now())
                repository = WebhookRepository(session)
                mark = await repository.sweep_mark(EXPIRY_SWEEP)
                if mark is None:  # the first sweep ever: from now on, not the whole past
                    repository.add_sweep_mark(
                        WebhookSweepRecord(name=EXPIRY_SWEEP, swept_until=now)
                    )
                    return 0
                if mark.swept_until >= now:
                    return 0
                expired = await repository.expired_between(mark.swept_until, now)
                for record, organization in expired:
                    data = credential_data(record, organization=organization)
                    await emit(session, EventType.EXPIRED, data=data, now=now)
                mark.swept_until = now
                return len(expired)
        except IntegrityError:  # two replicas' first sweeps at once: the other's mark stands
            return 0

"""What operators watch about credentials: each one's last use, and how many are active.

**Last use without a write per request.** The verifier records a verified use in memory (a dict
write: credential id → instant, the newest kept). A background task flushes the dict every
``AGENTKEYS_LAST_USED_FLUSH_SECONDS`` in one batched statement, and once more at shutdown, so a
credential's row is written at most once per interval however busy its key is. The statement
never moves ``last_used_at`` back (another worker may have written a later instant first).

Memory is bounded: only keys that verified enter (guessing cannot fill the dict), the dict is
emptied at each flush, and it holds at most ``max_pending`` credentials (a use of one more is
dropped, counted in ``agentkeys_last_used_dropped_total``, until the next flush makes room). A
failed flush (the database away) is logged and counted in
``agentkeys_backend_errors_total{backend="database",operation="last_used_flush"}``; its uses go
back into the dict, the newer instant winning, and are written by the next flush.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentkeys.clock import Clock, to_millisecond
from agentkeys.credentials.repository import CredentialRepository
from agentkeys.db.engine import begin_write
from agentkeys.metrics import BACKEND_ERRORS, LAST_USES_DROPPED

logger = logging.getLogger(__name__)
MAX_PENDING = 100_000
FLUSH_FAILED = BACKEND_ERRORS.labels(backend="database", operation="last_used_flush")


class CredentialUsage:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
        flush_seconds: float,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._flush_seconds = flush_seconds
        self._max_pending = max_pending
        self._pending: dict[str, datetime] = {}
        self._flusher: asyncio.Task[None] | None = None

    def record(self, credential_id: str, at: datetime) -> None:
        """A verified use (the hot path: one dict write). The newest instant is kept."""
        pending = self._pending
        if len(pending) >= self._max_pending and credential_id not in pending:
            LAST_USES_DROPPED.inc()
            return
        pending[credential_id] = at

    @property
    def pending(self) -> Mapping[str, datetime]:
        """Uses recorded and not yet written."""
        return self._pending

    async def flush(self) -> bool:
        """Write every recorded use in one batch; whether it succeeded (a failure is logged,
        counted, and its uses kept for the next flush)."""
        if not self._pending:
            return True
        batch, self._pending = self._pending, {}
        try:
            async with self._session_factory() as session:
                await begin_write(session)
                await CredentialRepository(session).record_uses(
                    {credential_id: to_millisecond(at) for credential_id, at in batch.items()}
                )
                await session.commit()
        except asyncio.CancelledError:
            self._restore(batch)
            raise
        except Exception as error:  # the database away, or anything: never stop flushing
            self._restore(batch)
            FLUSH_FAILED.inc()
            first_line = next(iter(str(error).splitlines()), "")
            logger.warning(
                "could not write credentials' last use; retrying at the next flush: %s: %s",
                type(error).__name__,
                first_line,
                extra={"pending": len(self._pending)},
            )
            return False
        return True

    def _restore(self, batch: Mapping[str, datetime]) -> None:
        """Put an unwritten batch back, keeping the newer instant of each credential."""
        for credential_id, at in batch.items():
            newer = self._pending.get(credential_id)
            if newer is None or newer < at:
                self._pending[credential_id] = at

    async def start(self) -> None:
        """Flush every ``flush_seconds`` in the background (the app's lifespan)."""
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_periodically())

    async def close(self) -> None:
        """Stop the background flushes and write whatever is left (shutdown)."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        await self.flush()

    async def _flush_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            await self.flush()

    async def count_active(self) -> int:
        """Credentials neither expired nor revoked now, read in a short session of its own."""
        async with self._session_factory() as session:
            return await CredentialRepository(session).count_active(now=self._clock.now())

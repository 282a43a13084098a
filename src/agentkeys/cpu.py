"""CPU-bound work off the event loop, shared by every feature that has some.

Bills, price signals and battery estimates compete for the same CPUs, so they share one pool per
process (``AppContext.cpu``): at most ``size`` pieces of work run at once, each in a worker
thread, so the event loop keeps answering other requests. Work waits for a slot at most
``wait_seconds``, then is refused (503 with ``Retry-After``) rather than queued without bound.
A caller holding a database session gives it back before it waits (see the services).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import ParamSpec, TypeVar

from agentkeys.errors import DomainError, ErrorCode

# The longest a request waits for a free slot (an estimate is about a second of CPU).
WAIT_FOR_SLOT_SECONDS = 10.0
RETRY_AFTER_SECONDS = 5

P = ParamSpec("P")
T = TypeVar("T")


class CpuBusy(DomainError):
    code = ErrorCode.SERVICE_UNAVAILABLE


def busy(what: str = "The server") -> CpuBusy:
    return CpuBusy(
        f"{what} is busy.",
        recovery_action="Retry in a few seconds.",
        retry_after_seconds=RETRY_AFTER_SECONDS,
    )


class CpuPool:
    def __init__(self, size: int, *, wait_seconds: float = WAIT_FOR_SLOT_SECONDS) -> None:
        if size < 1:
            raise ValueError(f"a CPU pool needs at least one slot, not {size}")
        self.size = size
        self._slots = asyncio.Semaphore(size)
        self._wait_seconds = wait_seconds
        self._running = 0
        self._waiting = 0

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        """Pieces of work waiting for a slot."""
        return self._waiting

    @asynccontextmanager
    async def slot(self, *, busy_message: str = "The server") -> AsyncIterator[None]:
        """One slot, waited for at most ``wait_seconds`` (then ``CpuBusy``)."""
        self._waiting += 1
        try:
            async with asyncio.timeout(self._wait_seconds):
                await self._slots.acquire()
        except TimeoutError:
            raise busy(busy_message) from None
        finally:
            self._waiting -= 1
        self._running += 1
        try:
            yield
        finally:
            self._running -= 1
            self._slots.release()

    async def run(self, work: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``work(*args, **kwargs)`` in a worker thread, in one of the slots."""
        async with self.slot():
            return await asyncio.to_thread(functools.partial(work, *args, **kwargs))

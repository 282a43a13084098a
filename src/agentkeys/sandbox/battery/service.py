"""Battery savings for a home: simulate its year under its rate plan, off the event loop.

An estimate is about a second of CPU, so it must not hold what other requests need while it waits
or runs: its database session is given back once the home is read, before any waiting. Admission
is decided at once, without waiting: one estimate at a time per credential (429), and at most
``MAX_WAITING`` estimates queued behind the running ones per process (503); both say when to
retry. Only then does an estimate wait, for a bounded time, for a slot of the app's CPU pool
(``agentkeys.cpu``), which bills and price signals share.

The home is simulated where its ZIP code is: the ZIP's coordinates place the sun and its time
zone turns the sun's hours into the plan's wall-clock slots.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Protocol

from agentkeys.clock import Clock
from agentkeys.cpu import CpuPool, busy
from agentkeys.errors import FieldError, RequestRateExceeded, ValidationFailed
from agentkeys.sandbox.battery.estimate import (
    BatteryEstimate,
    BatteryParameters,
    estimate_annual_savings,
)
from agentkeys.sandbox.battery.optimizer import DispatchError
from agentkeys.sandbox.homes.service import HomeService
from agentkeys.sandbox.utility.service import place_zip

# Estimates admitted but not yet running, per process: beyond this, refuse instead of queueing.
MAX_WAITING = 8
RETRY_AFTER_SECONDS = 5
BUSY = "The savings estimator"


class Place(Protocol):
    """Where a ZIP code is (``agentkeys.sandbox.geo.ZipPlace`` is one)."""

    @property
    def latitude(self) -> float: ...
    @property
    def longitude(self) -> float: ...
    @property
    def timezone(self) -> str: ...


class Places(Protocol):
    """ZIP code → place (``agentkeys.sandbox.geo.Geography`` is one)."""

    def place(self, zipcode: str) -> Place | None: ...


class EstimatorQueue:
    """Who may run an estimate now: one per credential, a bounded queue, then the CPU pool."""

    def __init__(self, cpu: CpuPool, *, max_waiting: int = MAX_WAITING) -> None:
        self._cpu = cpu
        self._max_waiting = max_waiting
        self._credentials: set[str] = set()
        self._running = 0

    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        """Admitted estimates not running yet (reading their home or waiting for a slot)."""
        return len(self._credentials) - self._running

    @asynccontextmanager
    async def admitted(self, credential_id: str) -> AsyncIterator[None]:
        """Admit an estimate at once or refuse it (429 for the credential, 503 when full)."""
        if credential_id in self._credentials:
            raise RequestRateExceeded(
                "This credential already has a savings estimate in progress.",
                recovery_action="Wait for it to finish: one estimate at a time per credential.",
                retry_after_seconds=RETRY_AFTER_SECONDS,
            )
        if self.waiting >= self._max_waiting:
            raise busy(BUSY)
        self._credentials.add(credential_id)
        try:
            yield
        finally:
            self._credentials.discard(credential_id)

    async def run(self, work: Callable[[], BatteryEstimate]) -> BatteryEstimate:
        """``work`` in one of the CPU pool's slots (waited for a bounded time, then 503)."""
        async with self._cpu.slot(busy_message=BUSY):
            self._running += 1
            try:
                # CPU-bound (a linear program per month): never on the event loop.
                return await asyncio.to_thread(work)
            finally:
                self._running -= 1


class BatteryService:
    def __init__(
        self,
        homes: HomeService,
        *,
        clock: Clock,
        queue: EstimatorQueue,
        release_session: Callable[[], Awaitable[None]],
        places: Places,
    ) -> None:
        self._homes = homes
        self._places = places
        self._clock = clock
        self._queue = queue
        self._release_session = release_session

    async def estimate_savings(
        self, home_id: str, parameters: BatteryParameters, *, credential_id: str
    ) -> BatteryEstimate:
        """Baseline and optimised cost of this year's requested months for the home's plan."""
        async with self._queue.admitted(credential_id):
            priced = await self._homes.priced_home(home_id, credential_id=credential_id)
            # Nothing more to read or write: the connection goes back to the pool now, not
            # after the queue and the solver.
            await self._release_session()
            place = self._place_of(priced.home.zipcode)
            work = functools.partial(
                estimate_annual_savings,
                plan=priced.plan,
                timezone=place.timezone,
                latitude=place.latitude,
                longitude=place.longitude,
                year=self._clock.now().year,
                request=parameters,
            )
            try:
                return await self._queue.run(work)
            except DispatchError as error:
                raise ValidationFailed(
                    [FieldError("body", f"These battery parameters cannot be simulated: {error}")]
                ) from None

    def _place_of(self, zipcode: str | None) -> Place:
        """The home's ZIP code located, or a refusal naming the field to set."""
        place = self._places.place(place_zip(zipcode)) if zipcode else None
        if place is None or not place.timezone:
            problem = (
                "The home has no ZIP code"
                if not zipcode
                else f"ZIP code {zipcode} is not one the sandbox can place"
            )
            raise ValidationFailed(
                [
                    FieldError(
                        "zipcode",
                        f"{problem}; the estimate simulates the sun where the home is. Set a "
                        "U.S. ZIP code with /v1/homes/{id}/update",
                    )
                ]
            )
        return place

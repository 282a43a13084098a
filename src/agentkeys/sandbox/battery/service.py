"""Battery savings for a home: simulate its year under its rate plan, off the event loop."""

from __future__ import annotations

import asyncio
import functools

from agentkeys.clock import Clock
from agentkeys.errors import DomainError, ErrorCode, FieldError, ValidationFailed
from agentkeys.sandbox.battery.estimate import (
    BatteryEstimate,
    BatteryParameters,
    estimate_annual_savings,
)
from agentkeys.sandbox.battery.optimizer import DispatchError
from agentkeys.sandbox.homes.service import HomeService

# A full year of 31-day months takes about a second of CPU; wait this long for a free slot.
WAIT_FOR_SLOT_SECONDS = 10.0


class EstimatorBusy(DomainError):
    code = ErrorCode.SERVICE_UNAVAILABLE


class BatteryService:
    def __init__(self, homes: HomeService, *, clock: Clock, slots: asyncio.Semaphore) -> None:
        self._homes = homes
        self._clock = clock
        self._slots = slots

    async def estimate_savings(
        self, home_id: str, parameters: BatteryParameters, *, credential_id: str
    ) -> BatteryEstimate:
        """Baseline and optimised cost of this year's requested months for the home's plan."""
        priced = await self._homes.priced_home(home_id, credential_id=credential_id)
        location = priced.utility.location
        work = functools.partial(
            estimate_annual_savings,
            plan=priced.plan,
            timezone=priced.utility.timezone,
            latitude=location.latitude,
            longitude=location.longitude,
            year=self._clock.now().year,
            request=parameters,
        )
        try:
            async with asyncio.timeout(WAIT_FOR_SLOT_SECONDS):
                await self._slots.acquire()
        except TimeoutError:
            raise EstimatorBusy(
                "The savings estimator is busy.",
                recovery_action="Retry in a few seconds.",
                retry_after_seconds=5,
            ) from None
        try:
            # CPU-bound (a linear program per month): never on the event loop.
            return await asyncio.to_thread(work)
        except DispatchError as error:
            raise ValidationFailed(
                [FieldError("body", f"These battery parameters cannot be simulated: {error}")]
            ) from None
        finally:
            self._slots.release()

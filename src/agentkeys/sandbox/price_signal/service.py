"""Price signals: the home's tariff, quarter-hour by quarter-hour, over a window of real time.

Up to 31 days of quarter-hours, each converted to local time: CPU work, done in the app's CPU pool
(a worker thread, so the event loop keeps answering other requests) once the database session is
given back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from agentkeys.clock import Clock
from agentkeys.cpu import CpuPool
from agentkeys.errors import FieldError, ValidationFailed
from agentkeys.sandbox.homes.service import HomeService, PricedHome
from agentkeys.sandbox.tariffs.engine import PricePoint, price_signal
from agentkeys.validation import EARLIEST_INSTANT, LIMIT_INSTANT

DEFAULT_WINDOW = timedelta(hours=24)
MAX_WINDOW = timedelta(days=31)


@dataclass(frozen=True, slots=True)
class PriceSignal:
    priced: PricedHome
    start: datetime
    end: datetime
    points: list[PricePoint]


def _in_home_time(wall_clock_or_instant: datetime, timezone: ZoneInfo, *, field: str) -> datetime:
    """A naive time is a wall-clock time of the home's zone (``fold=0``: a repeated hour's first
    pass, a skipped hour by the offset before the change); the result is a UTC instant within
    the years the sandbox prices."""
    instant = (
        wall_clock_or_instant.replace(tzinfo=timezone).astimezone(UTC)
        if wall_clock_or_instant.tzinfo is None
        else wall_clock_or_instant
    )
    if not EARLIEST_INSTANT <= instant <= LIMIT_INSTANT:
        raise ValidationFailed(
            [FieldError(field, f"Must lie in the years 2000 to 2100 (in {timezone.key})")]
        )
    return instant


def _quarter_hour_floor(instant: datetime) -> datetime:
    return instant.replace(minute=instant.minute - instant.minute % 15, second=0, microsecond=0)


class PriceSignalService:
    def __init__(
        self,
        homes: HomeService,
        *,
        clock: Clock,
        cpu: CpuPool,
        release_session: Callable[[], Awaitable[None]],
    ) -> None:
        self._homes = homes
        self._clock = clock
        self._cpu = cpu
        self._release_session = release_session

    async def price_signal(
        self, home_id: str, window: tuple[datetime, datetime] | None, *, credential_id: str
    ) -> PriceSignal:
        """Prices from ``window`` (default: the next 24 hours from the current quarter-hour)."""
        priced = await self._homes.priced_home(home_id, credential_id=credential_id)
        if window is None:
            start = _quarter_hour_floor(self._clock.now())
            end = start + DEFAULT_WINDOW
        else:
            start = _in_home_time(window[0], priced.timezone, field="startTime")
            end = _in_home_time(window[1], priced.timezone, field="endTime")
            if end <= start:
                raise ValidationFailed([FieldError("endTime", "Must be after startTime")])
            if end - start > MAX_WINDOW:
                raise ValidationFailed(
                    [FieldError("endTime", "The window may span 31 days at most")]
                )
        # Nothing more to read or write: the connection goes back to the pool before any wait.
        await self._release_session()
        points = await self._cpu.run(
            price_signal, priced.plan, timezone=priced.timezone, start=start, end=end
        )
        return PriceSignal(priced=priced, start=start, end=end, points=points)

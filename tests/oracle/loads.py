"""Years of hourly household loads fed to SAM and to our engine alike.

SAM reads 8,760 hourly kWh; our engine reads 96 wall-clock quarter-hours per local day. Each hour
becomes four quarter-hours of a quarter of its kWh (exact in binary floating point), and neither
side has daylight saving in this year of 24-hour days, so both bill the same energy in the same
hours.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta

from tests.oracle.sam import HOURS_PER_YEAR, SAM_YEAR

# kWh in each hour of a weekday at the seasonal mean: a low night, a morning bump, a 16:00-21:00
# evening peak (where time-of-use plans put their peak price).
PEAKY_WEEKDAY = (
    (0.3,) * 6 + (0.9,) * 3 + (0.6,) * 7 + (2.4,) * 5 + (0.8,) * 3
)  # fmt: skip
# Weekends: at home through the middle of the day, so weekend schedules see other hours filled.
PEAKY_WEEKEND = (
    (0.3,) * 6 + (0.9,) * 3 + (1.2,) * 7 + (2.4,) * 5 + (0.8,) * 3
)  # fmt: skip
# The year's swing: x1.6 in mid-July (day 196, air conditioning), x0.4 in mid-January.
SEASONAL_SWING = 0.6
# A home that is rarely there (about 22 kWh a month): its bills fall below minimum charges.
LOW_USE_KWH_PER_HOUR = 0.03
PEAK_DAY_OF_YEAR = 196


def year_days() -> list[date]:
    first = date(SAM_YEAR, 1, 1)
    return [first + timedelta(days=offset) for offset in range(HOURS_PER_YEAR // 24)]


def flat_year(kwh_per_hour: float = 1.0) -> tuple[float, ...]:
    """The same kWh every hour of the year."""
    return (kwh_per_hour,) * HOURS_PER_YEAR


def low_use_year() -> tuple[float, ...]:
    return flat_year(LOW_USE_KWH_PER_HOUR)


def peaky_year() -> tuple[float, ...]:
    """An evening-peaking home whose use swells in summer (weekends differ by day)."""
    hours: list[float] = []
    for number, day in enumerate(year_days()):
        swing = 1 + SEASONAL_SWING * math.cos(2 * math.pi * (number - PEAK_DAY_OF_YEAR) / 365)
        shape = PEAKY_WEEKEND if day.weekday() >= 5 else PEAKY_WEEKDAY
        hours.extend(kwh * swing for kwh in shape)
    return tuple(hours)


def quarter_hour_days(hourly_kwh: Sequence[float]) -> dict[int, list[list[float]]]:
    """Month → its days, each 96 quarter-hour kWh (an hour's kWh / 4, four times)."""
    months: dict[int, list[list[float]]] = {}
    for number, day in enumerate(year_days()):
        hours = hourly_kwh[number * 24 : (number + 1) * 24]
        months.setdefault(day.month, []).append([kwh / 4 for kwh in hours for _ in range(4)])
    return months

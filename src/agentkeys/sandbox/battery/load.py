"""A typical residential load: a daily total per month spread over the day by a fixed shape.

No usage reaches the battery route, so the sandbox simulates a home. Every number here is an
assumption, stated once in ``LoadAssumptions`` so the API can report it:

- Level: EIA's FAQ "How much electricity does an American home use?" gives 10,791 kWh for the
  average U.S. residential customer in 2022 (about 899 kWh a month, 29.6 kWh a day).
- Season: the monthly daily totals below average 29.6 kWh/day over a 365-day year (10,803 kWh,
  within 0.2% of EIA's figure) with a summer-cooling peak in July-August (~+23%), a smaller
  winter-heating peak in December-February (~+5-8%) and shoulder-month troughs (~-17%). The
  factors are our assumption, shaped after the seasonality of EIA's monthly residential sales
  (Electric Power Monthly, table 5.1), not fitted to them.
- Day: hourly weights with a night trough (3-5 a.m.), a morning peak (7-9 a.m.) and a larger
  evening peak (6-9 p.m.); weekends have a later, flatter morning and a fuller midday. The
  weights are an assumption in the spirit of published residential load-research profiles;
  each hour's share is split evenly over its four quarter-hours, and a day's values always sum
  to the month's daily total (weekends use the same total, only the shape differs).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from agentkeys.sandbox.tariffs.model import SLOTS_PER_DAY, SLOTS_PER_HOUR

EIA_AVERAGE_ANNUAL_KWH = 10_791.0

# kWh per day, January … December.
MONTHLY_DAILY_KWH = (32.0, 30.0, 26.5, 24.5, 25.5, 30.5, 36.5, 36.0, 31.5, 26.0, 25.5, 30.5)

# Relative weights of hours 0 … 23; normalized to sum to 1 before use.
WEEKDAY_HOURLY_WEIGHTS = (
    0.030, 0.026, 0.024, 0.023, 0.024, 0.028, 0.037, 0.046, 0.045, 0.039, 0.036, 0.035,
    0.035, 0.035, 0.036, 0.038, 0.043, 0.052, 0.061, 0.065, 0.062, 0.056, 0.046, 0.037,
)  # fmt: skip
WEEKEND_HOURLY_WEIGHTS = (
    0.032, 0.028, 0.025, 0.024, 0.024, 0.025, 0.029, 0.035, 0.041, 0.045, 0.044, 0.042,
    0.041, 0.040, 0.040, 0.041, 0.044, 0.050, 0.057, 0.060, 0.058, 0.053, 0.045, 0.038,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class LoadAssumptions:
    """The simulated home's consumption: daily totals per month and the intraday shapes."""

    daily_kwh_by_month: tuple[float, ...] = MONTHLY_DAILY_KWH
    weekday_hourly_weights: tuple[float, ...] = WEEKDAY_HOURLY_WEIGHTS
    weekend_hourly_weights: tuple[float, ...] = WEEKEND_HOURLY_WEIGHTS
    reference_annual_kwh: float = EIA_AVERAGE_ANNUAL_KWH
    source: str = (
        "Level: EIA FAQ, average U.S. residential customer used 10,791 kWh in 2022 (~29.6 "
        "kWh/day). Monthly factors (summer cooling, winter heating) and the intraday shapes "
        "(morning and evening peaks, night trough; weekends later and flatter) are assumptions."
    )

    def __post_init__(self) -> None:
        if len(self.daily_kwh_by_month) != 12:
            raise ValueError("daily_kwh_by_month needs one value per month")
        for weights in (self.weekday_hourly_weights, self.weekend_hourly_weights):
            if len(weights) != 24 or min(weights) < 0 or sum(weights) <= 0:
                raise ValueError("hourly weights need 24 non-negative values, not all zero")

    def daily_kwh(self, month: int) -> float:
        return self.daily_kwh_by_month[month - 1]


DEFAULT_LOAD = LoadAssumptions()


def quarter_hour_load_kwh(*, day: date, assumptions: LoadAssumptions = DEFAULT_LOAD) -> list[float]:
    """kWh used in each wall-clock quarter-hour (00:00 … 23:45) of ``day``; sums to its total."""
    weekend = day.weekday() >= 5
    weights = assumptions.weekend_hourly_weights if weekend else assumptions.weekday_hourly_weights
    per_weight = assumptions.daily_kwh(day.month) / sum(weights) / SLOTS_PER_HOUR
    return [weights[slot // SLOTS_PER_HOUR] * per_weight for slot in range(SLOTS_PER_DAY)]

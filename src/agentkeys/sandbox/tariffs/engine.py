"""Price 15-minute energy under a rate plan: bills for whole days, and price signals for instants.

Pure: no I/O. Usage and export arrive as one list of 96 quarter-hour values per local day. Each
value is the energy of that wall-clock quarter-hour (00:00, 00:15, … 23:45 local), which is how
the 96-slot day is defined; the period is looked up by that wall-clock time, so a time-of-use
window such as 16:00-21:00 is honoured on daylight-saving days too. Price signals start from
real instants (UTC) and convert each to local time, so a daylight-saving day has 92 or 100 of
them. Slots are looked up in the plan's day tables (``RatePlan.day_table``), built when the
catalog loads.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from agentkeys.sandbox.money import cents
from agentkeys.sandbox.tariffs.model import SLOT_MINUTES, RatePlan, SlotKey

QUARTER_HOUR = timedelta(minutes=SLOT_MINUTES)


class ChargeKind(StrEnum):
    FIXED = "fixed"
    ENERGY = "energy"
    EXPORT_CREDIT = "export_credit"


@dataclass(frozen=True, slots=True)
class ChargeLine:
    """One line of a bill: what was charged (or credited), for how much energy, at what rate."""

    kind: ChargeKind
    description: str
    season: str | None
    period: str | None
    kwh: float
    rate: float
    amount: float


@dataclass(frozen=True, slots=True)
class Bill:
    start: date
    end: date  # exclusive
    days: int
    import_kwh: float
    export_kwh: float
    fixed_charges: float
    energy_charges: float
    export_credit: float
    total: float
    lines: tuple[ChargeLine, ...]


@dataclass(frozen=True, slots=True)
class PricePoint:
    start: datetime  # UTC
    import_price: float
    export_price: float
    season: str
    period: str


def days_of(start: date, count: int) -> Iterator[date]:
    for offset in range(count):
        yield start + timedelta(days=offset)


def compute_bill(
    plan: RatePlan,
    *,
    start: date,
    usage: Sequence[Sequence[float]],
    export: Sequence[Sequence[float]] | None = None,
) -> Bill:
    """Bill the days ``start`` … ``start + len(usage) - 1`` (each a list of 96 kWh values)."""
    energy: dict[SlotKey, float] = {}
    credited: dict[SlotKey, float] = {}
    season_days: dict[str, int] = {}
    fixed = 0.0
    exports: Sequence[Sequence[float] | None] = export or [None] * len(usage)
    for day, day_usage, day_export in zip(days_of(start, len(usage)), usage, exports, strict=True):
        fixed += plan.fixed_monthly_charge / calendar.monthrange(day.year, day.month)[1]
        season_days[plan.season_of(day.month)] = season_days.get(plan.season_of(day.month), 0) + 1
        for key, first, end in plan.day_table(day).runs:
            _add_run(energy, key, day_usage, first, end)
            if day_export is not None:
                _add_run(credited, key, day_export, first, end)

    lines: list[ChargeLine] = []
    if plan.fixed_monthly_charge:
        lines.append(
            ChargeLine(
                ChargeKind.FIXED,
                "Fixed customer charge",
                None,
                None,
                0.0,
                plan.fixed_monthly_charge,
                cents(fixed),
            )
        )
    lines.extend(_energy_lines(plan, energy, season_days))
    for (season, period), kwh in sorted(credited.items()):
        rate = plan.export_price(season, period)
        if kwh and rate:
            lines.append(
                ChargeLine(
                    ChargeKind.EXPORT_CREDIT,
                    f"Export credit, {season} {period}",
                    season,
                    period,
                    kwh,
                    rate,
                    cents(-kwh * rate),
                )
            )
    fixed_total = sum(line.amount for line in lines if line.kind is ChargeKind.FIXED)
    energy_total = sum(line.amount for line in lines if line.kind is ChargeKind.ENERGY)
    credit_total = sum(line.amount for line in lines if line.kind is ChargeKind.EXPORT_CREDIT)
    return Bill(
        start=start,
        end=start + timedelta(days=len(usage)),
        days=len(usage),
        import_kwh=sum(energy.values()),
        export_kwh=sum(credited.values()),
        fixed_charges=cents(fixed_total),
        energy_charges=cents(energy_total),
        export_credit=cents(credit_total),
        total=cents(fixed_total + energy_total + credit_total),
        lines=tuple(lines),
    )


def _add_run(
    totals: dict[SlotKey, float], key: SlotKey, values: Sequence[float], first: int, end: int
) -> None:
    """Add ``values[first:end]`` to ``totals[key]`` one by one, in slot order.

    The same additions in the same order as slot by slot, so every total is the same float to
    the last bit (``sum`` may add differently: compensated on Python 3.12+).
    """
    total = totals.get(key, 0.0)
    for slot in range(first, end):
        total += values[slot]
    totals[key] = total


def _energy_lines(
    plan: RatePlan, energy: dict[SlotKey, float], season_days: dict[str, int]
) -> Iterator[ChargeLine]:
    if plan.tiers is None:
        for (season, period), kwh in sorted(energy.items()):
            rate = plan.energy_price(season, period)
            yield ChargeLine(
                ChargeKind.ENERGY,
                f"Energy, {season} {period}",
                season,
                period,
                kwh,
                rate,
                cents(kwh * rate),
            )
        return
    for season, days in sorted(season_days.items()):
        remaining = sum(kwh for (s, _), kwh in energy.items() if s == season)
        for number, tier in enumerate(plan.tiers[season], start=1):
            allowance = None if tier.up_to_kwh_per_day is None else tier.up_to_kwh_per_day * days
            kwh = remaining if allowance is None else min(remaining, allowance)
            remaining -= kwh
            if kwh or number == 1:
                yield ChargeLine(
                    ChargeKind.ENERGY,
                    f"Energy, {season} tier {number}",
                    season,
                    f"tier_{number}",
                    kwh,
                    tier.price,
                    cents(kwh * tier.price),
                )


def day_prices(plan: RatePlan, day: date) -> tuple[list[float], list[float]]:
    """Marginal import and export $/kWh of each of the 96 wall-clock quarter-hours of a day."""
    table = plan.day_table(day)
    return list(table.import_prices), list(table.export_prices)


def price_signal(
    plan: RatePlan, *, timezone: ZoneInfo, start: datetime, end: datetime
) -> list[PricePoint]:
    """Import and export prices of every quarter-hour from ``start`` (inclusive) to ``end``."""
    points = []
    instant = start.astimezone(UTC)
    while instant < end:
        local = instant.astimezone(timezone)
        table = plan.day_table(local.date())
        slot = (local.hour * 60 + local.minute) // SLOT_MINUTES
        season, period = table.keys[slot]
        points.append(
            PricePoint(
                start=instant,
                import_price=table.import_prices[slot],
                export_price=table.export_prices[slot],
                season=season,
                period=period,
            )
        )
        instant += QUARTER_HOUR
    return points

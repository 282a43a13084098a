"""Price 15-minute energy under a rate plan: bills for whole days, and price signals for instants.

Pure: no I/O. Usage and export arrive as one list of 96 quarter-hour values per local day. Each
value is the energy of that wall-clock quarter-hour (00:00, 00:15, … 23:45 local), which is how
the 96-slot day is defined; the period is looked up by that wall-clock time, so a time-of-use
window such as 16:00-21:00 is honoured on daylight-saving days too. Price signals start from
real instants (UTC) and convert each to local time, so a daylight-saving day has 92 or 100 of
them. Slots are looked up in the plan's day tables (``RatePlan.day_table``, built on first use;
a plan's holidays are priced as weekend days there).

How a bill is priced (the semantics of NREL SAM's ``Utilityrate5``, the oracle the tests use):

- A bill covers whole days, split into calendar-month *segments* (a bill from 20 May to 10 June
  has a 12-day May segment and a 10-day June segment). Tiers, fixed charges and the minimum
  charge are worked out per segment, then each line adds its segments up.
- Tier allowances: a ``tierUnit: month`` limit allows ``maxKwh x segment days / days in the
  month`` (a whole month: exactly ``maxKwh``); a ``tierUnit: day`` limit allows ``maxKwh x
  segment days`` (SAM's "kWh daily" x days in the month).
- Tiers count the segment's *total* imported kWh, across all periods. Each period's kWh is split
  across tiers in the proportions of that total: with the period's own limits, the share of the
  total falling in tier *t* is ``(min(total, upper_t) - min(total, upper_t-1)) / total``, and the
  period's kWh x that share is priced at the period's tier *t* price. Two periods of 372 kWh
  each and one 400 kWh tier limit: 744 kWh in all, 400 of them in tier 1, so each period puts
  200 kWh in tier 1 and 172 in tier 2 (SAM: $598.40 at 0.55/1.10 $/kWh, where limits counted
  per period would give $409.20). A plan with one period has ordinary tiers.
- Fixed charges: ``per: month`` charges ``amount x segment days / days in the month`` (a whole
  month: exactly ``amount``); ``per: day`` charges ``amount x days``. Each charge is one line.
- Minimum charge: per segment, the least its energy and fixed charges (before export credits,
  as SAM's ``ur_monthly_min_charge``) may come to: ``amount`` prorated like a fixed charge
  (``per: month``) or ``amount x days`` (``per: day``). A segment below it gets a
  ``minimum_charge`` line for the difference.
- Exports are credited slot by slot at ``RatePlan.export_price`` of the slot's period (retail:
  the first tier's import price; sell: the period's sell price; fixed; none), outside the tiers.
- Lines: energy per (season, period, tier); export credit per (season, period); fixed per
  charge; minimum per segment that needs it. Every line's amount is rounded to the cent and
  totals add rounded lines, so a bill adds up to the cent. A tiered period's tier 1 line, and
  every period's line of an untiered plan, is shown even at 0 kWh; higher tiers only when used.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from agentkeys.sandbox.money import cents
from agentkeys.sandbox.tariffs.model import SLOT_MINUTES, ChargePer, RatePlan

QUARTER_HOUR = timedelta(minutes=SLOT_MINUTES)

# (season, period index): what slots are added up under, bill-wide.
_PeriodKey = tuple[str, int]


class ChargeKind(StrEnum):
    FIXED = "fixed"
    ENERGY = "energy"
    EXPORT_CREDIT = "export_credit"
    MINIMUM = "minimum_charge"


@dataclass(frozen=True, slots=True)
class ChargeLine:
    """One line of a bill: what was charged (or credited), for how much energy, at what rate.

    ``rate`` is $/kWh for energy and export credit, $ per month or per day (as the plan says)
    for fixed and minimum charges. ``tier`` is 1, 2, … on energy lines of a tiered period.
    """

    kind: ChargeKind
    description: str
    season: str | None
    period: str | None
    kwh: float
    rate: float
    amount: float
    tier: int | None = None


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
    minimum_charges: float
    total: float
    lines: tuple[ChargeLine, ...]


@dataclass(frozen=True, slots=True)
class PricePoint:
    start: datetime  # UTC
    import_price: float
    export_price: float
    season: str
    period: str


@dataclass(slots=True)
class _Segment:
    """The days of a bill in one calendar month, and their kWh per period."""

    year: int
    month: int
    season: str
    days: int = 0
    # Period index → kWh imported in the segment (set by ``close``, at the segment's end).
    imported: dict[int, float] = field(default_factory=dict)

    @property
    def days_in_month(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    def share(self, amount: float, per: ChargePer) -> float:
        """``amount`` per month prorated by day, or per day times the days."""
        if per == "day":
            return amount * self.days
        if self.days == self.days_in_month:
            return amount
        return amount * self.days / self.days_in_month

    def close(self, totals: dict[_PeriodKey, float], before: dict[_PeriodKey, float]) -> None:
        """Set the kWh of each period the segment used: its total now less its total before."""
        for index in self.imported:
            key = (self.season, index)
            self.imported[index] = totals[key] - before.get(key, 0.0)


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
    segments, imported, exported = _add_days(plan, start=start, usage=usage, export=export)

    energy_kwh: dict[tuple[str, int, int], float] = {}
    segment_costs: list[float] = []
    for segment in segments:
        energy_cost = 0.0
        for (index, tier), kwh in _tiered(plan, segment).items():
            key = (segment.season, index, tier)
            energy_kwh[key] = energy_kwh.get(key, 0.0) + kwh
            energy_cost += kwh * plan.periods[index].tiers[tier].price
        fixed_cost = sum(segment.share(c.amount, c.per) for c in plan.fixed_charges)
        segment_costs.append(energy_cost + fixed_cost)

    lines = [
        *_fixed_lines(plan, segments),
        *_energy_lines(plan, imported, energy_kwh),
        *_export_lines(plan, exported),
        *_minimum_lines(plan, segments, segment_costs),
    ]

    def total_of(kind: ChargeKind) -> float:
        return sum(line.amount for line in lines if line.kind is kind)

    return Bill(
        start=start,
        end=start + timedelta(days=len(usage)),
        days=len(usage),
        import_kwh=sum(imported.values()),
        export_kwh=sum(exported.values()),
        fixed_charges=cents(total_of(ChargeKind.FIXED)),
        energy_charges=cents(total_of(ChargeKind.ENERGY)),
        export_credit=cents(total_of(ChargeKind.EXPORT_CREDIT)),
        minimum_charges=cents(total_of(ChargeKind.MINIMUM)),
        total=cents(sum(line.amount for line in lines)),
        lines=tuple(lines),
    )


def _add_days(
    plan: RatePlan,
    *,
    start: date,
    usage: Sequence[Sequence[float]],
    export: Sequence[Sequence[float]] | None,
) -> tuple[list[_Segment], dict[_PeriodKey, float], dict[_PeriodKey, float]]:
    """Add every slot to its period's bill-wide totals (imported, exported), and cut the days
    into month segments.

    A segment's kWh of a period is the bill-wide total at its end minus the total at its start:
    one pass of additions, and the bill-wide totals stay the slot-by-slot sums to the last bit.
    """
    segments: list[_Segment] = []
    imported: dict[_PeriodKey, float] = {}
    exported: dict[_PeriodKey, float] = {}
    before: dict[_PeriodKey, float] = {}
    exports: Sequence[Sequence[float] | None] = export or [None] * len(usage)
    for day, day_usage, day_export in zip(days_of(start, len(usage)), usage, exports, strict=True):
        if not segments or (segments[-1].year, segments[-1].month) != (day.year, day.month):
            if segments:
                segments[-1].close(imported, before)
            segments.append(_Segment(day.year, day.month, plan.season_of(day.month)))
            before = dict(imported)
        segment = segments[-1]
        segment.days += 1
        for index, first, end in plan.day_table(day).runs:
            key = (segment.season, index)
            segment.imported[index] = 0.0
            _add_run(imported, key, day_usage, first, end)
            if day_export is not None:
                _add_run(exported, key, day_export, first, end)
    if segments:
        segments[-1].close(imported, before)
    return segments, imported, exported


def _add_run(
    totals: dict[_PeriodKey, float],
    key: _PeriodKey,
    values: Sequence[float],
    first: int,
    end: int,
) -> None:
    """Add ``values[first:end]`` to ``totals[key]`` one by one, in slot order.

    The same additions in the same order as slot by slot, so every total is the same float to
    the last bit (``sum`` may add differently: compensated on Python 3.12+).
    """
    total = totals.get(key, 0.0)
    for slot in range(first, end):
        total += values[slot]
    totals[key] = total


def _tiered(plan: RatePlan, segment: _Segment) -> dict[tuple[int, int], float]:
    """kWh of each (period index, tier index) of a segment, by SAM's pro-rata rule."""
    total = sum(segment.imported.values())
    scale = segment.share(1.0, plan.tier_unit)
    found: dict[tuple[int, int], float] = {}
    for index, kwh in segment.imported.items():
        tiers = plan.periods[index].tiers
        if len(tiers) == 1 or total <= 0:
            found[index, 0] = kwh
            continue
        # The share of the total in each tier, times kwh / total: 1.0 when one period holds
        # the whole total, so a one-period plan's tiers are exactly the allowances.
        part = kwh / total
        lower = 0.0
        for number, tier in enumerate(tiers):
            upper = total if tier.max_kwh is None else min(total, tier.max_kwh * scale)
            found[index, number] = (upper - lower) * part
            lower = upper
    return found


def _fixed_lines(plan: RatePlan, segments: list[_Segment]) -> Iterator[ChargeLine]:
    for charge in plan.fixed_charges:
        if charge.amount:
            amount = sum(segment.share(charge.amount, charge.per) for segment in segments)
            suffix = " (per day)" if charge.per == "day" else ""
            description = f"{charge.name or 'Fixed charge'}{suffix}"
            yield ChargeLine(
                ChargeKind.FIXED, description, None, None, 0.0, charge.amount, cents(amount)
            )


def _energy_lines(
    plan: RatePlan,
    imported: dict[_PeriodKey, float],
    energy_kwh: dict[tuple[str, int, int], float],
) -> Iterator[ChargeLine]:
    """Lines in the order seasons first appear in the bill, then by period and tier."""
    seasons = list(dict.fromkeys(season for season, _ in imported))
    for season in seasons:
        for index in sorted(i for s, i in imported if s == season):
            period = plan.periods[index]
            tiered = len(period.tiers) > 1
            for number, tier in enumerate(period.tiers):
                kwh = energy_kwh.get((season, index, number), 0.0)
                if number and not kwh:
                    continue
                if not tiered:
                    # The bill-wide slot-by-slot sum: the same float as a reader's.
                    kwh = imported[season, index]
                label = f", tier {number + 1}" if tiered else ""
                yield ChargeLine(
                    ChargeKind.ENERGY,
                    f"Energy, {season} {period.name}{label}",
                    season,
                    period.name,
                    kwh,
                    tier.price,
                    cents(kwh * tier.price),
                    number + 1 if tiered else None,
                )


def _export_lines(plan: RatePlan, exported: dict[_PeriodKey, float]) -> Iterator[ChargeLine]:
    seasons = list(dict.fromkeys(season for season, _ in exported))
    for season in seasons:
        for index in sorted(i for s, i in exported if s == season):
            kwh = exported[season, index]
            rate = plan.export_price(index)
            if kwh and rate:
                name = plan.periods[index].name
                yield ChargeLine(
                    ChargeKind.EXPORT_CREDIT,
                    f"Export credit, {season} {name}",
                    season,
                    name,
                    kwh,
                    rate,
                    cents(-kwh * rate),
                )


def _minimum_lines(
    plan: RatePlan, segments: list[_Segment], costs: list[float]
) -> Iterator[ChargeLine]:
    minimum = plan.minimum_charge
    if minimum is None:
        return
    for segment, cost in zip(segments, costs, strict=True):
        least = segment.share(minimum.amount, minimum.per)
        if cost < least:
            month = f"{calendar.month_name[segment.month]} {segment.year}"
            yield ChargeLine(
                ChargeKind.MINIMUM,
                f"Minimum charge, {month}",
                segment.season,
                None,
                0.0,
                minimum.amount,
                cents(least - cost),
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

"""The loads an impact bills when the client sends none, and both bills of an impact. Pure.

A *meter profile* is what a bill prices: per local day, 96 quarter-hour kWh imported and
(optionally) exported. The typical home is the battery estimate's (``battery/load.py``); solar is
netted slot by slot: import = max(load - production, 0), and the surplus,
max(production - load, 0), is exported on top of any export already sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from agentkeys.sandbox.battery.load import quarter_hour_load_kwh
from agentkeys.sandbox.battery.solar import quarter_hour_solar_kwh
from agentkeys.sandbox.tariffs.engine import Bill, compute_bill, days_of
from agentkeys.sandbox.tariffs.model import RatePlan

Days = Sequence[Sequence[float]]


@dataclass(frozen=True, slots=True)
class MeterProfile:
    usage: Days
    export: Days | None = None


@dataclass(frozen=True, slots=True)
class SolarSite:
    """A PV array at a place: what a solar profile needs."""

    capacity_kw: float
    latitude: float
    longitude: float
    timezone: str


@dataclass(frozen=True, slots=True)
class Scenario:
    """What to bill: ``None`` baseline is the typical home; ``None`` modified is the baseline
    with ``solar`` netted out (the service makes sure one of the two is set)."""

    baseline: MeterProfile | None
    modified: MeterProfile | None
    solar: SolarSite | None


@dataclass(frozen=True, slots=True)
class ImpactBills:
    baseline: Bill
    modified: Bill


def typical_usage(*, start: date, days: int) -> list[list[float]]:
    """The typical home's quarter-hour load for each day from ``start`` (battery/load.py)."""
    return [quarter_hour_load_kwh(day=day) for day in days_of(start, days)]


def solar_production(site: SolarSite, *, start: date, days: int) -> list[list[float]]:
    """Quarter-hour production of the array for each local day from ``start``."""
    return [
        quarter_hour_solar_kwh(
            capacity_kw=site.capacity_kw,
            latitude=site.latitude,
            longitude=site.longitude,
            timezone=site.timezone,
            day=day,
        )
        for day in days_of(start, days)
    ]


def with_solar(profile: MeterProfile, production: Days) -> MeterProfile:
    """``profile`` as the meter would see it with ``production`` behind it."""
    exports: Days = profile.export or [[0.0] * len(day) for day in profile.usage]
    usage: list[list[float]] = []
    export: list[list[float]] = []
    for day_usage, day_export, day_solar in zip(profile.usage, exports, production, strict=True):
        usage.append([max(load - pv, 0.0) for load, pv in zip(day_usage, day_solar, strict=True)])
        export.append(
            [
                sent + max(pv - load, 0.0)
                for load, sent, pv in zip(day_usage, day_export, day_solar, strict=True)
            ]
        )
    return MeterProfile(usage=usage, export=export)


def bill_scenario(plan: RatePlan, *, start: date, days: int, scenario: Scenario) -> ImpactBills:
    """Both bills of an impact (CPU work: the caller runs it off the event loop)."""
    baseline = scenario.baseline or MeterProfile(usage=typical_usage(start=start, days=days))
    modified = scenario.modified
    if modified is None:
        if scenario.solar is None:
            raise ValueError("a scenario without a modified profile needs solar")
        modified = with_solar(baseline, solar_production(scenario.solar, start=start, days=days))
    return ImpactBills(
        baseline=compute_bill(plan, start=start, usage=baseline.usage, export=baseline.export),
        modified=compute_bill(plan, start=start, usage=modified.usage, export=modified.export),
    )

"""Rate plans and utilities as the catalog describes them, validated when loaded.

A plan is shaped like a U.S. Utility Rate Database (URDB) tariff, which every source of the
catalog is: energy *periods*, each with one or more *tiers*, and two 12 x 24 schedules (weekday,
weekend) naming the period of every hour of every month. A tier's price is the whole $/kWh
(URDB's ``rate + adj``); tier limits count kWh per month or per day (``tierUnit``). Holidays a plan
names are priced as weekend days. Fixed charges are per month (prorated by day) or per day; a
minimum charge, when given, is the least a month's bill may come to.

The 96-slot day is defined here (``SLOTS_PER_DAY``, ``SLOT_HOURS``): slot *i* is the wall-clock
quarter-hour starting at *i* x 15 minutes after local midnight. A plan's slots depend only on the
month and on whether the day is a weekday (holidays count as weekend days), so a plan has 24 kinds
of day; each is built the first time a bill or price signal asks for it (``day_table``) and kept,
so loading the catalog (about 1,300 plans) costs no table building.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from agentkeys.sandbox.tariffs.holidays import HolidayName, holiday_dates

RATE_PLAN_ID_PATTERN = r"^[0-9a-f]{24}$"
ALL_MONTHS = tuple(range(1, 13))

SLOT_MINUTES = 15
SLOTS_PER_HOUR = 60 // SLOT_MINUTES
SLOTS_PER_DAY = 24 * SLOTS_PER_HOUR
SLOT_HOURS = SLOT_MINUTES / 60

PlanType = Literal["tou", "tiered", "flat"]
DataSource = Literal["ratebook", "urdb", "eia-average"]
TierUnit = Literal["month", "day"]
ChargePer = Literal["month", "day"]
ExportCreditType = Literal["retail", "sell", "fixed", "none"]
# (season, period name) of a slot.
SlotKey = tuple[str, str]
# One month of a schedule: 24 characters, the period index (0-9) of each local hour.
ScheduleRow = Annotated[str, Field(pattern=r"^[0-9]{24}$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Source(_Frozen):
    url: str
    title: str
    what: str | None = None


class Tier(_Frozen):
    """$/kWh up to ``maxKwh`` (counted per month or per day, by the plan's ``tierUnit``)."""

    price: float
    max_kwh: float | None = Field(default=None, alias="maxKwh", gt=0)
    # $/kWh credited for exports priced in this tier (plans with ``exportCredit.type: sell``).
    sell: float | None = Field(default=None, ge=0)


class Period(_Frozen):
    name: str = Field(min_length=1)
    tiers: tuple[Tier, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _tiers_end_unbounded(self) -> Period:
        limits = [tier.max_kwh for tier in self.tiers]
        if limits[-1] is not None or None in limits[:-1]:
            raise ValueError(f"period {self.name!r}: only the last tier is unbounded")
        bounded = [limit for limit in limits if limit is not None]
        if bounded != sorted(set(bounded)):
            raise ValueError(f"period {self.name!r}: tier limits must increase")
        return self


class FixedCharge(_Frozen):
    name: str
    amount: float = Field(ge=0)
    per: ChargePer


class MinimumCharge(_Frozen):
    amount: float = Field(gt=0)
    per: ChargePer


class HolidayRule(_Frozen):
    """Days priced as weekend days; ``observed`` moves a weekend holiday to Friday/Monday too."""

    days: tuple[HolidayName, ...] = Field(min_length=1)
    observed: bool = False


class ExportCredit(_Frozen):
    """How exported kWh are credited.

    ``retail``: at the slot's import price (first tier); ``sell``: at the slot's period's first
    tier ``sell`` price; ``fixed``: at ``pricePerKwh``; ``none``: not credited.
    """

    type: ExportCreditType
    price_per_kwh: float | None = Field(default=None, alias="pricePerKwh", ge=0)

    @model_validator(mode="after")
    def _fixed_has_a_price(self) -> ExportCredit:
        if (self.type == "fixed") != (self.price_per_kwh is not None):
            raise ValueError("a fixed export credit needs pricePerKwh, and only it")
        return self


class RatePlan(_Frozen):
    id: Annotated[str, Field(pattern=RATE_PLAN_ID_PATTERN)]
    rate_id: str = Field(alias="rateID")
    name: str = Field(alias="ratePlanName")
    supported_type: PlanType = Field(alias="supportedType")
    description: str
    # Provenance: where every number comes from, how old it is, what was simplified.
    data_source: DataSource = Field(alias="dataSource")
    source: str = Field(description="URL of the record the plan was built from.")
    sources: tuple[Source, ...] = ()
    effective_date: date | None = Field(alias="effectiveDate")
    end_date: date | None = Field(default=None, alias="endDate")
    last_verified: date | None = Field(default=None, alias="lastVerified")
    stale: bool = False
    simplifications: tuple[str, ...] = ()
    notes: str = ""
    # Prices.
    seasons: dict[str, tuple[int, ...]]
    periods: tuple[Period, ...] = Field(min_length=1, max_length=10)
    tier_unit: TierUnit = Field(default="month", alias="tierUnit")
    weekday_schedule: tuple[ScheduleRow, ...] = Field(alias="weekdaySchedule")
    weekend_schedule: tuple[ScheduleRow, ...] = Field(alias="weekendSchedule")
    holidays: HolidayRule | None = None
    fixed_charges: tuple[FixedCharge, ...] = Field(default=(), alias="fixedCharges")
    minimum_charge: MinimumCharge | None = Field(default=None, alias="minimumCharge")
    export_credit: ExportCredit = Field(alias="exportCredit")
    # (month, weekend) → that kind of day's slots, built on first use by ``day_table``.
    _days: dict[tuple[int, bool], DayTable] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _coherent(self) -> RatePlan:
        months = sorted(month for season in self.seasons.values() for month in season)
        if months != list(ALL_MONTHS):
            raise ValueError(f"plan {self.id}: every month must belong to exactly one season")
        for name, schedule in (
            ("weekday", self.weekday_schedule),
            ("weekend", self.weekend_schedule),
        ):
            if len(schedule) != 12:
                raise ValueError(f"plan {self.id}: the {name} schedule needs 12 months")
            used = {int(char) for row in schedule for char in row}
            if max(used) >= len(self.periods):
                raise ValueError(f"plan {self.id}: the {name} schedule names a missing period")
        if self.export_credit.type == "sell" and any(
            period.tiers[0].sell is None for period in self.periods
        ):
            raise ValueError(f"plan {self.id}: a sell export credit needs every period's sell")
        return self

    @cached_property
    def _season_of_month(self) -> dict[int, str]:
        return {month: name for name, months in self.seasons.items() for month in months}

    def season_of(self, month: int) -> str:
        return self._season_of_month[month]

    def period_index(self, month: int, hour: int, *, weekend: bool) -> int:
        """Index into ``periods`` of a local hour of a month, by day type."""
        schedule = self.weekend_schedule if weekend else self.weekday_schedule
        return int(schedule[month - 1][hour])

    def is_priced_as_weekend(self, day: date) -> bool:
        """Saturdays, Sundays and the plan's holidays (observed days included, if it says so)."""
        if day.weekday() >= 5:
            return True
        rule = self.holidays
        return rule is not None and day in holiday_dates(
            rule.days, day.year, observed=rule.observed
        )

    def day_table(self, day: date) -> DayTable:
        """The slots of a local day: their (season, period) and prices, by wall clock."""
        kind = (day.month, self.is_priced_as_weekend(day))
        table = self._days.get(kind)
        if table is None:
            table = self._days[kind] = self._day_table(*kind)
        return table

    def _day_table(self, month: int, weekend: bool) -> DayTable:
        season = self.season_of(month)
        indexes = tuple(
            self.period_index(month, slot // SLOTS_PER_HOUR, weekend=weekend)
            for slot in range(SLOTS_PER_DAY)
        )
        keys = tuple((season, self.periods[index].name) for index in indexes)
        runs: list[tuple[int, int, int]] = []
        for slot, index in enumerate(indexes):
            if runs and runs[-1][0] == index:
                runs[-1] = (index, runs[-1][1], slot + 1)
            else:
                runs.append((index, slot, slot + 1))
        return DayTable(
            keys=keys,
            period_indexes=indexes,
            runs=tuple(runs),
            import_prices=tuple(self.marginal_import_price(index) for index in indexes),
            export_prices=tuple(self.export_price(index) for index in indexes),
        )

    def period_at(self, local: datetime) -> SlotKey:
        """(season, period) of a local wall-clock instant (the slot it falls in)."""
        slot = (local.hour * 60 + local.minute) // SLOT_MINUTES
        return self.day_table(local.date()).keys[slot]

    def period_at_slot(self, day: date, slot: int) -> SlotKey:
        """(season, period) of quarter-hour ``slot`` (0-95) of a local day, by wall clock."""
        return self.day_table(day).keys[slot]

    def marginal_import_price(self, period: int) -> float:
        """$/kWh of one more kWh imported in a period: its first tier (documented
        simplification for price signals: the tier reached depends on the whole bill)."""
        return self.periods[period].tiers[0].price

    def export_price(self, period: int) -> float:
        """$/kWh credited for a kWh exported in a period, by the plan's export rule."""
        credit = self.export_credit
        if credit.type == "none":
            return 0.0
        if credit.type == "fixed":
            assert credit.price_per_kwh is not None  # noqa: S101 - the model guarantees it
            return credit.price_per_kwh
        if credit.type == "sell":
            sell = self.periods[period].tiers[0].sell
            assert sell is not None  # noqa: S101 - the model guarantees it
            return sell
        return self.marginal_import_price(period)


@dataclass(frozen=True, slots=True)
class DayTable:
    """One kind of local day of a plan (a month; weekday or weekend), slot by slot."""

    keys: tuple[SlotKey, ...]  # (season, period name) of each of the 96 slots
    period_indexes: tuple[int, ...]  # index into ``RatePlan.periods`` of each slot
    runs: tuple[tuple[int, int, int], ...]  # consecutive slots of one period: (index, start, end)
    import_prices: tuple[float, ...]  # marginal $/kWh of each slot
    export_prices: tuple[float, ...]  # $/kWh credited in each slot


class Utility(_Frozen):
    """A utility (``utilityId`` is its EIA id) with the plans the catalog can price for it."""

    utility_id: str = Field(alias="utilityId", pattern=r"^[0-9]{1,7}$")
    utility_name: str = Field(alias="utilityName")
    state: str = Field(pattern=r"^[A-Z]{2}$")
    rate_plans: tuple[RatePlan, ...] = Field(alias="ratePlans", min_length=1)


class Catalog(_Frozen):
    catalog_version: str = Field(alias="catalogVersion")
    utilities: tuple[Utility, ...] = Field(min_length=1)
    # Ids the sandbox once answered for plans now known by their URDB label: old id → new id.
    legacy_ids: dict[str, str] = Field(default_factory=dict, alias="legacyIds")

    @model_validator(mode="after")
    def _unique_ids(self) -> Catalog:
        plan_ids = [plan.id for utility in self.utilities for plan in utility.rate_plans]
        if len(plan_ids) != len(set(plan_ids)):
            raise ValueError("rate plan ids must be unique")
        utility_ids = [utility.utility_id for utility in self.utilities]
        if len(utility_ids) != len(set(utility_ids)):
            raise ValueError("utility ids must be unique")
        if not set(self.legacy_ids.values()) <= set(plan_ids):
            raise ValueError("every legacy id must name a plan of the catalog")
        return self

    @cached_property
    def _plans(self) -> dict[str, tuple[Utility, RatePlan]]:
        found = {plan.id: (u, plan) for u in self.utilities for plan in u.rate_plans}
        for old, new in self.legacy_ids.items():
            found[old] = found[new]
        return found

    @cached_property
    def _utilities(self) -> dict[str, Utility]:
        return {utility.utility_id: utility for utility in self.utilities}

    def plan(self, rate_plan_id: str) -> tuple[Utility, RatePlan] | None:
        """The plan of an id (a legacy id answers the plan it became), and its utility."""
        return self._plans.get(rate_plan_id)

    def utility(self, utility_id: str) -> Utility | None:
        return self._utilities.get(utility_id)

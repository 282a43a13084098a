"""Rate plans and utilities as the catalog describes them, validated when loaded.

A plan maps every local wall-clock quarter-hour to a season (by month) and a period (by time of
day and day type), and prices energy per (season, period) or, for tiered plans, per tier of the
energy used so far in the bill. Exports are credited by the plan's export rule.

The 96-slot day is defined here (``SLOTS_PER_DAY``, ``SLOT_HOURS``): slot *i* is the wall-clock
quarter-hour starting at *i* x 15 minutes after local midnight. A plan's slots depend only on the
month (its season) and on whether the day is a weekday, so each plan builds its 24 day tables
(12 months x weekday/weekend: the (season, period) and the prices of every slot) once, when it is
validated; bills and price signals look slots up instead of reading "HH:MM" windows again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

RATE_PLAN_ID_PATTERN = r"^[0-9a-f]{24}$"
ALL_MONTHS = tuple(range(1, 13))

SLOT_MINUTES = 15
SLOTS_PER_HOUR = 60 // SLOT_MINUTES
SLOTS_PER_DAY = 24 * SLOTS_PER_HOUR
SLOT_HOURS = SLOT_MINUTES / 60

PlanType = Literal["tou", "tiered", "flat"]
DayType = Literal["all", "weekdays", "weekends"]
ExportCreditType = Literal["retail", "fixed", "none"]
# (season, period) of a slot; tiered plans' energy lines name their periods tier_1, tier_2, …
SlotKey = tuple[str, str]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Source(_Frozen):
    url: str
    title: str
    what: str | None = None


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    value = int(hours) * 60 + int(minutes)
    if not 0 <= value <= 24 * 60 or int(minutes) >= 60:
        raise ValueError(f"{text!r} is not a time of day (HH:MM, up to 24:00)")
    if value % SLOT_MINUTES:
        raise ValueError(f"{text!r} is not on a quarter-hour: periods are made of whole slots")
    return value


class PeriodWindow(_Frozen):
    """A period in local wall-clock time, [start, end), on some days of some seasons."""

    name: str
    days: DayType
    start: str
    end: str
    seasons: tuple[str, ...]

    @property
    def start_minute(self) -> int:
        return _minutes(self.start)

    @property
    def end_minute(self) -> int:
        return _minutes(self.end)

    @model_validator(mode="after")
    def _window_is_forward(self) -> PeriodWindow:
        if not self.start_minute < self.end_minute:
            raise ValueError(f"period {self.name!r} must start before it ends")
        return self

    def covers(self, *, season: str, weekday: int, minute: int) -> bool:
        if season not in self.seasons:
            return False
        if self.days == "weekdays" and weekday >= 5:
            return False
        if self.days == "weekends" and weekday < 5:
            return False
        return self.start_minute <= minute < self.end_minute


class Tier(_Frozen):
    up_to_kwh_per_day: float | None = Field(alias="upToKwhPerDay", gt=0)
    price: float


class ExportCredit(_Frozen):
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
    effective_date: date = Field(alias="effectiveDate")
    sources: tuple[Source, ...] = Field(min_length=1)
    notes: str = ""
    fixed_monthly_charge: float = Field(alias="fixedMonthlyCharge", ge=0)
    seasons: dict[str, tuple[int, ...]]
    periods: tuple[PeriodWindow, ...] = ()
    default_period: str = Field(alias="defaultPeriod")
    energy_prices: dict[str, dict[str, float]] = Field(alias="energyPrices")
    tiers: dict[str, tuple[Tier, ...]] | None = None
    export_credit: ExportCredit = Field(alias="exportCredit")
    # (month, weekend) → that day's slots, built once by ``_coherent``.
    _days: dict[tuple[int, bool], DayTable] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _coherent(self) -> RatePlan:
        months = [month for season in self.seasons.values() for month in season]
        if sorted(months) != list(ALL_MONTHS):
            raise ValueError(f"plan {self.id}: every month must belong to exactly one season")
        for season in self.seasons:
            names = {w.name for w in self.periods if season in w.seasons} | {self.default_period}
            missing = names - set(self.energy_prices.get(season, {}))
            if missing:
                raise ValueError(f"plan {self.id}: no {season} price for {sorted(missing)}")
        if (self.supported_type == "tiered") != (self.tiers is not None):
            raise ValueError(f"plan {self.id}: tiers belong to tiered plans only")
        if self.tiers is not None:
            for season in self.seasons:
                tiers = self.tiers.get(season)
                if not tiers or tiers[-1].up_to_kwh_per_day is not None:
                    raise ValueError(f"plan {self.id}: {season} tiers must end unbounded")
        self._days = {
            (month, weekend): self._day_table(month, weekday=5 if weekend else 0)
            for month in ALL_MONTHS
            for weekend in (False, True)
        }
        return self

    def _day_table(self, month: int, *, weekday: int) -> DayTable:
        season = self.season_of(month)
        keys = tuple(
            self._scan(season, weekday=weekday, minute=slot * SLOT_MINUTES)
            for slot in range(SLOTS_PER_DAY)
        )
        runs: list[tuple[SlotKey, int, int]] = []
        for slot, key in enumerate(keys):
            if runs and runs[-1][0] == key:
                runs[-1] = (key, runs[-1][1], slot + 1)
            else:
                runs.append((key, slot, slot + 1))
        return DayTable(
            keys=keys,
            runs=tuple(runs),
            import_prices=tuple(self.marginal_import_price(*key) for key in keys),
            export_prices=tuple(self.export_price(*key) for key in keys),
        )

    def _scan(self, season: str, *, weekday: int, minute: int) -> SlotKey:
        for window in self.periods:
            if window.covers(season=season, weekday=weekday, minute=minute):
                return season, window.name
        return season, self.default_period

    def season_of(self, month: int) -> str:
        return next(name for name, months in self.seasons.items() if month in months)

    def day_table(self, day: date) -> DayTable:
        """The slots of a local day: their (season, period) and prices, by wall clock."""
        return self._days[day.month, day.weekday() >= 5]

    def period_at(self, local: datetime) -> SlotKey:
        """(season, period) of a local wall-clock instant (the slot it falls in)."""
        slot = (local.hour * 60 + local.minute) // SLOT_MINUTES
        return self._days[local.month, local.weekday() >= 5].keys[slot]

    def period_at_slot(self, day: date, slot: int) -> SlotKey:
        """(season, period) of quarter-hour ``slot`` (0-95) of a local day, by wall clock."""
        return self.day_table(day).keys[slot]

    def energy_price(self, season: str, period: str) -> float:
        """$/kWh of a (season, period) energy line; tiered plans price by tier instead."""
        return self.energy_prices[season][period]

    def marginal_import_price(self, season: str, period: str) -> float:
        """$/kWh of one more kWh imported in a slot; tiered plans use their first tier
        (documented simplification: the tier reached depends on the whole bill)."""
        if self.tiers is not None:
            return self.tiers[season][0].price
        return self.energy_price(season, period)

    def export_price(self, season: str, period: str) -> float:
        """$/kWh credited for a kWh exported in a slot, by the plan's export rule."""
        credit = self.export_credit
        if credit.type == "none":
            return 0.0
        if credit.type == "fixed":
            assert credit.price_per_kwh is not None  # noqa: S101 - the model guarantees it
            return credit.price_per_kwh
        # Retail: the slot's import price (tiered plans: their first tier).
        return self.marginal_import_price(season, period)


@dataclass(frozen=True, slots=True)
class DayTable:
    """One kind of local day of a plan (a month; weekday or weekend), slot by slot."""

    keys: tuple[SlotKey, ...]  # (season, period) of each of the 96 slots
    runs: tuple[tuple[SlotKey, int, int], ...]  # consecutive slots sharing a key: [start, end)
    import_prices: tuple[float, ...]  # marginal $/kWh of each slot
    export_prices: tuple[float, ...]  # $/kWh credited in each slot


class Location(_Frozen):
    place: str
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    note: str = ""


class Utility(_Frozen):
    utility_id: str = Field(alias="utilityId")
    utility_name: str = Field(alias="utilityName")
    state: str
    timezone: str
    zip_prefixes: tuple[str, ...] = Field(alias="zipPrefixes", min_length=1)
    location: Location
    source: Source
    rate_plans: tuple[RatePlan, ...] = Field(alias="ratePlans", min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {value!r}") from error
        return value

    def serves(self, zipcode: str) -> bool:
        """Whether a 5-digit ZIP code (or a whole 3-digit prefix area) is in the territory."""
        if len(zipcode) == 3:
            return any(prefix.startswith(zipcode) for prefix in self.zip_prefixes)
        return any(zipcode.zfill(5).startswith(prefix) for prefix in self.zip_prefixes)


class Catalog(_Frozen):
    catalog_version: str = Field(alias="catalogVersion")
    utilities: tuple[Utility, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> Catalog:
        plan_ids = [plan.id for utility in self.utilities for plan in utility.rate_plans]
        if len(plan_ids) != len(set(plan_ids)):
            raise ValueError("rate plan ids must be unique")
        return self

    def plan(self, rate_plan_id: str) -> tuple[Utility, RatePlan] | None:
        for utility in self.utilities:
            for plan in utility.rate_plans:
                if plan.id == rate_plan_id:
                    return utility, plan
        return None

    def utility(self, utility_id: str) -> Utility | None:
        return next((u for u in self.utilities if u.utility_id == utility_id), None)

    def utilities_for(self, zipcode: str) -> tuple[Utility, ...]:
        """Utilities serving a ZIP code (5 digits without suffix, or a 3-digit prefix)."""
        return tuple(utility for utility in self.utilities if utility.serves(zipcode))

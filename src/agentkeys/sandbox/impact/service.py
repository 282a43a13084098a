"""Bill impacts: the bill of a baseline load and of a modified one over the same period.

For a stored home (its plan; another credential's home is 404) or for a rate plan at a ZIP code
its utility serves. Without a stored home the baseline may be the sandbox's typical home, and
the modification may be adding solar. Both bills (and any generated load or solar profile) are
computed in one piece of work in the app's CPU pool, after the database session is given back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

from agentkeys.cpu import CpuPool
from agentkeys.errors import FieldError, ValidationFailed
from agentkeys.sandbox.battery.load import DEFAULT_LOAD
from agentkeys.sandbox.battery.solar import DEFAULT_SOLAR
from agentkeys.sandbox.bills.service import (
    day_count_must_match,
    period_days,
    placed_plan,
)
from agentkeys.sandbox.geo import Geography, ZipPlace
from agentkeys.sandbox.homes.service import HomeService
from agentkeys.sandbox.impact.profiles import (
    ImpactBills,
    MeterProfile,
    Scenario,
    SolarSite,
    bill_scenario,
)
from agentkeys.sandbox.impact.schemas import (
    BaselineSource,
    HomeImpactRequestDto,
    ImpactRequestDto,
    ModifiedSource,
)
from agentkeys.sandbox.tariffs.model import Catalog, RatePlan


def solar_note(site: SolarSite, *, zipcode: str) -> str:
    """Where the solar profile comes from, in words an answer can carry."""
    model = DEFAULT_SOLAR
    return (
        f"Solar: {site.capacity_kw:g} kW DC at ZIP code {zipcode} ({site.latitude:.4f}, "
        f"{site.longitude:.4f}, {site.timezone}); {model.library}, {model.irradiance_model}; "
        f"a fixed array tilted {model.tilt_degrees:g} degrees facing azimuth "
        f"{model.azimuth_degrees:g}, {model.system_losses_percent:g}% system losses. Netted per "
        "quarter-hour: import = max(load - solar, 0); export += max(solar - load, 0)."
    )


@dataclass(frozen=True, slots=True)
class PricedImpact:
    bills: ImpactBills
    rate_plan_id: str
    baseline: BaselineSource
    modified: ModifiedSource
    solar_capacity_kw: float | None
    notes: tuple[str, ...]

    @property
    def generated_profiles(self) -> bool:
        """Whether the typical load or a solar profile was generated (the CPU work a route
        cost prices), rather than only what the client sent billed."""
        return self.baseline == "typical-home" or self.modified == "baseline-with-solar"


def _refuse(field: str, message: str) -> ValidationFailed:
    return ValidationFailed([FieldError(field, message)])


class ImpactService:
    def __init__(
        self,
        homes: HomeService,
        *,
        catalog: Catalog,
        geography: Geography,
        cpu: CpuPool,
        release_session: Callable[[], Awaitable[None]],
    ) -> None:
        self._homes = homes
        self._catalog = catalog
        self._geography = geography
        self._cpu = cpu
        self._release_session = release_session

    async def _bills(
        self, plan: RatePlan, *, start: date, days: int, scenario: Scenario
    ) -> ImpactBills:
        # Nothing more to read or write: the connection goes back to the pool before any wait.
        await self._release_session()
        return await self._cpu.run(bill_scenario, plan, start=start, days=days, scenario=scenario)

    async def home_impact(
        self, home_id: str, request: HomeImpactRequestDto, *, credential_id: str
    ) -> PricedImpact:
        """Baseline and modified bills from startDate up to, not including, endDate."""
        priced = await self._homes.priced_home(home_id, credential_id=credential_id)
        start, end = period_days(request)
        days = (end - start).days
        what = f"{start} up to {end}"
        day_count_must_match(days, len(request.usage), what)
        day_count_must_match(days, len(request.modified_usage), what, field="modifiedUsage")
        scenario = Scenario(
            baseline=MeterProfile(usage=request.usage, export=request.export),
            modified=MeterProfile(usage=request.modified_usage, export=request.modified_export),
            solar=None,
        )
        bills = await self._bills(priced.plan, start=start, days=days, scenario=scenario)
        return PricedImpact(
            bills=bills,
            rate_plan_id=priced.plan.id,
            baseline="sent",
            modified="sent",
            solar_capacity_kw=None,
            notes=_export_notes(priced.plan, bills),
        )

    async def impact(self, request: ImpactRequestDto) -> PricedImpact:
        """An impact under a rate plan at a ZIP code its utility serves; nothing is stored."""
        placed = placed_plan(
            self._catalog,
            self._geography,
            rate_plan_id=request.rate_plan_id,
            zipcode=request.zipcode,
        )
        start, end = period_days(request)
        days = (end - start).days
        what = f"{start} up to {end}"
        baseline = _baseline(request, days=days, what=what)
        modified, solar = _modification(request, place=placed.place, days=days, what=what)
        scenario = Scenario(baseline=baseline, modified=modified, solar=solar)
        bills = await self._bills(placed.plan, start=start, days=days, scenario=scenario)
        notes = (
            *((DEFAULT_LOAD.source,) if baseline is None else ()),
            *((solar_note(solar, zipcode=placed.place.zipcode),) if solar is not None else ()),
            *_export_notes(placed.plan, bills),
        )
        return PricedImpact(
            bills=bills,
            rate_plan_id=placed.plan.id,
            baseline="sent" if baseline is not None else "typical-home",
            modified="sent" if modified is not None else "baseline-with-solar",
            solar_capacity_kw=request.solar_capacity_kw,
            notes=notes,
        )


def _export_notes(plan: RatePlan, bills: ImpactBills) -> tuple[str, ...]:
    """Say so when exported kWh earn nothing: a saving would otherwise look understated."""
    exported = max(bills.baseline.export_kwh, bills.modified.export_kwh)
    if plan.export_credit.type != "none" or exported <= 0:
        return ()
    return (
        f"Rate plan {plan.id} credits no exports (its source names no net metering or sell "
        f"rate): up to {exported:,.1f} kWh exported in the period earn nothing.",
    )


def _baseline(request: ImpactRequestDto, *, days: int, what: str) -> MeterProfile | None:
    """The baseline as sent, or ``None`` for the typical home (``useDefaultUsage: true``)."""
    if request.use_default_usage:
        for field, value in (("usage", request.usage), ("export", request.export)):
            if value is not None:
                raise _refuse(
                    field, "Cannot be sent with useDefaultUsage: true (the baseline is generated)"
                )
        return None
    if request.usage is None:
        raise _refuse("usage", "Send the baseline usage, or useDefaultUsage: true")
    day_count_must_match(days, len(request.usage), what)
    return MeterProfile(usage=request.usage, export=request.export)


def _modification(
    request: ImpactRequestDto, *, place: ZipPlace, days: int, what: str
) -> tuple[MeterProfile | None, SolarSite | None]:
    """The modified load as sent, or (``None``, the array) when the modification is solar."""
    if request.modified_usage is not None:
        if request.solar_capacity_kw is not None:
            raise _refuse(
                "solarCapacityKw",
                "Adds solar to the baseline only when modifiedUsage is absent; send one of "
                "them (modifiedUsage already is the load as metered)",
            )
        day_count_must_match(days, len(request.modified_usage), what, field="modifiedUsage")
        return MeterProfile(usage=request.modified_usage, export=request.modified_export), None
    if request.solar_capacity_kw is None:
        raise _refuse(
            "modifiedUsage",
            "Nothing to compare: send modifiedUsage (the modified load), or solarCapacityKw "
            "to compare the baseline with and without that much solar",
        )
    if request.modified_export is not None:
        raise _refuse("modifiedExport", "Needs modifiedUsage")
    site = SolarSite(
        capacity_kw=request.solar_capacity_kw,
        latitude=place.latitude,
        longitude=place.longitude,
        timezone=place.timezone,
    )
    return None, site

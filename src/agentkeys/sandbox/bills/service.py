"""Bills for a home's rate plan, an inline home's, or a rate plan alone (quotes), from 15-minute
usage.

A bill is CPU work (up to 366 days of 96 slots): it runs in the app's CPU pool (a worker thread,
so the event loop keeps answering other requests), after the request's database session is given
back, so a bill waiting for a slot holds no connection.
"""

from __future__ import annotations

import calendar
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date

from agentkeys.cpu import CpuPool
from agentkeys.errors import FieldError, NotFound, ValidationFailed, echo
from agentkeys.sandbox.bills.schemas import (
    MonthlyBillRequestDto,
    PeriodBillRequestDto,
    PeriodBillWithHomeRequestDto,
    PeriodFields,
)
from agentkeys.sandbox.geo import Geography, ZipPlace
from agentkeys.sandbox.homes.service import HomeService, serving_offer
from agentkeys.sandbox.tariffs.engine import Bill, compute_bill
from agentkeys.sandbox.tariffs.model import Catalog, RatePlan, Utility
from agentkeys.sandbox.utility.service import place_zip


@dataclass(frozen=True, slots=True)
class PricedBill:
    bill: Bill
    rate_plan_id: str


def day_count_must_match(days: int, sent_days: int, what: str, *, field: str = "usage") -> None:
    """Refuse ``field`` unless it has one array per day of ``what`` (``days`` of them)."""
    if sent_days != days:
        raise ValidationFailed(
            [FieldError(field, f"{what} has {days} days but {field} has {sent_days}")]
        )


def period_days(request: PeriodFields) -> tuple[date, date]:
    """The period's first day and its exclusive end; ``endDate`` must come after ``startDate``."""
    start, end = request.start, request.end
    if end <= start:
        raise ValidationFailed([FieldError("endDate", "Must be after startDate")])
    return start, end


def _period(request: PeriodBillRequestDto) -> tuple[date, date]:
    start, end = period_days(request)
    day_count_must_match((end - start).days, len(request.usage), f"{start} up to {end}")
    return start, end


@dataclass(frozen=True, slots=True)
class PlacedPlan:
    """A rate plan priced for a place that its utility serves (no home stored)."""

    utility: Utility
    plan: RatePlan
    place: ZipPlace


def placed_plan(
    catalog: Catalog,
    geography: Geography,
    *,
    rate_plan_id: str,
    zipcode: str,
    utility_id: str | None = None,
    prefix: str = "",
) -> PlacedPlan:
    """The plan of ``rate_plan_id`` at ``zipcode``, refused (400, naming ``prefix`` + the field)
    unless the plan exists, is ``utility_id``'s when that is given, and its utility serves the
    ZIP code (a ZIP or county match, as for a stored home)."""
    found = catalog.plan(rate_plan_id)
    if found is None:
        raise ValidationFailed(
            [
                FieldError(
                    f"{prefix}ratePlanId",
                    f"Unknown rate plan '{echo(rate_plan_id)}'; send a ratePlans[].id from "
                    "/v1/utility/get",
                )
            ]
        )
    utility, plan = found
    if utility_id is not None and utility_id != utility.utility_id:
        raise ValidationFailed(
            [
                FieldError(
                    f"{prefix}utilityId",
                    f"Rate plan '{plan.id}' belongs to utility '{utility.utility_id}' "
                    f"({utility.utility_name}), not '{echo(utility_id)}'",
                )
            ]
        )
    zip_code = place_zip(zipcode)
    place = geography.place(zip_code)
    serving = geography.serving(zip_code) if place is not None else ()
    if place is None or utility.utility_id not in {other.utility_id for other in serving}:
        raise ValidationFailed(
            [
                FieldError(
                    f"{prefix}zipcode",
                    f"ZIP code '{echo(zipcode)}' is not served by utility "
                    f"'{utility.utility_id}' ({utility.utility_name}) of rate plan '{plan.id}'; "
                    + serving_offer(catalog, geography, zip_code),
                )
            ]
        )
    return PlacedPlan(utility=utility, plan=plan, place=place)


class BillService:
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

    async def _bill(
        self,
        plan: RatePlan,
        *,
        start: date,
        usage: Sequence[Sequence[float]],
        export: Sequence[Sequence[float]] | None,
    ) -> Bill:
        # Nothing more to read or write: the connection goes back to the pool before any wait.
        await self._release_session()
        return await self._cpu.run(compute_bill, plan, start=start, usage=usage, export=export)

    async def monthly_bill(
        self, home_id: str, request: MonthlyBillRequestDto, *, credential_id: str
    ) -> PricedBill:
        """The bill of one calendar month of the home: one usage array per day of the month."""
        priced = await self._homes.priced_home(home_id, credential_id=credential_id)
        days = calendar.monthrange(request.year, request.month)[1]
        month_name = f"{calendar.month_name[request.month]} {request.year}"
        day_count_must_match(days, len(request.usage), month_name)
        bill = await self._bill(
            priced.plan,
            start=date(request.year, request.month, 1),
            usage=request.usage,
            export=request.export,
        )
        return PricedBill(bill, priced.plan.id)

    async def period_bill(
        self, home_id: str, request: PeriodBillRequestDto, *, credential_id: str
    ) -> PricedBill:
        """The bill from startDate up to, not including, endDate."""
        priced = await self._homes.priced_home(home_id, credential_id=credential_id)
        start, _ = _period(request)
        bill = await self._bill(
            priced.plan, start=start, usage=request.usage, export=request.export
        )
        return PricedBill(bill, priced.plan.id)

    async def inline_home_period_bill(self, request: PeriodBillWithHomeRequestDto) -> PricedBill:
        """The period bill of a home described in the request; nothing is stored."""
        home = request.home
        placed = placed_plan(
            self._catalog,
            self._geography,
            rate_plan_id=home.rate_plan_id,
            zipcode=home.zipcode,
            utility_id=home.utility_id,
            prefix="home.",
        )
        start, _ = _period(request)
        bill = await self._bill(
            placed.plan, start=start, usage=request.usage, export=request.export
        )
        return PricedBill(bill, placed.plan.id)

    async def quote(self, rate_plan_id: str, request: PeriodBillRequestDto) -> PricedBill:
        """A quote under a rate plan without a home: whole calendar months only."""
        found = self._catalog.plan(rate_plan_id)
        if found is None:
            raise NotFound(
                f"No rate plan '{rate_plan_id}'.",
                recovery_action="Use a ratePlans[].id from /v1/utility/get.",
            )
        problems = [
            FieldError(name, "Quotes cover whole calendar months: use the first day of a month")
            for name, day in (("startDate", request.start), ("endDate", request.end))
            if day.day != 1
        ]
        if problems:
            raise ValidationFailed(problems)
        start, _ = _period(request)
        bill = await self._bill(found[1], start=start, usage=request.usage, export=request.export)
        return PricedBill(bill, found[1].id)

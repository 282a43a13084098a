"""Bills for a home's rate plan, or for a rate plan alone (quotes), from 15-minute usage.

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
from agentkeys.errors import FieldError, NotFound, ValidationFailed
from agentkeys.sandbox.bills.schemas import MonthlyBillRequestDto, PeriodBillRequestDto
from agentkeys.sandbox.homes.service import HomeService
from agentkeys.sandbox.tariffs.engine import Bill, compute_bill
from agentkeys.sandbox.tariffs.model import Catalog, RatePlan


@dataclass(frozen=True, slots=True)
class PricedBill:
    bill: Bill
    rate_plan_id: str


def _day_count_must_match(days: int, usage_days: int, what: str) -> None:
    if usage_days != days:
        raise ValidationFailed(
            [FieldError("usage", f"{what} has {days} days but usage has {usage_days}")]
        )


def _period(request: PeriodBillRequestDto) -> tuple[date, date]:
    start, end = request.start, request.end
    if end <= start:
        raise ValidationFailed([FieldError("endDate", "Must be after startDate")])
    _day_count_must_match((end - start).days, len(request.usage), f"{start} up to {end}")
    return start, end


class BillService:
    def __init__(
        self,
        homes: HomeService,
        *,
        catalog: Catalog,
        cpu: CpuPool,
        release_session: Callable[[], Awaitable[None]],
    ) -> None:
        self._homes = homes
        self._catalog = catalog
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
        _day_count_must_match(days, len(request.usage), month_name)
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
        return PricedBill(bill, rate_plan_id)

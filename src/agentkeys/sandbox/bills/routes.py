"""Bill routes (scope ``bill_impact:read``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from agentkeys.api.deps import JsonBodyRoute
from agentkeys.api.openapi import error_responses
from agentkeys.sandbox import examples
from agentkeys.sandbox.bills.deps import BillReader, BillServiceDep, RatePlanId
from agentkeys.sandbox.bills.schemas import (
    BillResponseDto,
    MonthlyBillRequestDto,
    PeriodBillRequestDto,
    PeriodBillWithHomeRequestDto,
)
from agentkeys.sandbox.homes.deps import HomeId

router = APIRouter(prefix="/v1/homes", tags=["bills"], route_class=JsonBodyRoute)


@router.post(
    "/{id}/bill/monthly",
    operation_id="calculateMonthlyBill",
    summary="Calculate a home's bill for a calendar month",
    response_model=BillResponseDto,
    responses=error_responses(400, 401, 403, 404, 429),
)
async def monthly_bill(
    home_id: HomeId,
    body: Annotated[MonthlyBillRequestDto, Body(openapi_examples=examples.MONTHLY_BILL)],
    credential: BillReader,
    service: BillServiceDep,
) -> BillResponseDto:
    """One usage array of 96 quarter-hour kWh values per day of `month` (of `year`, default
    this year), optional `export` of the same shape; the total and a breakdown by charge."""
    priced = await service.monthly_bill(home_id, body, credential_id=credential.id)
    return BillResponseDto.of(priced.bill, rate_plan_id=priced.rate_plan_id, debug=bool(body.debug))


@router.post(
    "/{id}/bill/period",
    operation_id="calculatePeriodBill",
    summary="Calculate a home's bill for a period",
    response_model=BillResponseDto,
    responses=error_responses(400, 401, 403, 404, 429),
)
async def period_bill(
    home_id: HomeId,
    body: Annotated[PeriodBillRequestDto, Body(openapi_examples=examples.PERIOD_BILL)],
    credential: BillReader,
    service: BillServiceDep,
) -> BillResponseDto:
    """One usage array per day from `startDate` up to, not including, `endDate`."""
    priced = await service.period_bill(home_id, body, credential_id=credential.id)
    return BillResponseDto.of(priced.bill, rate_plan_id=priced.rate_plan_id, debug=bool(body.debug))


@router.post(
    "/bill/period",
    operation_id="calculatePeriodBillWithHome",
    summary="Calculate a period bill for a home described inline",
    response_model=BillResponseDto,
    responses=error_responses(400, 401, 403, 429),
)
async def inline_home_period_bill(
    body: Annotated[PeriodBillWithHomeRequestDto, Body(openapi_examples=examples.INLINE_HOME_BILL)],
    _credential: BillReader,
    service: BillServiceDep,
) -> BillResponseDto:
    """WattShift's `PeriodBillWithHomeRequestDto`: the period bill's body plus a `home`
    (`ratePlanId` and `zipcode` required; `name`, `utilityId`, `solarCapacityKw` optional). The
    plan's utility must serve the ZIP code and be `utilityId` when given (400 naming the
    field). The home is not stored; the answer is the period bill's."""
    priced = await service.inline_home_period_bill(body)
    return BillResponseDto.of(priced.bill, rate_plan_id=priced.rate_plan_id, debug=bool(body.debug))


@router.post(
    "/bill/period/rateplan/{ratePlanId}",
    operation_id="calculatePeriodBillForRatePlan",
    summary="Quote a bill under a rate plan, without a home",
    response_model=BillResponseDto,
    responses=error_responses(400, 401, 403, 404, 429),
)
async def rate_plan_quote(
    rate_plan_id: RatePlanId,
    body: Annotated[PeriodBillRequestDto, Body(openapi_examples=examples.RATE_PLAN_QUOTE)],
    _credential: BillReader,
    service: BillServiceDep,
) -> BillResponseDto:
    """Whole calendar months only: `startDate` and `endDate` are first days of months."""
    priced = await service.quote(rate_plan_id, body)
    return BillResponseDto.of(priced.bill, rate_plan_id=priced.rate_plan_id, debug=bool(body.debug))

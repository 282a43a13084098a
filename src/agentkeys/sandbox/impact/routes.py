"""Bill impact routes (scope ``bill_impact:read``): a baseline and a modified load, billed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Request

from agentkeys.api.deps import JsonBodyRoute, settle_route_cost
from agentkeys.api.openapi import error_responses
from agentkeys.sandbox import examples
from agentkeys.sandbox.bills.schemas import BillResponseDto
from agentkeys.sandbox.homes.deps import HomeId
from agentkeys.sandbox.impact.deps import HomeImpactReader, ImpactServiceDep, ZipImpactReader
from agentkeys.sandbox.impact.schemas import (
    BillDifferenceDto,
    HomeImpactRequestDto,
    ImpactAssumptionsDto,
    ImpactRequestDto,
    ImpactResponseDto,
)
from agentkeys.sandbox.impact.service import PricedImpact
from agentkeys.sandbox.money import cents

router = APIRouter(prefix="/v1", tags=["impact"], route_class=JsonBodyRoute)


def _answer(priced: PricedImpact, *, debug: bool) -> ImpactResponseDto:
    baseline, modified = priced.bills.baseline, priced.bills.modified
    return ImpactResponseDto(
        start_date=baseline.start.isoformat(),
        end_date=baseline.end.isoformat(),
        days=baseline.days,
        rate_plan_id=priced.rate_plan_id,
        baseline=BillResponseDto.of(baseline, rate_plan_id=priced.rate_plan_id, debug=debug),
        modified=BillResponseDto.of(modified, rate_plan_id=priced.rate_plan_id, debug=debug),
        difference=BillDifferenceDto.between(baseline, modified),
        savings=cents(baseline.total - modified.total),
        assumptions=ImpactAssumptionsDto(
            baseline=priced.baseline,
            modified=priced.modified,
            solar_capacity_kw=priced.solar_capacity_kw,
            notes=list(priced.notes),
        ),
    )


@router.post(
    "/homes/{id}/calculate/impact",
    operation_id="calculateHomeImpact",
    summary="Calculate the bill impact of a modified load for a home",
    response_model=ImpactResponseDto,
    responses=error_responses(400, 401, 403, 404, 429),
)
async def home_impact(
    home_id: HomeId,
    body: Annotated[HomeImpactRequestDto, Body(openapi_examples=examples.HOME_IMPACT)],
    credential: HomeImpactReader,
    service: ImpactServiceDep,
) -> ImpactResponseDto:
    """The period bill's body (`usage`, optional `export`, `startDate`, `endDate`: one array of
    96 quarter-hour kWh per day from `startDate` up to, not including, `endDate`) plus
    `modifiedUsage` (required) and `modifiedExport` (optional) of the same shape and number of
    days. Both are billed under the home's rate plan: `baseline` and `modified` are answered as
    the period bill answers; `difference` is modified minus baseline (total and each charge);
    `savings` is baseline minus modified billTotal, positive when the modification saves."""
    priced = await service.home_impact(home_id, body, credential_id=credential.id)
    return _answer(priced, debug=bool(body.debug))


@router.post(
    "/calculate/impact",
    operation_id="calculateImpact",
    summary="Calculate a bill impact under a rate plan at a ZIP code, without a home",
    response_model=ImpactResponseDto,
    responses=error_responses(400, 401, 403, 429),
)
async def impact(
    request: Request,
    body: Annotated[ImpactRequestDto, Body(openapi_examples=examples.IMPACT)],
    _credential: ZipImpactReader,
    service: ImpactServiceDep,
) -> ImpactResponseDto:
    """`ratePlanId` and `zipcode` (served by the plan's utility), `startDate`, `endDate`. The
    baseline is `usage` (and `export`) as sent, or with `useDefaultUsage: true` the sandbox's
    typical home (the battery estimate's load) for the period's days. The modified load is
    `modifiedUsage` (and `modifiedExport`) as sent; without them, `solarCapacityKw` is required
    and the modified load is the baseline with that much clear-sky solar at the ZIP code netted
    per quarter-hour (import = max(load - solar, 0), the surplus exported), so the answer is what
    the solar saves. `assumptions` says which of these was used. Nothing is stored. A request
    generating the typical load or solar counts as the policy's cost for this route (shipped:
    10 requests), one billing only what it was sent as its scope's."""
    priced = await service.impact(body)
    settle_route_cost(request, did_priced_work=priced.generated_profiles)
    return _answer(priced, debug=bool(body.debug))

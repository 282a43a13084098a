"""``POST /v1/utility/get`` (scope ``utility:read``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response
from pydantic import TypeAdapter

from agentkeys.api.deps import JsonBodyRoute
from agentkeys.api.openapi import error_responses
from agentkeys.sandbox import examples
from agentkeys.sandbox.utility.deps import CatalogDep, GeographyDep, UtilityReader
from agentkeys.sandbox.utility.schemas import (
    NO_PLANS_NOTE,
    UtilityDto,
    UtilityRequestDTO,
    rate_plan_dto,
)
from agentkeys.sandbox.utility.service import UtilityMatch, find_utilities

router = APIRouter(prefix="/v1/utility", tags=["utility"], route_class=JsonBodyRoute)

UTILITY_LIST = TypeAdapter(list[UtilityDto])


@router.post(
    "/get",
    operation_id="getUtility",
    summary="List utilities and rate plans for a ZIP code, a place or an id",
    response_model=list[UtilityDto],
    responses=error_responses(400, 401, 403, 429),
)
async def get_utilities(
    body: Annotated[UtilityRequestDTO, Body(openapi_examples=examples.UTILITY)],
    _credential: UtilityReader,
    catalog: CatalogDep,
    geography: GeographyDep,
) -> Response:
    """Utilities serving a U.S. ZIP code, a 3-digit ZIP prefix, or the ZIPs within `radius`
    miles of `lat`/`long` (or one utility by `utilityId`), with their rate plans.

    Every ZIP of the 50 states and DC resolves: the utilities the NREL/OpenEI ZIP file names
    for it (`serviceAreaMatch: "zip"`), then every utility EIA-861 lists in its county
    (`"county"`; a county often holds several, and the sandbox cannot tell which serves a given
    street). Order: zip matches before county ones, then by number of plans, then by id; a
    serving utility with no plan in the public data comes last of its kind, with
    `ratePlans: []`. Puerto Rico and the territories (no EIA-861 data) and strings that are
    not U.S. ZIP codes find `[]`.

    Send a plan's `id` as `ratePlanId` when creating or updating a home. `detailLevel: full`
    (the default) adds the whole tariff; `minimal` only what is needed to choose. Paged by
    `pageSize` (1-100, default 20) and `pageNumber` (from 1).
    """
    matches = find_utilities(catalog, geography, body)
    full = body.detail_level == "full"
    answer = [_utility_dto(match, full=full) for match in matches]
    # A hot read route: serialized once by pydantic-core rather than validated again by FastAPI.
    return Response(UTILITY_LIST.dump_json(answer, by_alias=True), media_type="application/json")


def _utility_dto(match: UtilityMatch, *, full: bool) -> UtilityDto:
    return UtilityDto(
        utility_id=match.utility_id,
        utility_name=match.utility_name,
        state=match.state,
        timezone=match.timezone,
        service_area_match=match.match,
        rate_plans=[rate_plan_dto(plan, full=full) for plan in match.plans],
        rate_plans_note=None if match.has_plans else NO_PLANS_NOTE,
    )

"""Wire shapes of ``POST /v1/utility/get`` (WattShift's ``UtilityRequestDTO`` and its answer)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field

from agentkeys.sandbox.tariffs.model import RatePlan, Utility
from agentkeys.sandbox.wire import CamelResponse
from agentkeys.validation import CamelRequestBody, UnixSeconds

# WattShift's published ZIP pattern: 1-5 digits (leading zeros allowed) or a 3-digit prefix,
# optionally followed by a ZIP+4 suffix after a hyphen or one space. Only those: a tab, a line
# break or any other white space (the published pattern's `\s`) is no ZIP separator anyone
# writes, and would reach the stored home and the answers. Every ZIP field is this type.
ZIP_PATTERN = r"^(?:0{0,4}[0-9]{1,5}|[0-9]{3})(?:[- ][0-9]{4})?$"
ZipCode = Annotated[str, Field(pattern=ZIP_PATTERN, max_length=10)]
MAX_PAGE_SIZE = 100


class UtilityRequestDTO(CamelRequestBody):
    """Find utilities by ZIP code or id (``lat``/``long``/``radius`` are not served here)."""

    zipcode: ZipCode | None = None
    utility_id: Annotated[str, Field(max_length=64)] | None = None
    detail_level: Literal["full", "minimal"] = "full"
    page_size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = 20
    page_number: Annotated[int, Field(ge=1)] = 1
    effective_on_date: UnixSeconds | None = None
    is_solar_prioritized_order: bool | None = None
    lat: Annotated[str, Field(max_length=64)] | None = None
    long: Annotated[str, Field(max_length=64)] | None = None
    radius: float | Annotated[str, Field(max_length=64)] | None = None


class RatePlanSummaryDto(CamelResponse):
    """``detailLevel: minimal``: what is needed to pick a plan."""

    id: str = Field(description="Send this as ratePlanId.")
    rate_id: str = Field(alias="rateID", description="Human-readable tariff reference.")
    rate_plan_name: str
    supported_type: Literal["tou", "tiered", "flat"]


class RatePlanDetailDto(RatePlanSummaryDto):
    """``detailLevel: full``: the whole tariff as the sandbox prices it, with its sources."""

    description: str
    effective_date: date
    fixed_monthly_charge: float = Field(description="$ per month.")
    seasons: dict[str, list[int]] = Field(description="Season name → calendar months (1-12).")
    periods: list[dict[str, Any]] = Field(description="Time-of-use windows in local time.")
    default_period: str
    energy_prices: dict[str, dict[str, float]] = Field(description="$ per kWh by season, period.")
    tiers: dict[str, list[dict[str, Any]]] | None = None
    export_credit: dict[str, Any]
    sources: list[dict[str, Any]]
    notes: str


class UtilityDto(CamelResponse):
    utility_id: str
    utility_name: str
    state: str
    timezone: str
    rate_plans: list[RatePlanDetailDto | RatePlanSummaryDto]

    @classmethod
    def of(cls, utility: Utility, plans: list[RatePlan], *, full: bool) -> UtilityDto:
        return cls(
            utility_id=utility.utility_id,
            utility_name=utility.utility_name,
            state=utility.state,
            timezone=utility.timezone,
            rate_plans=[_plan_dto(plan, full=full) for plan in plans],
        )


def _plan_dto(plan: RatePlan, *, full: bool) -> RatePlanDetailDto | RatePlanSummaryDto:
    if full:
        return RatePlanDetailDto.model_validate(plan.model_dump(by_alias=True, mode="json"))
    return RatePlanSummaryDto(
        id=plan.id,
        rate_id=plan.rate_id,
        rate_plan_name=plan.name,
        supported_type=plan.supported_type,
    )

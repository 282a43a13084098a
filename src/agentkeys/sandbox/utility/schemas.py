"""Wire shapes of ``POST /v1/utility/get`` (WattShift's ``UtilityRequestDTO`` and its answer)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from agentkeys.sandbox.tariffs.model import RatePlan
from agentkeys.sandbox.wire import CamelResponse
from agentkeys.validation import CamelRequestBody, UnixSeconds

# WattShift's published ZIP pattern: 1-5 digits (leading zeros allowed) or a 3-digit prefix,
# optionally followed by a ZIP+4 suffix after a hyphen or one space. Only those: a tab, a line
# break or any other white space (the published pattern's `\s`) is no ZIP separator anyone
# writes, and would reach the stored home and the answers. Every ZIP field is this type.
ZIP_PATTERN = r"^(?:0{0,4}[0-9]{1,5}|[0-9]{3})(?:[- ][0-9]{4})?$"
_ZIP = re.compile(ZIP_PATTERN)


def _zip_form(value: str) -> str:
    if _ZIP.fullmatch(value) is None:
        raise PydanticCustomError(
            "zipcode",
            "Must be a U.S. ZIP code: 5 digits (02134), ZIP+4 (02134-1234) or a 3-digit prefix",
        )
    return value


# The pattern stays in the OpenAPI description; the check gives a message a person can read.
ZipCode = Annotated[
    str,
    Field(max_length=10, json_schema_extra={"pattern": ZIP_PATTERN}),
    AfterValidator(_zip_form),
]
MAX_PAGE_SIZE = 100


# lat/long/radius: WattShift names them without saying more (``lat``, ``long`` typed as strings).
# Ours: decimal degrees, as a JSON number or a numeric string; the radius in miles.
DEFAULT_RADIUS_MILES = 10.0
MAX_RADIUS_MILES = 50.0
Coordinate = float | Annotated[str, Field(max_length=64)]


class UtilityRequestDTO(CamelRequestBody):
    """Find utilities by ZIP code (or 3-digit ZIP prefix), by location, or by id."""

    zipcode: ZipCode | None = Field(
        default=None,
        description=(
            "A U.S. ZIP code (ZIP+4 accepted, the suffix ignored), or a 3-digit prefix: the "
            "utilities serving any ZIP starting with it. A ZIP the sandbox does not know "
            "(not a U.S. ZIP, or Puerto Rico and the territories: no EIA-861 data) finds []."
        ),
    )
    utility_id: Annotated[str, Field(max_length=64)] | None = Field(
        default=None,
        description="The utility's EIA id (PG&E is 14328). With zipcode or lat/long: a filter.",
    )
    detail_level: Literal["full", "minimal"] = "full"
    """full (the default): each plan's whole tariff; minimal: what is needed to choose."""
    page_size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = 20
    """Utilities per page, 1-100 (default 20)."""
    page_number: Annotated[int, Field(ge=1)] = 1
    """The page, from 1 (default 1)."""
    effective_on_date: UnixSeconds | None = None
    """Only plans effective on or before this day (seconds since 1970-01-01 UTC)."""
    is_solar_prioritized_order: bool | None = None
    """true: within each utility, plans crediting solar exports best come first."""
    lat: Coordinate | None = Field(
        default=None, description="Latitude in decimal degrees (-90 to 90); needs long."
    )
    long: Coordinate | None = Field(
        default=None, description="Longitude in decimal degrees (-180 to 180); needs lat."
    )
    radius: Coordinate | None = Field(
        default=None,
        description=(
            f"Miles around lat/long (greater than 0, at most {MAX_RADIUS_MILES:g}; default "
            f"{DEFAULT_RADIUS_MILES:g}): the utilities serving any ZIP whose centre lies within."
        ),
    )


class RatePlanSummaryDto(CamelResponse):
    """``detailLevel: minimal``: what is needed to pick a plan."""

    id: str = Field(description="Send this as ratePlanId.")
    rate_id: str = Field(alias="rateID", description="Human-readable tariff reference.")
    rate_plan_name: str
    """The plan's name, e.g. E-TOU-C."""
    supported_type: Literal["tou", "tiered", "flat"] = Field(
        description="tou: prices change by hour; tiered: by monthly or daily kWh; flat: neither."
    )


class SourceDto(CamelResponse):
    url: str
    """Where the data comes from."""
    title: str
    """The source's title."""
    what: str | None = Field(default=None, description="What the source gave.")


class TierDto(CamelResponse):
    price: float = Field(description="$ per kWh (URDB's rate plus adjustment).")
    max_kwh: float | None = Field(
        description="The tier's upper limit in kWh per tierUnit; null for the last tier."
    )
    sell: float | None = Field(
        description="$ per kWh credited for exports in this period (exportCredit.type sell)."
    )


class PeriodDto(CamelResponse):
    name: str
    """The period's name (e.g. peak, off-peak)."""
    tiers: list[TierDto] = Field(description="Prices by usage, the last one unbounded.")


class FixedChargeDto(CamelResponse):
    name: str
    """The charge's name."""
    amount: float = Field(description="$ per `per`.")
    per: Literal["month", "day"] = Field(description="month: prorated by day; day: per day.")


class MinimumChargeDto(CamelResponse):
    amount: float = Field(description="The least the bill may come to, $ per `per`.")
    per: Literal["month", "day"]
    """month or day: what the amount is per."""


class HolidayRuleDto(CamelResponse):
    days: list[str] = Field(description="The holidays priced as weekend days.")
    observed: bool = Field(description="A weekend holiday also moves to Friday or Monday.")


class ExportCreditDto(CamelResponse):
    type: Literal["retail", "sell", "fixed", "none"] = Field(
        description=(
            "retail: exports credited at the import price of the time; sell: at the period's "
            "sell price; fixed: at pricePerKwh; none: not credited."
        )
    )
    price_per_kwh: float | None = Field(description="$ per kWh, for type fixed.")


class RatePlanDetailDto(RatePlanSummaryDto):
    """``detailLevel: full``: the whole tariff as the sandbox prices it, with its provenance."""

    description: str
    """The plan in a sentence."""
    data_source: Literal["ratebook", "urdb", "eia-average"] = Field(
        description=(
            "ratebook: a current tariff from the ratebook dataset; urdb: a U.S. Utility Rate "
            "Database record; eia-average: one flat price at the utility's EIA-861 average "
            "residential rate (no tariff in the data)."
        )
    )
    source: str = Field(description="URL of the record the plan was built from.")
    sources: list[SourceDto] = Field(description="Every document the numbers come from.")
    effective_date: date | None = Field(description="First day the tariff applies, if known.")
    end_date: date | None = Field(description="Last day the tariff applies, if it has one.")
    last_verified: date | None = Field(
        description="When the tariff was last checked against the utility's rate sheet."
    )
    stale: bool = Field(
        description="An old URDB rate (start over five years ago) kept for want of a newer one."
    )
    simplifications: list[str] = Field(
        description="What the sandbox prices differently from the tariff, one line each."
    )
    notes: str
    """What the sandbox simplified in pricing it."""
    seasons: dict[str, list[int]] = Field(description="Season name → calendar months (1-12).")
    periods: list[PeriodDto] = Field(
        description="Energy periods; the schedules name them by index (0-9)."
    )
    tier_unit: Literal["month", "day"] = Field(
        description="Tier limits count kWh per month or per day."
    )
    weekday_schedule: list[str] = Field(
        description=(
            "12 strings (January first) of 24 digits: the period index of each local hour "
            "on weekdays."
        )
    )
    weekend_schedule: list[str] = Field(
        description="The same for weekends (and holidays, if the plan names them)."
    )
    holidays: HolidayRuleDto | None = Field(description="Days priced as weekend days, if any.")
    fixed_charges: list[FixedChargeDto] = Field(description="Charges that do not vary with kWh.")
    minimum_charge: MinimumChargeDto | None = Field(description="The minimum bill, if any.")
    export_credit: ExportCreditDto = Field(description="How exported kWh are credited.")


class UtilityDto(CamelResponse):
    utility_id: str = Field(description="The utility's EIA id: send it as utilityId.")
    utility_name: str
    """The utility's name."""
    state: str
    """The utility's state (two letters)."""
    timezone: str | None = Field(
        description=(
            "IANA time zone: the queried ZIP's, else the most common one of the utility's ZIPs "
            "(null if the sandbox knows none)."
        )
    )
    service_area_match: Literal["zip", "county"] | None = Field(
        description=(
            "How the utility was found to serve the ZIP: zip, the NREL/OpenEI ZIP file lists it "
            "(municipal, co-operative, public utilities); county, EIA-861 lists it in the ZIP's "
            "county, which it may serve only part of (investor-owned utilities are found this "
            "way only). null for a look-up by utilityId alone."
        )
    )
    rate_plans: list[RatePlanDetailDto | RatePlanSummaryDto] = Field(
        description=(
            "Plans the sandbox can bill. Empty when the public data holds no tariff and no "
            "EIA average rate for the utility (e.g. Oncor, a delivery-only utility): listed, "
            "last, so no serving utility is hidden, but no plan of it can be chosen."
        )
    )
    rate_plans_note: str | None = Field(
        description="Why ratePlans is empty, when it is; else null."
    )


NO_PLANS_NOTE = (
    "No tariff and no EIA-861 average residential rate for this utility in the sandbox's public "
    "data: it cannot be billed here."
)


def rate_plan_dto(plan: RatePlan, *, full: bool) -> RatePlanDetailDto | RatePlanSummaryDto:
    if full:
        return RatePlanDetailDto.model_validate(plan.model_dump(by_alias=True, mode="json"))
    return RatePlanSummaryDto(
        id=plan.id,
        rate_id=plan.rate_id,
        rate_plan_name=plan.name,
        supported_type=plan.supported_type,
    )

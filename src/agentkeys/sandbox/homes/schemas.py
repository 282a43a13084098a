"""Wire shapes of the home routes: WattShift's ``CreateClientHomeDto`` and ``ClientHomeDto``.

The docs give limits for ``name`` only (1-255); other strings are capped at 255 characters
(``unstructuredAddress`` at 1024) so one request cannot store unbounded text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, JsonValue

from agentkeys.clock import format_instant
from agentkeys.sandbox.utility.schemas import ZipCode
from agentkeys.sandbox.wire import CamelResponse
from agentkeys.validation import CamelRequestBody, FreeFormObject, NonBlank

if TYPE_CHECKING:
    # Only ``ClientHomeDto.of`` names it: the wire shapes (and so ``agentkeys.client``) import
    # no ORM.
    from agentkeys.sandbox.homes.models import HomeRecord

HomeName = Annotated[str, Field(min_length=1, max_length=255), NonBlank]
ShortText = Annotated[str, Field(max_length=255)]
CarbonSignalIntensity = Literal["LOW", "MEDIUM", "HIGH"]
MAX_SOLAR_KW = 10_000.0
MAX_HOMES_PER_CREDENTIAL = 100
# Beyond any page that can hold a home; keeps the SQL offset a small number.
MAX_PAGE_NUMBER = 10_000


class HomeFields(CamelRequestBody):
    """Fields shared by create and update; all optional here."""

    user_id: ShortText | None = None
    utility_id: Annotated[str, Field(max_length=64)] | None = None
    deprecated_utility_id: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, alias="UtilityId", description="Deprecated: use utilityId."
    )
    rate_plan_id: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="A ratePlans[].id from POST /v1/utility/get."
    )
    unstructured_address: Annotated[str, Field(max_length=1024)] | None = None
    client_id: ShortText | None = None
    country: ShortText | None = None
    city: ShortText | None = None
    zipcode: ZipCode | None = None
    street_address: ShortText | None = None
    solar_info: FreeFormObject | None = None
    solar_system_size_kw: Annotated[float, Field(ge=0, le=MAX_SOLAR_KW)] | None = None
    is_non_net_metered: bool | None = None
    carbon_signal_intensity: CarbonSignalIntensity | None = None
    meter_id: ShortText | None = None
    meter_id_source: ShortText | None = None
    enabled: bool | None = None
    channel_partner_id: ShortText | None = None

    def chosen_utility_id(self) -> str | None:
        return self.utility_id or self.deprecated_utility_id


class CreateClientHomeDto(HomeFields):
    name: HomeName


class UpdateClientHomeDto(HomeFields):
    """A partial update: only the fields sent change; ``null`` clears a field that may be empty
    and is refused for the fields every home has (``name``, ``carbonSignalIntensity``,
    ``enabled``)."""

    name: HomeName | None = None


class CreateSolarDto(CamelRequestBody):
    """WattShift's legacy ``POST /v1/homes/solar/create``: a home's solar system, as the
    ``solarSystemSizeKw`` and ``isNonNetMetered`` fields of create and update set it."""

    home_id: Annotated[str, Field(max_length=64)] = Field(
        description="The home's id (ws_home_…), as /v1/homes/create answered it."
    )
    solar_system_size_kw: Annotated[float, Field(gt=0, le=MAX_SOLAR_KW)] = Field(
        description="Solar system size in kW DC (more than 0)."
    )
    is_non_net_metered: bool = Field(
        default=False,
        description="True if the system is not net metered. Omitted: false (net metered).",
    )


class CreateSolarResponseDto(CamelResponse):
    home_id: str


class ListHomesRequestDto(CamelRequestBody):
    """Optional paging of ``/v1/homes/list`` (WattShift documents no body): oldest home first.

    Without a body the first page is every home a credential can own, as the docs show it; a
    page shorter than ``pageSize`` is the last one.
    """

    page_size: Annotated[int, Field(ge=1, le=MAX_HOMES_PER_CREDENTIAL)] = MAX_HOMES_PER_CREDENTIAL
    page_number: Annotated[int, Field(ge=1, le=MAX_PAGE_NUMBER)] = 1


class ClientHomeDto(CamelResponse):
    id: str
    created_at: str
    updated_at: str
    energy_market_bidding_enabled: bool
    carbon_signal_intensity: CarbonSignalIntensity
    modal_home: bool = False
    name: str | None
    user_id: str | None
    legacy_utility_id: str | None = Field(alias="UtilityId")
    utility_id: str | None
    rate_plan_id: str | None
    unstructured_address: str | None
    timezone: str | None = Field(
        description="The IANA time zone of the home's ZIP code (without a known ZIP code, the "
        "one most of its utility's ZIP codes are in); bills and price signals read the home's "
        "hours in it."
    )
    country: str | None
    city: str | None
    zipcode: str | None
    street_address: str | None
    meter_id: str | None
    meter_id_source: str | None
    enabled: bool | None
    channel_partner_id: str | None
    solar_system_size_kw: float | None
    is_non_net_metered: bool | None
    solar_info: dict[str, JsonValue] | None

    @classmethod
    def of(cls, home: HomeRecord) -> ClientHomeDto:
        return cls(
            id=home.id,
            created_at=format_instant(home.created_at),
            updated_at=format_instant(home.updated_at),
            energy_market_bidding_enabled=home.energy_market_bidding_enabled,
            carbon_signal_intensity=home.carbon_signal_intensity,
            name=home.name,
            user_id=home.user_id,
            legacy_utility_id=home.utility_id,
            utility_id=home.utility_id,
            rate_plan_id=home.rate_plan_id,
            unstructured_address=home.unstructured_address,
            timezone=home.timezone,
            country=home.country,
            city=home.city,
            zipcode=home.zipcode,
            street_address=home.street_address,
            meter_id=home.meter_id,
            meter_id_source=home.meter_id_source,
            enabled=home.enabled,
            channel_partner_id=home.channel_partner_id,
            solar_system_size_kw=home.solar_system_size_kw,
            is_non_net_metered=home.is_non_net_metered,
            solar_info=home.solar_info,
        )

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
    """The ID of the owner of the home (stored as sent)."""
    utility_id: Annotated[str, Field(max_length=64)] | None = None
    """The utility ID; when given it must be ratePlanId's utility."""
    deprecated_utility_id: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, alias="UtilityId", description="Deprecated: use utilityId."
    )
    rate_plan_id: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="A ratePlans[].id from POST /v1/utility/get."
    )
    unstructured_address: Annotated[str, Field(max_length=1024)] | None = None
    """The unstructured address (stored as sent)."""
    client_id: ShortText | None = None
    """The client ID (stored as sent)."""
    country: ShortText | None = None
    """The country (stored as sent)."""
    city: ShortText | None = None
    """The city (stored as sent)."""
    zipcode: ZipCode | None = None
    """The ZIP code: its time zone becomes the home's, and ratePlanId's utility must serve it."""
    street_address: ShortText | None = None
    """The street address (stored as sent)."""
    solar_info: FreeFormObject | None = None
    """Advanced solar installation information (stored as sent); prefer solarSystemSizeKw and
    isNonNetMetered."""
    solar_system_size_kw: Annotated[float, Field(ge=0, le=MAX_SOLAR_KW)] | None = None
    """Solar system size in kW; sets the home's solar with isNonNetMetered."""
    is_non_net_metered: bool | None = None
    """Non-net-metered solar billing flag; sets the home's solar with solarSystemSizeKw."""
    carbon_signal_intensity: CarbonSignalIntensity | None = None
    """The carbon signal intensity (default MEDIUM)."""
    meter_id: ShortText | None = None
    """The meter ID (stored as sent)."""
    meter_id_source: ShortText | None = None
    """Where the meter ID comes from (stored as sent)."""
    enabled: bool | None = None
    """Whether the home is enabled (default true)."""
    channel_partner_id: ShortText | None = None
    """The channel partner ID (stored as sent)."""

    def chosen_utility_id(self) -> str | None:
        return self.utility_id or self.deprecated_utility_id


class CreateClientHomeDto(HomeFields):
    name: HomeName
    """The name of the home."""


class UpdateClientHomeDto(HomeFields):
    """A partial update: only the fields sent change; ``null`` clears a field that may be empty
    and is refused for the fields every home has (``name``, ``carbonSignalIntensity``,
    ``enabled``)."""

    name: HomeName | None = None
    """The new name of the home (null is refused)."""


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
    """The home whose solar was set."""


class ListHomesRequestDto(CamelRequestBody):
    """Optional paging of ``/v1/homes/list`` (WattShift documents no body): oldest home first.

    Without a body the first page is every home a credential can own, as the docs show it; a
    page shorter than ``pageSize`` is the last one.
    """

    page_size: Annotated[int, Field(ge=1, le=MAX_HOMES_PER_CREDENTIAL)] = MAX_HOMES_PER_CREDENTIAL
    """Homes per page, 1-100 (default 100)."""
    page_number: Annotated[int, Field(ge=1, le=MAX_PAGE_NUMBER)] = 1
    """The page, from 1 (default 1)."""


class ClientHomeDto(CamelResponse):
    id: str
    """The home's id (ws_home_…): the {id} of the home routes."""
    created_at: str
    """When the home was created (ISO 8601 UTC)."""
    updated_at: str
    """When the home last changed (ISO 8601 UTC)."""
    energy_market_bidding_enabled: bool
    """Always false in the sandbox (no market bidding)."""
    carbon_signal_intensity: CarbonSignalIntensity
    """The carbon signal intensity (default MEDIUM)."""
    modal_home: bool = False
    """Always false in the sandbox."""
    name: str | None
    """The name of the home."""
    user_id: str | None
    """The ID of the owner of the home, as sent."""
    legacy_utility_id: str | None = Field(alias="UtilityId")
    """Deprecated: the same as utilityId (WattShift's capitalized name)."""
    utility_id: str | None
    """The utility of the home's rate plan."""
    rate_plan_id: str | None
    """The home's rate plan (a ratePlans[].id of /v1/utility/get); bills need one."""
    unstructured_address: str | None
    """The unstructured address, as sent."""
    timezone: str | None = Field(
        description="The IANA time zone of the home's ZIP code (without a known ZIP code, the "
        "one most of its utility's ZIP codes are in); bills and price signals read the home's "
        "hours in it."
    )
    country: str | None
    """The country, as sent."""
    city: str | None
    """The city, as sent."""
    zipcode: str | None
    """The ZIP code: places the home (time zone, solar, utilities serving it)."""
    street_address: str | None
    """The street address, as sent."""
    meter_id: str | None
    """The meter ID, as sent."""
    meter_id_source: str | None
    """Where the meter ID comes from, as sent."""
    enabled: bool | None
    """Whether the home is enabled (default true)."""
    channel_partner_id: str | None
    """The channel partner ID, as sent."""
    solar_system_size_kw: float | None
    """Solar system size in kW, if the home has solar."""
    is_non_net_metered: bool | None
    """Whether the solar is billed without net metering."""
    solar_info: dict[str, JsonValue] | None
    """Advanced solar installation information, as sent."""

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

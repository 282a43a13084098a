"""Each route an agent key can use, as a ``Call``: method, path, JSON body and the model its
answer is validated into. Shared by the sync and async clients, which only send them.

Bodies are the server's own request models (``*/schemas.py``), sent by their wire names and
only the fields set (an update's explicit ``null`` stays ``null``), or a mapping already in wire
names, sent as written so the server judges it and names each bad field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar, Union
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter

from agentkeys.credentials.schemas import (
    AgentCredentialResponseDto,
    AgentCredentialRevocationResponseDto,
    AgentCredentialSelfResponseDto,
    CreateAgentCredentialRequestDto,
    RevokeAgentCredentialRequestDto,
)
from agentkeys.sandbox.battery.schemas import (
    BatteryAnnualEstimatedSavingsRequestDto,
    BatteryEstimatedSavingsResponseDto,
)
from agentkeys.sandbox.bills.schemas import (
    BillResponseDto,
    MonthlyBillRequestDto,
    PeriodBillRequestDto,
    PeriodBillWithHomeRequestDto,
)
from agentkeys.sandbox.feedback.schemas import CreateFeedbackDto, FeedbackReceivedDto
from agentkeys.sandbox.homes.schemas import (
    ClientHomeDto,
    CreateClientHomeDto,
    CreateSolarDto,
    CreateSolarResponseDto,
    ListHomesRequestDto,
    UpdateClientHomeDto,
)
from agentkeys.sandbox.impact.schemas import (
    HomeImpactRequestDto,
    ImpactRequestDto,
    ImpactResponseDto,
)
from agentkeys.sandbox.price_signal.open_adr import OpenAdrEventDto
from agentkeys.sandbox.price_signal.schemas import (
    GetPriceSignalRequestDto,
    GetPriceSignalResponseDto,
)
from agentkeys.sandbox.utility.schemas import UtilityDto, UtilityRequestDTO

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
# A request body: the server's model, or a mapping in wire names (sent as written).
# (``Union``: a ``TypeVar`` in an alias written with ``|`` is not generic to mypy.)
Body: TypeAlias = Union[M, Mapping[str, Any]]  # noqa: UP007

KEY_HEADER = "x-ws-api-key"
CREDENTIALS = "/v1/agent-credentials"


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request and how to read its answer."""

    method: str
    path: str
    answer: TypeAdapter[T]
    body: Any = None
    has_body: bool = False
    # The issuing route answers 200 with ``outcome: rate_limited``: retried like a 429.
    issuance: bool = False


def json_body(body: BaseModel | Mapping[str, Any]) -> Any:
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return dict(body)


def segment(value: str) -> str:
    """A path parameter, escaped so an id can never reach another route."""
    return quote(value, safe="")


def _post(path: str, answer: TypeAdapter[T], body: BaseModel | Mapping[str, Any] | None) -> Call[T]:
    if body is None:
        return Call("POST", path, answer)
    return Call("POST", path, answer, body=json_body(body), has_body=True)


CREDENTIAL = TypeAdapter(AgentCredentialResponseDto)
SELF = TypeAdapter(AgentCredentialSelfResponseDto)
REVOCATION = TypeAdapter(AgentCredentialRevocationResponseDto)
UTILITIES = TypeAdapter(list[UtilityDto])
HOME = TypeAdapter(ClientHomeDto)
HOMES = TypeAdapter(list[ClientHomeDto])
SOLAR = TypeAdapter(CreateSolarResponseDto)
BILL = TypeAdapter(BillResponseDto)
IMPACT = TypeAdapter(ImpactResponseDto)
PRICE_SIGNAL = TypeAdapter(GetPriceSignalResponseDto)
OPEN_ADR = TypeAdapter(OpenAdrEventDto)
BATTERY = TypeAdapter(BatteryEstimatedSavingsResponseDto)
FEEDBACK = TypeAdapter(FeedbackReceivedDto)


def request_credential(
    body: Body[CreateAgentCredentialRequestDto],
) -> Call[AgentCredentialResponseDto]:
    return Call("POST", CREDENTIALS, CREDENTIAL, json_body(body), has_body=True, issuance=True)


def whoami() -> Call[AgentCredentialSelfResponseDto]:
    return Call("GET", f"{CREDENTIALS}/self", SELF)


def revoke_credential(
    credential_id: str, body: Body[RevokeAgentCredentialRequestDto] | None
) -> Call[AgentCredentialRevocationResponseDto]:
    return _post(f"{CREDENTIALS}/{segment(credential_id)}/revoke", REVOCATION, body)


def lookup_utility(body: Body[UtilityRequestDTO]) -> Call[list[UtilityDto]]:
    return _post("/v1/utility/get", UTILITIES, body)


def create_home(body: Body[CreateClientHomeDto]) -> Call[ClientHomeDto]:
    return _post("/v1/homes/create", HOME, body)


def create_solar(body: Body[CreateSolarDto]) -> Call[CreateSolarResponseDto]:
    return _post("/v1/homes/solar/create", SOLAR, body)


def list_homes(body: Body[ListHomesRequestDto] | None) -> Call[list[ClientHomeDto]]:
    return _post("/v1/homes/list", HOMES, body)


def get_home(home_id: str) -> Call[ClientHomeDto]:
    return _post(f"/v1/homes/{segment(home_id)}/get", HOME, None)


def update_home(home_id: str, body: Body[UpdateClientHomeDto]) -> Call[ClientHomeDto]:
    return _post(f"/v1/homes/{segment(home_id)}/update", HOME, body)


def remove_home(home_id: str) -> Call[ClientHomeDto]:
    return _post(f"/v1/homes/{segment(home_id)}/remove", HOME, None)


def monthly_bill(home_id: str, body: Body[MonthlyBillRequestDto]) -> Call[BillResponseDto]:
    return _post(f"/v1/homes/{segment(home_id)}/bill/monthly", BILL, body)


def period_bill(home_id: str, body: Body[PeriodBillRequestDto]) -> Call[BillResponseDto]:
    return _post(f"/v1/homes/{segment(home_id)}/bill/period", BILL, body)


def inline_home_period_bill(body: Body[PeriodBillWithHomeRequestDto]) -> Call[BillResponseDto]:
    return _post("/v1/homes/bill/period", BILL, body)


def rate_plan_quote(rate_plan_id: str, body: Body[PeriodBillRequestDto]) -> Call[BillResponseDto]:
    return _post(f"/v1/homes/bill/period/rateplan/{segment(rate_plan_id)}", BILL, body)


def home_bill_impact(home_id: str, body: Body[HomeImpactRequestDto]) -> Call[ImpactResponseDto]:
    return _post(f"/v1/homes/{segment(home_id)}/calculate/impact", IMPACT, body)


def bill_impact(body: Body[ImpactRequestDto]) -> Call[ImpactResponseDto]:
    return _post("/v1/calculate/impact", IMPACT, body)


def price_signal(
    home_id: str, body: Body[GetPriceSignalRequestDto] | None
) -> Call[GetPriceSignalResponseDto]:
    return _post(f"/v1/homes/{segment(home_id)}/price_signal", PRICE_SIGNAL, body)


def price_signal_open_adr(
    home_id: str, body: Body[GetPriceSignalRequestDto] | None
) -> Call[OpenAdrEventDto]:
    return _post(f"/v1/homes/{segment(home_id)}/price_signal/open_adr", OPEN_ADR, body)


def battery_estimate(
    home_id: str, body: Body[BatteryAnnualEstimatedSavingsRequestDto]
) -> Call[BatteryEstimatedSavingsResponseDto]:
    return _post(f"/v1/homes/{segment(home_id)}/battery/estimate_savings", BATTERY, body)


def send_feedback(body: Body[CreateFeedbackDto]) -> Call[FeedbackReceivedDto]:
    return _post("/v1/feedback", FEEDBACK, body)

"""The MCP tools: one per HTTP route an agent uses, each described by the route's own request model.

A tool's input schema is its body model's JSON schema, plus the route's path parameter (a home
id, a rate plan id) as one more required string property: the same names and rules the HTTP API
documents, generated from the same pydantic models, never written twice.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from agentkeys.credentials.schemas import (
    CreateAgentCredentialRequestDto,
    RevokeAgentCredentialRequestDto,
)
from agentkeys.sandbox.battery.schemas import BatteryAnnualEstimatedSavingsRequestDto
from agentkeys.sandbox.bills.schemas import MonthlyBillRequestDto, PeriodBillRequestDto
from agentkeys.sandbox.feedback.schemas import CreateFeedbackDto
from agentkeys.sandbox.homes.schemas import (
    CreateClientHomeDto,
    ListHomesRequestDto,
    UpdateClientHomeDto,
)
from agentkeys.sandbox.impact.schemas import HomeImpactRequestDto, ImpactRequestDto
from agentkeys.sandbox.price_signal.schemas import GetPriceSignalRequestDto
from agentkeys.sandbox.utility.schemas import UtilityRequestDTO

HOME_ID = "homeId"
RATE_PLAN_ID = "ratePlanId"
CREDENTIAL_ID = "credentialId"

_PATH_DESCRIPTIONS = {
    HOME_ID: "The home's id (ws_home_…), as create_home or list_homes answered it.",
    RATE_PLAN_ID: "A rate plan id (a ratePlans[].id from lookup_utility).",
    CREDENTIAL_ID: "The credential to revoke; default: the credential of the key in use.",
}


@dataclass(frozen=True, kw_only=True)
class ToolSpec:
    """One tool: the route it calls, the model of its body and the path parameter it fills."""

    name: str
    description: str
    method: str
    path: str  # a template: ``{homeId}`` is filled from the argument of that name
    body: type[BaseModel] | None = None
    path_parameter: str | None = None
    path_parameter_required: bool = True
    needs_key: bool = True
    # Hints for the agent's host (MCP tool annotations): whether the tool changes anything.
    read_only: bool = False
    destructive: bool = False

    def input_schema(self) -> dict[str, Any]:
        """The body model's JSON schema, with the path parameter as one more property."""
        schema: dict[str, Any] = (
            copy.deepcopy(self.body.model_json_schema())
            if self.body is not None
            else {"type": "object", "properties": {}}
        )
        if self.path_parameter is not None:
            schema.setdefault("properties", {})[self.path_parameter] = {
                "type": "string",
                "minLength": 1,
                "description": _PATH_DESCRIPTIONS[self.path_parameter],
            }
            if self.path_parameter_required:
                schema["required"] = [self.path_parameter, *schema.get("required", [])]
        return schema


_HOME = f"/v1/homes/{{{HOME_ID}}}"

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        name="request_credential",
        description=(
            "Ask for a sandbox-only API key (POST /v1/agent-credentials; no key needed). The "
            "answer's outcome is issued, needs_more_info (add what it names and ask again), "
            "rate_limited or production_denied. An issued key is shown once and kept by this "
            "MCP session for the later tool calls; store it yourself only in an env file."
        ),
        method="POST",
        path="/v1/agent-credentials",
        body=CreateAgentCredentialRequestDto,
        needs_key=False,
    ),
    ToolSpec(
        name="whoami",
        read_only=True,
        description="Describe the key in use: credential id, scopes, expiry (GET .../self).",
        method="GET",
        path="/v1/agent-credentials/self",
    ),
    ToolSpec(
        name="revoke_credential",
        destructive=True,
        description="Revoke the key in use (or credentialId) at once; do it when you are done.",
        method="POST",
        path=f"/v1/agent-credentials/{{{CREDENTIAL_ID}}}/revoke",
        body=RevokeAgentCredentialRequestDto,
        path_parameter=CREDENTIAL_ID,
        path_parameter_required=False,
    ),
    ToolSpec(
        name="lookup_utility",
        read_only=True,
        description="Utilities and their rate plans for a ZIP code, a place or a utility id.",
        method="POST",
        path="/v1/utility/get",
        body=UtilityRequestDTO,
    ),
    ToolSpec(
        name="create_home",
        description="Create a home (ZIP code and rate plan); answers the home with its id.",
        method="POST",
        path="/v1/homes/create",
        body=CreateClientHomeDto,
    ),
    ToolSpec(
        name="list_homes",
        read_only=True,
        description="List this credential's homes, a page at a time.",
        method="POST",
        path="/v1/homes/list",
        body=ListHomesRequestDto,
    ),
    ToolSpec(
        name="get_home",
        read_only=True,
        description="Get one home by id.",
        method="POST",
        path=f"{_HOME}/get",
        path_parameter=HOME_ID,
    ),
    ToolSpec(
        name="update_home",
        description="Update a home's fields (those sent are changed).",
        method="POST",
        path=f"{_HOME}/update",
        body=UpdateClientHomeDto,
        path_parameter=HOME_ID,
    ),
    ToolSpec(
        name="remove_home",
        destructive=True,
        description="Remove a home.",
        method="POST",
        path=f"{_HOME}/remove",
        path_parameter=HOME_ID,
    ),
    ToolSpec(
        name="monthly_bill",
        read_only=True,
        description="A home's bill for a calendar month, from its usage.",
        method="POST",
        path=f"{_HOME}/bill/monthly",
        body=MonthlyBillRequestDto,
        path_parameter=HOME_ID,
    ),
    ToolSpec(
        name="period_bill",
        read_only=True,
        description="A home's bill for a period (startDate to endDate), from its usage.",
        method="POST",
        path=f"{_HOME}/bill/period",
        body=PeriodBillRequestDto,
        path_parameter=HOME_ID,
    ),
    ToolSpec(
        name="rate_plan_quote",
        read_only=True,
        description="A period bill under a rate plan, without a home.",
        method="POST",
        path=f"/v1/homes/bill/period/rateplan/{{{RATE_PLAN_ID}}}",
        body=PeriodBillRequestDto,
        path_parameter=RATE_PLAN_ID,
    ),
    ToolSpec(
        name="calculate_impact",
        read_only=True,
        description="The bill impact of a modified load under a rate plan at a ZIP code.",
        method="POST",
        path="/v1/calculate/impact",
        body=ImpactRequestDto,
    ),
    ToolSpec(
        name="home_calculate_impact",
        read_only=True,
        description="The bill impact of a modified load for a home.",
        method="POST",
        path=f"/v1/homes/{{{HOME_ID}}}/calculate/impact",
        body=HomeImpactRequestDto,
        path_parameter=HOME_ID,
    ),
    ToolSpec(
        name="price_signal",
        read_only=True,
        description="A home's 15-minute price signal.",
        method="POST",
        path=f"{_HOME}/price_signal",
        body=GetPriceSignalRequestDto,
        path_parameter=HOME_ID,
    ),
    ToolSpec(
        name="battery_estimate",
        read_only=True,
        description="A home's estimated annual battery savings.",
        method="POST",
        path=f"{_HOME}/battery/estimate_savings",
        body=BatteryAnnualEstimatedSavingsRequestDto,
        path_parameter=HOME_ID,
    ),
    ToolSpec(
        name="send_feedback",
        description="Send feedback about the API (needs the feedback:write scope).",
        method="POST",
        path="/v1/feedback",
        body=CreateFeedbackDto,
    ),
)

TOOLS_BY_NAME = {tool.name: tool for tool in TOOLS}

"""Request examples of the sandbox routes, for the OpenAPI document: bodies this server accepts
as they stand (real plan ids of the shipped catalog, ZIP 94107 served by PG&E). Data only."""

from __future__ import annotations

from typing import Any

PGE = "14328"
# PG&E E-TOU-C in the shipped catalog (peak 4-9 p.m.).
E_TOU_C = "69de6fa62aa9e9994f0ed2bd"
ZIPCODE = "94107"
HOME_ID = "ws_home_123456789"

# One day of 96 quarter-hour kWh: a night, a morning, a day and an evening peak.
DAY = [0.2] * 28 + [0.35] * 8 + [0.25] * 32 + [0.6] * 20 + [0.3] * 8
SOLAR_DAY = [0.2] * 28 + [0.35] * 8 + [0.0] * 32 + [0.6] * 20 + [0.3] * 8
EXPORT_DAY = [0.0] * 36 + [0.4] * 32 + [0.0] * 28
FEBRUARY_2026 = 28


def one(summary: str, value: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``openapi_examples`` with a single example."""
    return {"example": {"summary": summary, "value": value}}


UTILITY = {
    "zipcode": {
        "summary": "Utilities and rate plans for a ZIP code, names only",
        "value": {"zipcode": ZIPCODE, "detailLevel": "minimal"},
    },
    "utility": {
        "summary": "One utility by id, every tariff in full, first page of 5",
        "value": {"utilityId": PGE, "detailLevel": "full", "pageSize": 5, "pageNumber": 1},
    },
}
CREATE_HOME = {
    "solar": {
        "summary": "A home on PG&E E-TOU-C with 5 kW of net-metered solar",
        "value": {
            "name": "My Test Home",
            "zipcode": ZIPCODE,
            "utilityId": PGE,
            "ratePlanId": E_TOU_C,
            "solarSystemSizeKw": 5,
            "isNonNetMetered": False,
        },
    },
    "minimal": {"summary": "Only a name (no plan: no bills yet)", "value": {"name": "Draft home"}},
}
CREATE_SOLAR = one(
    "Set a home's solar system",
    {"homeId": HOME_ID, "solarSystemSizeKw": 5, "isNonNetMetered": False},
)
LIST_HOMES = one("The second page of 20", {"pageSize": 20, "pageNumber": 2})
UPDATE_HOME = {
    "solar": {
        "summary": "Rename and change the solar system",
        "value": {"name": "Updated home name", "solarSystemSizeKw": 6.4, "isNonNetMetered": True},
    },
    "plan": {
        "summary": "Move the home to another plan of its utility",
        "value": {"utilityId": PGE, "ratePlanId": E_TOU_C},
    },
}
MONTHLY_BILL = one(
    "February 2026: 28 days of 96 quarter-hour kWh",
    {"month": 2, "year": 2026, "usage": [DAY] * FEBRUARY_2026},
)
PERIOD_BILL = one(
    "One day, with solar export",
    {
        "startDate": "2026-01-07",
        "endDate": "2026-01-08",
        "usage": [SOLAR_DAY],
        "export": [EXPORT_DAY],
    },
)
INLINE_HOME_BILL = one(
    "One day for a home described inline",
    {
        "home": {"ratePlanId": E_TOU_C, "zipcode": ZIPCODE, "name": "My home", "utilityId": PGE},
        "startDate": "2026-01-07",
        "endDate": "2026-01-08",
        "usage": [DAY],
    },
)
RATE_PLAN_QUOTE = one(
    "A quote for February 2026 (whole calendar months only)",
    {"startDate": "2026-02-01", "endDate": "2026-03-01", "usage": [DAY] * FEBRUARY_2026},
)
HOME_IMPACT = one(
    "One day, the evening peak moved to the night",
    {
        "startDate": "2026-01-07",
        "endDate": "2026-01-08",
        "usage": [DAY],
        "modifiedUsage": [[0.5] * 28 + [0.35] * 8 + [0.25] * 32 + [0.2] * 20 + [0.3] * 8],
    },
)
IMPACT = {
    "solar": {
        "summary": "What 5 kW of solar saves a typical home in January, without a home",
        "value": {
            "ratePlanId": E_TOU_C,
            "zipcode": ZIPCODE,
            "startDate": "2026-01-01",
            "endDate": "2026-02-01",
            "useDefaultUsage": True,
            "solarCapacityKw": 5,
        },
    },
    "loads": {
        "summary": "Two loads of one day, billed and compared",
        "value": {
            "ratePlanId": E_TOU_C,
            "zipcode": ZIPCODE,
            "startDate": "2026-01-07",
            "endDate": "2026-01-08",
            "usage": [DAY],
            "modifiedUsage": [SOLAR_DAY],
        },
    },
}
PRICE_SIGNAL = {
    "window": {
        "summary": "A day in the home's local time (no offset)",
        "value": {"startTime": "2026-03-02T00:00:00", "endTime": "2026-03-03T00:00:00"},
    },
    "default": {"summary": "The next 24 hours (or send no body)", "value": {}},
}
BATTERY = one(
    "A 13.5 kWh battery with 5 kW of solar, one simulated day per month",
    {
        "days": 1,
        "solarCapacity": 5,
        "maxCapacityKiloWattHours": 13.5,
        "chargingPowerKiloWatts": 5,
        "dischargingPowerKiloWatts": 5,
        "chargingEfficiency": 0.95,
        "dischargingEfficiency": 0.95,
        "currentSOC": 0.5,
        "minPreferredSOC": 0.2,
        "maxPreferredSOC": 0.9,
        "months": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
    },
)
FEEDBACK = one(
    "WattShift's example: a docs issue from an agent",
    {
        "name": "Avery Developer",
        "company": "Example Energy Co",
        "feedback_type": "docs_issue",
        "summary": "Clarify the usage array shape for period bill impact",
        "message": "The period bill impact docs could state explicitly that each daily usage "
        "array needs 96 fifteen-minute values.",
        "page": "/api-reference/endpoint/homes/calculate-period-bill-impact",
        "endpoint": "/v1/homes/{id}/calculate/impact",
        "environment": "sandbox",
        "submitter": {"kind": "agent", "agent": "claude-code", "client": "cli"},
        "contact": {
            "email": "developer@example.com",
            "preferred_contact": "email",
            "consent_to_contact": True,
        },
    },
)

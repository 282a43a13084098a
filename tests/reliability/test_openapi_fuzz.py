"""Property-based fuzzing of every operation documented at /openapi.json (schemathesis).

Every documented operation is called with generated requests, valid and invalid: schemathesis'
coverage phase (boundary values, missing and wrong fields, wrong methods and content types) and
its fuzzing phase. Each answer must be no 5xx and carry a documented status, a documented
content type and a body matching the documented schema of that status.

So that requests get past the guards into the business logic, the fuzzer holds real things: an
``x-ws-api-key`` of a credential granted every scope, a home on a real rate plan, the catalog's
rate plan ids, and a second credential to revoke (so revoking never locks the others out). Each
real value is one choice among generated ones. The bodies whose constraints the schema cannot
express (dates, days of usage matching the period) also get well-shaped candidates.

The app runs in process under schemathesis' ASGI client, once with a policy without quotas (so
issuance is judged on content, not answered ``rate_limited``) and once with the shipped policy.
"""

from __future__ import annotations

import asyncio
import calendar
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, cast

import hypothesis.strategies as st
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from agentkeys.api.app import create_app
from agentkeys.config import Mode, Settings
from agentkeys.credentials.policy import IssuingPolicy
from agentkeys.credentials.policy_file import load_policy
from agentkeys.credentials.scopes import Scope
from agentkeys.validation import EARLIEST_DAY, EARLIEST_INSTANT, LIMIT_DAY, LIMIT_INSTANT
from tests.support.admin import create_admin_key
from tests.support.app import TEST_SECRET, AppFactory, client_for
from tests.support.catalog import PGE, PLANS
from tests.support.factories import credential_request, issue_credential, key_header
from tests.support.policies import relaxed_policy

ALL_SCOPES = list(Scope)
# Every rate plan of the shipped catalog (sandbox/tariffs/catalog.json).
RATE_PLANS = list(PLANS)
HOME = {"name": "Fuzzed home", "zipcode": "94107", "ratePlanId": RATE_PLANS[0]}
REVOKE = "/v1/agent-credentials/{credentialId}/revoke"
REMOVE_HOME = "/v1/homes/{id}/remove"
MONTHLY_BILL = "/v1/homes/{id}/bill/monthly"
PERIOD_BILL = "/v1/homes/{id}/bill/period"
QUOTE = "/v1/homes/bill/period/rateplan/{ratePlanId}"
INLINE_HOME_BILL = "/v1/homes/bill/period"
HOME_IMPACT = "/v1/homes/{id}/calculate/impact"
IMPACT = "/v1/calculate/impact"
PRICE_SIGNAL = "/v1/homes/{id}/price_signal"
OPEN_ADR_PRICE_SIGNAL = "/v1/homes/{id}/price_signal/open_adr"
SOLAR = "/v1/homes/solar/create"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Fuzzing-phase examples per operation (the coverage phase adds its own deterministic cases).
MAX_EXAMPLES = 30

# Placeholders for real things, set at generation and resolved just before the call: the schema
# is built once per module (coverage cases at collection), the app and its records once per test.
# Path parameters are URL-encoded when generated, so the placeholders need no encoding.
HOLDER_KEY = "placeholder-key-granting-every-scope"
ADMIN_KEY = "placeholder-admin-key-of-role-admin"
REVOCABLE_KEY = "placeholder-key-of-the-credential-to-revoke"
HOLDER_ID = "placeholder-id-of-the-credential-granting-every-scope"
REVOCABLE_ID = "placeholder-id-of-the-credential-to-revoke"
HOME_ID = "placeholder-home-on-a-real-rate-plan"
FRESH_HOME_ID = "placeholder-home-created-for-this-request"


def real_path_parameters(path: str) -> list[dict[str, str]]:
    """Path parameters naming things that exist, for the operation at ``path``."""
    if path == REVOKE:
        return [{"credentialId": REVOCABLE_ID}, {"credentialId": HOLDER_ID}]
    if path.startswith("/v1/admin/") and "{credentialId}" in path:
        return [{"credentialId": HOLDER_ID}, {"credentialId": REVOCABLE_ID}]
    if path == REMOVE_HOME:
        # Removing the shared home would leave the operations fuzzed after this one only 404s.
        return [{"id": FRESH_HOME_ID}]
    if "{id}" in path:
        return [{"id": HOME_ID}]
    if "{ratePlanId}" in path:
        return [{"ratePlanId": plan} for plan in RATE_PLANS]
    return []


# Well-shaped bodies: what the schema cannot say (a date string, as many days of usage as the
# period has) drawn right, every number still drawn from the whole documented range.
KILOWATT_HOURS = st.floats(min_value=0, allow_nan=False, allow_infinity=False)


def days_of(count: int) -> st.SearchStrategy[list[list[float]]]:
    """``count`` days of 96 quarter-hour values: one drawn day repeated (3,000 draws are slow)."""
    return st.lists(KILOWATT_HOURS, min_size=96, max_size=96).map(lambda day: [day] * count)


@st.composite
def usage_bodies(draw: st.DrawFn, count: int) -> dict[str, Any]:
    body: dict[str, Any] = {"usage": draw(days_of(count))}
    if draw(st.booleans()):
        body["export"] = draw(days_of(count))
    if draw(st.booleans()):
        body["debug"] = draw(st.booleans())
    return body


@st.composite
def monthly_bills(draw: st.DrawFn) -> dict[str, Any]:
    year, month = draw(st.integers(2000, 2100)), draw(st.integers(1, 12))
    days = calendar.monthrange(year, month)[1]
    return {"month": month, "year": year, **draw(usage_bodies(days))}


# The calendar's own edges and those of the sandbox's years (2000-2100) are drawn on purpose,
# besides anything in between, mostly near the years the sandbox prices.
LAST_DAY = date.max - timedelta(days=62)
FIRST_INSTANT = datetime.min.replace(tzinfo=UTC)
LAST_INSTANT = datetime.max.replace(tzinfo=UTC) - timedelta(days=40)
PRICED_DAYS = st.dates(min_value=date(1999, 11, 1), max_value=date(2101, 2, 1))
DAY_EDGES = [date.min, LAST_DAY, EARLIEST_DAY, LIMIT_DAY - timedelta(days=1), LIMIT_DAY]
INSTANT_EDGES = [FIRST_INSTANT, LAST_INSTANT, EARLIEST_INSTANT, LIMIT_INSTANT - timedelta(hours=1)]


def _date_text(draw: st.DrawFn, day: date) -> str:
    return draw(st.sampled_from([day.isoformat(), f"{day.isoformat()}T00:00:00Z"]))


@st.composite
def period_bills(draw: st.DrawFn, *, whole_months: bool) -> dict[str, Any]:
    if whole_months:
        year = draw(st.integers(1999, 2101) | st.integers(1, 9998))
        start = date(year, draw(st.integers(1, 12)), 1)
        months = start.month - 1 + draw(st.integers(1, 12))
        end = date(start.year + months // 12, months % 12 + 1, 1)
    else:
        start = draw(st.sampled_from(DAY_EDGES) | PRICED_DAYS | st.dates(max_value=LAST_DAY))
        end = start + timedelta(days=draw(st.integers(1, 62)))
    return {
        "startDate": _date_text(draw, start),
        "endDate": _date_text(draw, end),
        **draw(usage_bodies((end - start).days)),
    }


@st.composite
def home_impacts(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(period_bills(whole_months=False))
    days = len(body["usage"])
    body["modifiedUsage"] = draw(days_of(days))
    if draw(st.booleans()):
        body["modifiedExport"] = draw(days_of(days))
    return body


# A ZIP code each plan's utility serves (the fuzzed home's), or one it does not.
ZIP_CODES = st.sampled_from([HOME["zipcode"], "28202", "10001"])


@st.composite
def impacts(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(period_bills(whole_months=False))
    days = len(body.pop("usage"))
    export = body.pop("export", None)
    body |= {"ratePlanId": draw(st.sampled_from(RATE_PLANS)), "zipcode": draw(ZIP_CODES)}
    if draw(st.booleans()):
        body["useDefaultUsage"] = True
    else:
        body["usage"] = draw(days_of(days))
        if export is not None:
            body["export"] = export
    if draw(st.booleans()):
        body["solarCapacityKw"] = draw(st.floats(min_value=0, max_value=10_000))
    else:
        body["modifiedUsage"] = draw(days_of(days))
    return body


@st.composite
def inline_home_bills(draw: st.DrawFn) -> dict[str, Any]:
    home: dict[str, Any] = {
        "ratePlanId": draw(st.sampled_from(RATE_PLANS)),
        "zipcode": draw(ZIP_CODES),
    }
    if draw(st.booleans()):
        home["solarCapacityKw"] = draw(st.floats(min_value=0, max_value=10_000))
    return {"home": home, **draw(period_bills(whole_months=False))}


OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])


@st.composite
def price_windows(draw: st.DrawFn) -> dict[str, str]:
    start = draw(
        st.sampled_from(INSTANT_EDGES)
        | st.datetimes(
            # Naive bounds, as below.
            min_value=EARLIEST_INSTANT.replace(tzinfo=None) - timedelta(days=2),
            max_value=LIMIT_INSTANT.replace(tzinfo=None) + timedelta(days=2),
            timezones=OFFSETS,
        )
        | st.datetimes(
            # Hypothesis takes naive bounds and puts the drawn time zone on the value itself.
            min_value=FIRST_INSTANT.replace(tzinfo=None),
            max_value=LAST_INSTANT.replace(tzinfo=None),
            timezones=OFFSETS,
        )
    )
    end = start + draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=32)))
    return {"startTime": start.isoformat(), "endTime": end.isoformat()}


@st.composite
def solar_systems(draw: st.DrawFn) -> dict[str, Any]:
    """The real home (its id is in the body), any documented size, either metering."""
    return {
        "homeId": HOME_ID,
        "solarSystemSizeKw": draw(
            st.floats(min_value=0, max_value=10_000, allow_nan=False, exclude_min=True)
        ),
        "isNonNetMetered": draw(st.booleans()),
    }


SHAPED_BODIES: dict[str, st.SearchStrategy[Any]] = {
    MONTHLY_BILL: monthly_bills(),
    PERIOD_BILL: period_bills(whole_months=False),
    QUOTE: period_bills(whole_months=True) | period_bills(whole_months=False),
    PRICE_SIGNAL: price_windows(),
    OPEN_ADR_PRICE_SIGNAL: price_windows(),
    INLINE_HOME_BILL: inline_home_bills(),
    HOME_IMPACT: home_impacts(),
    IMPACT: impacts(),
    SOLAR: solar_systems(),
}


def openapi_document() -> dict[str, Any]:
    """What /openapi.json serves (describing the API touches no database)."""
    settings = Settings(
        mode=Mode.PRODUCTION,
        secret=TEST_SECRET,
        database_url="sqlite+aiosqlite://",
        redis_url=None,
        policy=None,
    )
    document: dict[str, Any] = json.loads(json.dumps(create_app(settings).openapi()))
    return document


DOCUMENT = openapi_document()
# A fixed seed: every run sends the same requests (with the same failures, if any).
schema = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config(seed=20260301))


@schema.auth(refresh_interval=None)  # no caching: the key depends on the operation
class PlaceholderKey:
    """A real key, wherever generation did not set out to send a missing or malformed one."""

    def get(self, case: schemathesis.Case[Any], ctx: schemathesis.AuthContext) -> str:
        if case.operation.path.startswith("/v1/admin/"):
            return ADMIN_KEY
        return REVOCABLE_KEY if case.operation.path == REVOKE else HOLDER_KEY

    def set(self, case: schemathesis.Case[Any], data: str, ctx: schemathesis.AuthContext) -> None:
        # The admin API takes an operator's admin key as a bearer token.
        if data == ADMIN_KEY:
            case.headers["Authorization"] = f"Bearer {data}"
        else:
            case.headers["x-ws-api-key"] = data


@schema.hook("before_generate_path_parameters")
def real_or_generated_path(
    context: schemathesis.HookContext, strategy: st.SearchStrategy[dict[str, Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    assert context.operation is not None
    real = real_path_parameters(context.operation.path)
    return st.sampled_from(real) | strategy if real else strategy


@schema.hook("before_generate_body")
def shaped_or_generated_body(
    context: schemathesis.HookContext, strategy: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    assert context.operation is not None
    shaped = SHAPED_BODIES.get(context.operation.path)
    return shaped | strategy if shaped is not None else strategy


@schema.hook("map_case")
def real_path_in_coverage(
    context: schemathesis.HookContext, case: schemathesis.Case[Any]
) -> schemathesis.Case[Any]:
    """Coverage cases get the first real path parameters, unless breaking the path is what the
    case is about: otherwise their boundary-value bodies would only ever meet a 404."""
    meta = case.meta
    real = real_path_parameters(case.operation.path)
    if (
        real
        and meta is not None
        and meta.phase.name is TestPhase.COVERAGE
        and not meta.is_negative_at(ParameterLocation.PATH)
    ):
        case.path_parameters = dict(real[0])
    return case


@dataclass(frozen=True)
class FuzzTarget:
    """The app under fuzzing and the real things the placeholders stand for."""

    app: FastAPI
    key: str
    credential_id: str
    revocable_key: str
    revocable_id: str
    home_id: str
    admin_key: str

    def resolve(self, case: schemathesis.Case[Any]) -> schemathesis.Case[Any]:
        """A copy of the case with the real things in place of their placeholders (the case
        itself may be an explicit example, shared by the tests of every backend and policy)."""
        real = {
            HOLDER_KEY: self.key,
            REVOCABLE_KEY: self.revocable_key,
            HOLDER_ID: self.credential_id,
            REVOCABLE_ID: self.revocable_id,
            HOME_ID: self.home_id,
        }
        resolved = case.derive(keep_auth=True)
        key = resolved.headers.get("x-ws-api-key")
        if key in real:
            resolved.headers["x-ws-api-key"] = real[key]
        if resolved.headers.get("Authorization") == f"Bearer {ADMIN_KEY}":
            resolved.headers["Authorization"] = f"Bearer {self.admin_key}"
        for name, value in resolved.path_parameters.items():
            if value == FRESH_HOME_ID:
                resolved.path_parameters[name] = self.new_home()
            elif value in real:
                resolved.path_parameters[name] = real[value]
        # The one body naming a thing by id (/v1/homes/solar/create's homeId).
        if isinstance(resolved.body, dict) and resolved.body.get("homeId") == HOME_ID:
            resolved.body = {**resolved.body, "homeId": self.home_id}
        return resolved

    def new_home(self) -> str:
        with asgi_client(self.app) as http:
            return create_home(http, self.key)


def asgi_client(app: FastAPI) -> asgi.ASGIClient:
    """Schemathesis' own ASGI client on the app (the one the fuzzed requests go through)."""
    # Its annotation asks for dict-typed ASGI callables; FastAPI's take any MutableMapping.
    return asgi.get_client(cast(asgi.ASGIApp, app))


def issue_all_scopes(http: asgi.ASGIClient, *, user_email: str) -> dict[str, Any]:
    response = http.post(
        "/v1/agent-credentials",
        json=credential_request(requested_scopes=ALL_SCOPES, user_email=user_email),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["outcome"] == "issued", body
    assert set(body["scopes"]) == set(ALL_SCOPES), body
    return body


def create_home(http: asgi.ASGIClient, key: str) -> str:
    response = http.post("/v1/homes/create", json=HOME, headers=key_header(key))
    assert response.status_code == 201, response.text
    home_id: str = response.json()["id"]
    return home_id


@pytest.fixture(
    params=[
        pytest.param(relaxed_policy, id="relaxed-policy"),
        pytest.param(load_policy, id="default-policy"),
    ]
)
def fuzz_target(make_app: AppFactory, request: pytest.FixtureRequest) -> Iterator[FuzzTarget]:
    build_policy: Callable[[], IssuingPolicy] = request.param
    app = make_app(policy=build_policy())
    _, admin_key = asyncio.run(create_admin_key(request.getfixturevalue("settings"), "fuzz"))
    # All requests go through schemathesis' ASGI client: it runs the app and its lifespan on one
    # event loop thread for the whole test, and the database connections must stay on it.
    with asgi_client(app) as http:
        assert http.get("/openapi.json").json() == DOCUMENT, "fuzzing another API than served"
        holder = issue_all_scopes(http, user_email="fuzz@example.com")
        revocable = issue_all_scopes(http, user_email="fuzz-revoke@example.com")
        home_id = create_home(http, holder["credential"])
    yield FuzzTarget(
        app=app,
        key=holder["credential"],
        credential_id=holder["credential_id"],
        revocable_key=revocable["credential"],
        revocable_id=revocable["credential_id"],
        home_id=home_id,
        admin_key=admin_key,
    )
    # End the app's lifespan (engine, revocation bus) while its database still exists.
    asgi.shutdown_lifespans()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # and no example database: a run never depends on an earlier one
    # The app, its database and its credentials are the state under test: one per test item,
    # shared by its examples on purpose.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_every_documented_operation_answers_as_documented(
    case: schemathesis.Case[Any], fuzz_target: FuzzTarget
) -> None:
    fuzz_target.resolve(case).call_and_validate(app=fuzz_target.app, checks=CHECKS)


# Hostile values, one per field. Schemathesis draws bodies from the schema, whose strings and
# numbers never hold a lone surrogate, NaN or a default-ignorable character. So every string,
# number and free-form field of every documented request body is also walked here: a valid body
# is built per operation and one field at a time is replaced by each hostile value. Values no
# backend can store must be refused with 400 naming the field's JSON path; values that are
# merely odd must be answered with a documented status. Never a 5xx.
NON_FINITE_1E999 = "placeholder-for-the-number-1e999"
NON_FINITE = [math.nan, math.inf, -math.inf, NON_FINITE_1E999]
IGNORABLES = "x\u200by\u00adz\u202ew\ufeffv"  # zero-width space, soft hyphen, RLO, BOM
LONGEST_CAP = 4096  # the longest text a body takes (the verification API's upstream path)
MONTH_OF_USAGE = [[0.5] * 96] * 28  # February 2026
VALID_BODIES: dict[str, dict[str, Any]] = {
    "/v1/agent-credentials": credential_request(),
    REVOKE: {"reason": "rotating keys"},
    # An unsigned leak report: answered 202 whatever it names.
    "/v1/agent-credentials/leaked": {"credential": "wsk_agent_guess", "url": "https://x.test/a"},
    "/v1/feedback": {"name": "Ada", "message": "It works"},
    "/v1/admin/credentials/{credentialId}/revoke": {"reason": "incident"},
    "/v1/admin/credentials/revoke": {"organization": "Nobody Co", "reason": "incident"},
    # Private addresses are allowed in these apps (the SSRF guard has tests of its own).
    "/v1/admin/webhooks": {"url": "http://127.0.0.1:9/hook", "events": ["credential.issued"]},
    "/v1/admin/webhooks/{endpointId}/update": {"description": "Renamed"},
    # Answered 200 with a verdict whatever the key (the caller is the fuzz's admin key).
    "/v1/keys/verify": {
        "key": "wsk_agent_guess",
        "scopes": ["utility:read"],
        "method": "GET",
        "path": "/v2/meters/1",
    },
    "/v1/utility/get": {"zipcode": "94107"},
    "/v1/homes/create": dict(HOME),
    SOLAR: {"homeId": HOME_ID, "solarSystemSizeKw": 6.4, "isNonNetMetered": False},
    "/v1/homes/list": {"pageSize": 10},
    "/v1/homes/{id}/update": {"name": "Renamed"},
    MONTHLY_BILL: {"month": 2, "year": 2026, "usage": MONTH_OF_USAGE},
    PERIOD_BILL: {"startDate": "2026-02-01", "endDate": "2026-03-01", "usage": MONTH_OF_USAGE},
    QUOTE: {"startDate": "2026-02-01", "endDate": "2026-03-01", "usage": MONTH_OF_USAGE},
    INLINE_HOME_BILL: {
        "home": {
            "ratePlanId": RATE_PLANS[0],
            "zipcode": HOME["zipcode"],
            "name": "Inline home",
            "utilityId": PGE,
            "solarCapacityKw": 5,
        },
        "startDate": "2026-02-01",
        "endDate": "2026-03-01",
        "usage": MONTH_OF_USAGE,
    },
    HOME_IMPACT: {
        "startDate": "2026-02-01",
        "endDate": "2026-03-01",
        "usage": MONTH_OF_USAGE,
        "modifiedUsage": MONTH_OF_USAGE,
        "modifiedExport": MONTH_OF_USAGE,
    },
    IMPACT: {
        "ratePlanId": RATE_PLANS[0],
        "zipcode": HOME["zipcode"],
        "startDate": "2026-02-01",
        "endDate": "2026-03-01",
        "usage": MONTH_OF_USAGE,
        "export": MONTH_OF_USAGE,
        "modifiedUsage": MONTH_OF_USAGE,
        "modifiedExport": MONTH_OF_USAGE,
    },
    PRICE_SIGNAL: {"startTime": "2026-02-01T00:00:00Z", "endTime": "2026-02-01T01:00:00Z"},
    OPEN_ADR_PRICE_SIGNAL: {"startTime": "2026-02-01T00:00:00Z", "endTime": "2026-02-01T01:00:00Z"},
    "/v1/homes/{id}/battery/estimate_savings": {
        "days": 1,
        "months": [1],
        "maxCapacityKiloWattHours": 13.5,
        "chargingPowerKiloWatts": 5,
        "dischargingPowerKiloWatts": 5,
        "chargingEfficiency": 0.95,
        "dischargingEfficiency": 0.95,
        "minPreferredSOC": 0.1,
        "maxPreferredSOC": 0.9,
        "currentSOC": 0.5,
    },
}
Path = tuple[int | str, ...]


@dataclass(frozen=True)
class Leaf:
    """A value in a request body: its JSON path, its kind and its schema."""

    path: Path
    kind: str  # string, number, free (any JSON) or object (a free-form JSON object)
    schema: dict[str, Any]


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = {**DOCUMENT["components"]["schemas"][name], "x-name": name}
    return schema


def leaves(schema: dict[str, Any], path: Path = ()) -> Iterator[Leaf]:
    """Every string, number and free-form value the schema describes (array items at [0])."""
    schema = resolve(schema)
    if schema.get("x-name") == "JsonValue" or not ({"type", "anyOf", "enum"} & schema.keys()):
        yield Leaf(path, "free", schema)
        return
    for alternative in schema.get("anyOf", []):
        yield from leaves(alternative, path)
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        for name, member in schema["properties"].items():
            yield from leaves(member, (*path, name))
    elif kind == "object":
        yield Leaf(path, "object", schema)
    elif kind == "array":
        yield from leaves(schema["items"], (*path, 0))
    elif kind == "string":
        yield Leaf(path, "string", schema)
    elif kind in {"number", "integer"}:
        yield Leaf(path, "number", schema)


def request_schema(path: str) -> dict[str, Any]:
    content = DOCUMENT["paths"][path]["post"]["requestBody"]["content"]
    schema: dict[str, Any] = content["application/json"]["schema"]
    return schema


def operations_with_bodies() -> list[str]:
    """The operations taking a JSON body (introspection's RFC 7662 form has tests of its own)."""
    return [
        path
        for path, item in DOCUMENT["paths"].items()
        if "application/json" in item.get("post", {}).get("requestBody", {}).get("content", {})
    ]


def field_path(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def with_value(body: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    """A deep copy of ``body`` with ``value`` at ``path`` (array items are always the first),
    creating what is missing on the way."""
    copy: dict[str, Any] = json.loads(json.dumps(body))
    node: Any = copy
    for position, part in enumerate(path):
        last = position == len(path) - 1
        empty: Any = None if last else ([] if isinstance(path[position + 1], int) else {})
        if isinstance(node, list):
            if last:
                node[:1] = [value]
            elif not node:
                node.append(empty)
            node = node[0] if node else None
        elif last:
            node[part] = value
        else:
            if not isinstance(node.get(part), (dict, list)):
                node[part] = empty
            node = node[part]
    return copy


def deeply_nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"d": value}
    return value


@dataclass(frozen=True)
class Hostile:
    """A value for a leaf, and where the refusal must point (``None``: refusal not required)."""

    value: Any
    refused_at: Path | None


def hostile_values(leaf: Leaf) -> Iterator[Hostile]:
    at = leaf.path
    for number in NON_FINITE:
        yield Hostile(number, at)
    if leaf.kind == "string":
        yield Hostile("a\ud800b", at)
        yield Hostile("a\udfffb", at)
        yield Hostile("a\x00b", at)
        yield Hostile(IGNORABLES, None)
        yield Hostile("a" * (leaf.schema.get("maxLength", LONGEST_CAP) + 1), at)
    if leaf.kind in {"free", "object"}:
        inner: list[tuple[Any, Path | None]] = [
            ({"panels": [{"kw": 1.0}, {"kw": number}]}, (*at, "panels", 1, "kw"))
            for number in NON_FINITE
        ]
        inner += [
            ({"note": "a\ud800"}, (*at, "note")),
            ({"list": ["ok", "a\x00"]}, (*at, "list", 1)),
            ({"bad\udc00key": 1}, at),
            ({"tag": IGNORABLES, IGNORABLES: 1}, None),
            ({"blob": "a" * 9000}, at),
            (deeply_nested(20), at),
        ]
        for value, refused_at in inner:
            yield Hostile(value, refused_at)
    if leaf.kind == "free":
        yield Hostile("a\ud800", at)
        yield Hostile([1, math.nan], (*at, 1))


def encoded(body: dict[str, Any]) -> bytes:
    """JSON text with NaN and Infinity as bare tokens, 1e999 as written, surrogates escaped."""
    text = json.dumps(body, allow_nan=True)
    return text.replace(f'"{NON_FINITE_1E999}"', "1e999").encode()


def documented_statuses(path: str) -> set[int]:
    return {int(status) for status in DOCUMENT["paths"][path]["post"]["responses"]}


def refusal_names(answer: dict[str, Any], path: Path, *, operation: str) -> bool:
    """Whether a field_errors entry names ``path`` or a value inside it."""
    wanted = field_path(path) or "body"
    entries = answer.get("field_errors") or []
    fields = [entry["field"] for entry in entries]
    return any(f == wanted or f.startswith((f"{wanted}.", f"{wanted}[")) for f in fields)


class TestRequestSchemas:
    def test_every_operation_with_a_body_has_a_valid_body_to_vary(self) -> None:
        assert set(operations_with_bodies()) == set(VALID_BODIES)

    @pytest.mark.parametrize("path", operations_with_bodies())
    def test_every_string_is_capped(self, path: str) -> None:
        strings = [leaf for leaf in leaves(request_schema(path)) if leaf.kind == "string"]
        for leaf in strings:
            cap = leaf.schema.get("maxLength")
            assert cap is not None or "enum" in leaf.schema, field_path(leaf.path)
            assert cap is None or cap <= LONGEST_CAP, field_path(leaf.path)

    def test_the_walker_finds_nested_strings_numbers_and_free_form_fields(self) -> None:
        found = {
            (field_path(leaf.path), leaf.kind)
            for path in operations_with_bodies()
            for leaf in leaves(request_schema(path))
        }
        assert {
            ("solarInfo", "object"),
            ("sanitized_evidence", "free"),
            ("routing_tags", "object"),
            ("submitter.agent", "string"),
            ("source_urls[0]", "string"),
            ("usage[0][0]", "number"),
            ("solarSystemSizeKw", "number"),
            ("startDate", "string"),
        } <= found


# What each backend can store is the point of these values.
@pytest.mark.both_backends
@pytest.mark.parametrize("operation", sorted(VALID_BODIES))
async def test_hostile_values_in_every_field_are_refused_or_answered_as_documented(
    operation: str, make_app: AppFactory, settings: Settings
) -> None:
    _, admin_key = await create_admin_key(settings, "fuzz")
    app = make_app(policy=relaxed_policy(), webhooks_allow_private=True)
    async with client_for(app) as http:
        holder = await issue_credential(
            http, requested_scopes=ALL_SCOPES, user_email="hostile@example.com"
        )
        revocable = await issue_credential(
            http, requested_scopes=ALL_SCOPES, user_email="hostile-revoke@example.com"
        )
        created = await http.post(
            "/v1/homes/create", json=HOME, headers=key_header(holder["credential"])
        )
        assert created.status_code == 201, created.text
        revoking = operation == REVOKE
        key = revocable["credential"] if revoking else holder["credential"]
        if "{endpointId}" in operation:
            endpoint = await http.post(
                "/v1/admin/webhooks",
                json=VALID_BODIES["/v1/admin/webhooks"],
                headers={"Authorization": f"Bearer {admin_key}"},
            )
            assert endpoint.status_code == 201, endpoint.text
            operation_url = operation.replace("{endpointId}", endpoint.json()["endpoint_id"])
        else:
            operation_url = operation
        url = (
            operation_url.replace("{credentialId}", revocable["credential_id"])
            .replace("{id}", created.json()["id"])
            .replace("{ratePlanId}", RATE_PLANS[0])
        )
        # The admin API takes an operator's admin key.
        headers = {
            **(
                {"Authorization": f"Bearer {admin_key}"}
                if operation.startswith("/v1/admin/") or operation == "/v1/keys/verify"
                else key_header(key)
            ),
            "Content-Type": "application/json",
        }
        valid = VALID_BODIES[operation]
        if valid.get("homeId") == HOME_ID:
            valid = {**valid, "homeId": created.json()["id"]}
        answer = await http.post(url, content=encoded(valid), headers=headers)
        assert answer.status_code in {200, 201, 202}, answer.text
        allowed = documented_statuses(operation)
        tried = 0
        for leaf in leaves(request_schema(operation)):
            for hostile in hostile_values(leaf):
                body = with_value(valid, leaf.path, hostile.value)
                response = await http.post(url, content=encoded(body), headers=headers)
                tried += 1
                where = f"{operation} {field_path(leaf.path)} = {hostile.value!r:.60}"
                assert response.status_code < 500, f"{where}: {response.text}"
                assert response.status_code in allowed, f"{where}: {response.text}"
                if hostile.refused_at is not None:
                    assert response.status_code == 400, f"{where}: {response.text}"
                    assert refusal_names(
                        response.json(), hostile.refused_at, operation=operation
                    ), f"{where}: {response.text}"
        assert tried > 0

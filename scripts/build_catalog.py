#!/usr/bin/env python3
"""Build the sandbox tariff catalog (``src/agentkeys/sandbox/tariffs/catalog.json``).

Reads the public source data (``ratebook/``, ``urdb-dgen/residential_no_enddate.json``,
``eia-openei-zip/non_iou_zipcodes_2024.csv``; see SOURCES.md) and writes every priceable
residential plan in the shape of ``agentkeys.sandbox.tariffs.model.Catalog``, plus
``catalog_build_report.json`` (what was left out and why). The output is deterministic: running
the script twice on the same data writes the same bytes, which ``--check`` (and
tests/unit/test_catalog_build.py) compare with the shipped files.

    python scripts/build_catalog.py [--data DIR] [--out DIR] [--check]

Precedence per utility (EIA id): ratebook plans, else URDB plans (the newest start date only),
else one flat plan at the utility's EIA-861 average residential rate.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from agentkeys.sandbox.tariffs.holidays import HOLIDAY_NAMES  # noqa: E402
from agentkeys.sandbox.tariffs.model import Catalog  # noqa: E402

DEFAULT_OUT = REPO / "src" / "agentkeys" / "sandbox" / "tariffs"
CATALOG_FILE = "catalog.json"
REPORT_FILE = "catalog_build_report.json"

# The build's "today": fixed, so the output does not change with the day it is run. Ratebook
# plans whose effective range ended before it are dropped; URDB rates starting more than five
# years before it are marked stale.
AS_OF = date(2026, 12, 1)
STALE_BEFORE = date(AS_OF.year - 5, AS_OF.month, AS_OF.day)

URDB_PAGE = "https://apps.openei.org/IURDB/rate/view/{label}"
EIA_ZIP_PAGE = "https://data.openei.org/submissions/8563"
EIA_ZIP_TITLE = "U.S. Electric Utility Companies and Rates: Look-up by Zipcode (2024)"
EIA_PLAN_NAME = "EIA-861 average residential rate (2024), flat"

# Ids the sandbox answered before the catalog used URDB labels → the ratebook slug they became.
LEGACY_SLUGS = {
    "8fafe26c6f12cd7da414d3cd": "pge-e-tou-c",
    "f32aedcaba2a8d4211e3f7d8": "pge-e-1",
    "70615ff74102db7043697d35": "sce-tou-d-4-9pm",
    "572cc796dcfa91eff80286e8": "duke-carolinas-rs",
}

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
JULY = 7
TIER_UNITS = {"kWh": "month", "kWh daily": "day", None: "month"}
PER = {"$/month": "month", "$/day": "day"}

STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC",
    "Florida": "FL", "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL",
    "Indiana": "IN", "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA",
    "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN",
    "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV",
    "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY",
    "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR",
    "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD",
    "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA",
    "Washington": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
}  # fmt: skip


class Excluded(Exception):
    """A source record the catalog cannot price; ``reason`` is the count's key."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class RawTier:
    price: Decimal
    max_kwh: Decimal | None
    sell: Decimal | None


@dataclass
class RawPlan:
    """A plan on its way into the catalog: the source's periods and schedules, plus metadata."""

    utility_id: str
    plan_id: str
    rate_id: str
    name: str
    data_source: str
    source: str
    effective_date: date | None
    periods: list[list[RawTier]]
    weekday: list[list[int]]
    weekend: list[list[int]]
    tier_unit: str = "month"
    sources: list[dict[str, str]] = field(default_factory=list)
    end_date: date | None = None
    last_verified: date | None = None
    stale: bool = False
    simplifications: list[str] = field(default_factory=list)
    notes: str = ""
    holidays: dict[str, Any] | None = None
    fixed_charges: list[dict[str, Any]] = field(default_factory=list)
    minimum_charge: dict[str, Any] | None = None
    export_credit: str = "none"
    order: tuple[Any, ...] = ()


@dataclass
class Build:
    utilities: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → name, state
    plans: list[RawPlan] = field(default_factory=list)
    excluded: dict[str, Counter[str]] = field(default_factory=dict)  # data source → reason → n

    def exclude(self, data_source: str, reason: str) -> None:
        self.excluded.setdefault(data_source, Counter())[reason] += 1


# --- shared conversion -------------------------------------------------------------------------


def derived_id(key: str) -> str:
    """A stable 24-hex plan id for a source record without a URDB label."""
    return hashlib.sha1(key.encode()).hexdigest()[:24]  # noqa: S324 - an id, not a secret


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


def number(value: Decimal) -> float | int:
    """JSON number of a Decimal: an int when whole, so 30 stays 30 and 0.1447181 stays exact."""
    normal = value.normalize()
    return int(normal) if normal == normal.to_integral_value() else float(normal)


def month_label(months: Sequence[int]) -> str:
    """Months as ranges, wrapping the year: (1,2,3,10,11,12) → "Oct-Mar", (6,7,8,9) → "Jun-Sep"."""
    runs: list[list[int]] = []
    for month in sorted(months):
        if runs and runs[-1][-1] == month - 1:
            runs[-1].append(month)
        else:
            runs.append([month])
    if len(runs) > 1 and runs[0][0] == 1 and runs[-1][-1] == 12:
        runs = [runs[-1] + runs[0], *runs[1:-1]]
    labels = [
        MONTHS[r[0] - 1] if len(r) == 1 else f"{MONTHS[r[0] - 1]}-{MONTHS[r[-1] - 1]}" for r in runs
    ]
    return ", ".join(labels)


def seasons_of(weekday: list[list[int]], weekend: list[list[int]]) -> dict[str, list[int]]:
    """Months with the same (weekday, weekend) rows form a season; two are summer (July's) and
    winter, one is "all year", more are named by their months."""
    groups: dict[tuple[tuple[int, ...], tuple[int, ...]], list[int]] = {}
    for month in range(12):
        groups.setdefault((tuple(weekday[month]), tuple(weekend[month])), []).append(month + 1)
    months = list(groups.values())
    if len(months) == 1:
        return {"all year": months[0]}
    if len(months) == 2:
        summer = next(group for group in months if JULY in group)
        winter = next(group for group in months if JULY not in group)
        return {"summer": summer, "winter": winter}
    return {month_label(group): group for group in months}


def rank_names(count: int) -> list[str]:
    """Names of a season's periods, cheapest first."""
    if count == 1:
        return ["all hours"]
    if count == 2:
        return ["off-peak", "peak"]
    if count == 3:
        return ["off-peak", "mid-peak", "peak"]
    return [f"period {rank}" for rank in range(1, count + 1)]


def period_names(plan: RawPlan, seasons: dict[str, list[int]]) -> list[str]:
    """Name each period by its first-tier price rank within the first season (by month) using
    it; names that two periods would share get their season in front ("summer peak")."""
    claimed: dict[int, tuple[str, str]] = {}
    for season, months in sorted(seasons.items(), key=lambda item: min(item[1])):
        used = sorted(
            {
                index
                for month in months
                for row in (plan.weekday, plan.weekend)
                for index in row[month - 1]
            },
            key=lambda index: (plan.periods[index][0].price, index),
        )
        for index, name in zip(used, rank_names(len(used)), strict=True):
            claimed.setdefault(index, (season, name))
    counts = Counter(name for _, name in claimed.values())
    return [
        name if counts[name] == 1 else f"{season} {name}"
        for season, name in (claimed[index] for index in range(len(plan.periods)))
    ]


def drop_unused_periods(plan: RawPlan) -> None:
    used = sorted({index for rows in (plan.weekday, plan.weekend) for row in rows for index in row})
    if used == list(range(len(plan.periods))):
        return
    remap = {old: new for new, old in enumerate(used)}
    plan.periods = [plan.periods[old] for old in used]
    plan.weekday = [[remap[i] for i in row] for row in plan.weekday]
    plan.weekend = [[remap[i] for i in row] for row in plan.weekend]
    plan.simplifications.append("Periods no schedule hour uses were left out.")


def check_shape(plan: RawPlan) -> None:
    """Raise Excluded for what the model cannot hold; fix what it can (with a simplification)."""
    for rows in (plan.weekday, plan.weekend):
        if len(rows) != 12 or any(len(row) != 24 for row in rows):
            raise Excluded("schedule is not 12 x 24")
        if any(not 0 <= i < len(plan.periods) for row in rows for i in row):
            raise Excluded("schedule names a missing period")
    if not plan.periods or any(not tiers for tiers in plan.periods):
        raise Excluded("no energy rate structure")
    drop_unused_periods(plan)
    if all(tier.price <= 0 for tiers in plan.periods for tier in tiers):
        # A credit rider (URDB's "Residential Power Exchange" pays for every kWh), not a tariff:
        # billed alone it would charge a home less than nothing for its energy.
        raise Excluded("no positive energy price (a credit rider, not a tariff)")
    if len(plan.periods) > 10:
        raise Excluded("more than 10 periods")
    last_dropped = False
    for tiers in plan.periods:
        if tiers[-1].max_kwh is not None:
            tiers[-1].max_kwh = None
            last_dropped = True
        limits = [tier.max_kwh for tier in tiers[:-1]]
        bounded = [limit for limit in limits if limit is not None and limit > 0]
        if len(bounded) != len(limits) or bounded != sorted(set(bounded)):
            raise Excluded("tier limits not positive and increasing")
    if last_dropped:
        plan.simplifications.append(
            "The last tier's limit was dropped: usage above it is priced at the last tier."
        )


def supported_type(plan: RawPlan) -> str:
    if (
        any(len(set(row)) > 1 for row in (*plan.weekday, *plan.weekend))
        or plan.weekday != plan.weekend
    ):
        return "tou"
    if any(tier.max_kwh is not None for tiers in plan.periods for tier in tiers):
        return "tiered"
    return "flat"


def describe(plan: RawPlan, kind: str, utility_name: str, seasons: dict[str, list[int]]) -> str:
    shape = {"tou": "time-of-use", "tiered": "tiered", "flat": "flat"}[kind]
    if kind == "tiered" or (kind == "tou" and any(len(t) > 1 for t in plan.periods)):
        shape += f" (tiers by kWh per {plan.tier_unit})" if kind == "tiered" else " with tiers"
    season_text = "" if len(seasons) == 1 else f", {len(seasons)} seasons"
    period_text = f"{len(plan.periods)} price period{'s' if len(plan.periods) > 1 else ''}"
    return f"{utility_name}: {plan.name}. A {shape} residential rate: {period_text}{season_text}."


def plan_json(plan: RawPlan, utility_name: str) -> dict[str, Any]:
    seasons = seasons_of(plan.weekday, plan.weekend)
    names = period_names(plan, seasons)
    kind = supported_type(plan)
    out: dict[str, Any] = {
        "id": plan.plan_id,
        "rateID": plan.rate_id,
        "ratePlanName": plan.name,
        "supportedType": kind,
        "description": describe(plan, kind, utility_name, seasons),
        "dataSource": plan.data_source,
        "source": plan.source,
        "effectiveDate": plan.effective_date.isoformat() if plan.effective_date else None,
        "seasons": seasons,
        "periods": [
            {"name": name, "tiers": [tier_json(tier) for tier in tiers]}
            for name, tiers in zip(names, plan.periods, strict=True)
        ],
        "tierUnit": plan.tier_unit,
        "weekdaySchedule": ["".join(map(str, row)) for row in plan.weekday],
        "weekendSchedule": ["".join(map(str, row)) for row in plan.weekend],
        "exportCredit": {"type": plan.export_credit},
    }
    if plan.sources:
        out["sources"] = plan.sources
    if plan.end_date:
        out["endDate"] = plan.end_date.isoformat()
    if plan.last_verified:
        out["lastVerified"] = plan.last_verified.isoformat()
    if plan.stale:
        out["stale"] = True
    if plan.simplifications:
        out["simplifications"] = plan.simplifications
    if plan.notes:
        out["notes"] = plan.notes
    if plan.holidays:
        out["holidays"] = plan.holidays
    if plan.fixed_charges:
        out["fixedCharges"] = plan.fixed_charges
    if plan.minimum_charge:
        out["minimumCharge"] = plan.minimum_charge
    return out


def tier_json(tier: RawTier) -> dict[str, Any]:
    out: dict[str, Any] = {"price": number(tier.price)}
    if tier.max_kwh is not None:
        out["maxKwh"] = number(tier.max_kwh)
    if tier.sell is not None:
        out["sell"] = number(tier.sell)
    return out


def weekend_differs(plan: RawPlan) -> bool:
    return plan.weekday != plan.weekend


def export_rule(plan: RawPlan, rule: str | None, source_name: str) -> None:
    """Set the plan's export credit from the source's metering rule, saying what was assumed."""
    every_sell = all(tiers[0].sell is not None for tiers in plan.periods)
    if rule == "net_metering":
        plan.export_credit = "retail"
        return
    if every_sell:
        plan.export_credit = "sell"
        if rule is None:
            plan.simplifications.append(
                f"{source_name[0].upper()}{source_name[1:]} names no export rule: exports are "
                "credited at its sell rates."
            )
        return
    plan.export_credit = "none"
    if rule in {"net_billing", "buy_all_sell_all"}:
        plan.simplifications.append(
            f"Exports are not credited: {source_name} says {rule.replace('_', ' ')} "
            "but gives no sell rate."
        )
    else:
        plan.simplifications.append(
            f"Exports are not credited: {source_name} gives no export rule."
        )


# --- ratebook ------------------------------------------------------------------------------------


def read_ratebook(data: Path, build: Build) -> None:
    manifest = json.loads((data / "ratebook" / "manifest.json").read_text("utf-8"))
    entries = {entry["slug"]: entry for entry in manifest["tariffs"]}
    for path in sorted((data / "ratebook" / "tariffs").glob("*.json")):
        slug = path.stem
        tariff = json.loads(path.read_text("utf-8"))
        try:
            plan = ratebook_plan(slug, tariff, entries[slug])
        except Excluded as excluded:
            build.exclude("ratebook", excluded.reason)
            continue
        build.plans.append(plan)
        build.utilities.setdefault(
            plan.utility_id,
            {"utilityName": entries[slug]["utility_display"], "state": entries[slug]["state"]},
        )


# A URL in prose: its own balanced parentheses ("EV2%20(Sch).pdf") belong to it, a closing one
# that ends the sentence's "(see https://…)" does not.
URL = re.compile(r"https?://(?:[^\s()]|\([^\s()]*\))+")


def source_of(doc: dict[str, Any], utility: str) -> dict[str, str] | None:
    """A ratebook source document as a Source; some give prose with the URL inside it."""
    found = URL.search(doc["url"])
    if found is None:
        return None
    source = {"url": found[0], "title": f"{utility} {doc['role'].replace('_', ' ')}"}
    if found[0] != doc["url"]:
        source["what"] = " ".join(doc["url"].split())
    return source


def ratebook_plan(slug: str, tariff: dict[str, Any], entry: dict[str, Any]) -> RawPlan:
    identity, effective = tariff["identity"], tariff["effective_range"]
    provenance, schedule = tariff["provenance"], tariff["schedule"]
    if effective["end"] and date.fromisoformat(effective["end"]) < AS_OF:
        raise Excluded("ended before the build date")
    units = {tier["max_unit"] for period in tariff["energy"]["periods"] for tier in period["tiers"]}
    if len(units) > 1:
        raise Excluded("tiers mix kWh per month and per day")
    if not units <= set(TIER_UNITS):
        raise Excluded("tier unit other than kWh or kWh daily")
    periods = [
        [
            RawTier(
                price=dec(tier["rate"]) + dec(tier["adj"] or 0),
                max_kwh=dec(tier["max"]) if tier["max"] is not None else None,
                sell=dec(tier["sell"]) if tier["sell"] is not None else None,
            )
            for tier in period["tiers"]
        ]
        for period in tariff["energy"]["periods"]
    ]
    label = provenance.get("urdb_label")
    found = [
        (doc["role"], source_of(doc, entry["utility_display"]))
        for doc in tariff.get("source_documents") or []
    ]
    sources = [source for _, source in found if source]
    rate_sheet = next((s["url"] for role, s in found if s and role == "rate_sheet"), None)
    manifest_url = URL.search(entry.get("source_url") or "")
    if label:
        sources.append(
            {"url": URDB_PAGE.format(label=label), "title": "U.S. Utility Rate Database record"}
        )
    if manifest_url and all(s["url"] != manifest_url[0] for s in sources):
        sources.append({"url": manifest_url[0], "title": "ratebook manifest source"})
    plan = RawPlan(
        utility_id=str(identity["eiaid"]),
        plan_id=label or derived_id(f"ratebook:{slug}"),
        rate_id=slug,
        name=entry.get("plan_name") or identity["plan_name"],
        data_source="ratebook",
        source=rate_sheet or (manifest_url[0] if manifest_url else URDB_PAGE.format(label=label)),
        effective_date=date.fromisoformat(effective["start"]) if effective["start"] else None,
        end_date=date.fromisoformat(effective["scheduled_end"])
        if effective["scheduled_end"]
        else None,
        last_verified=(
            date.fromisoformat(provenance["last_verified"])
            if provenance.get("last_verified")
            else None
        ),
        periods=periods,
        weekday=[list(row) for row in schedule["weekday"]],
        weekend=[list(row) for row in schedule["weekend"]],
        tier_unit=TIER_UNITS[units.pop() if units else None],
        sources=sources,
        notes=f"ratebook confidence: {entry.get('confidence')}. {entry.get('note') or ''}".strip(),
        order=(identity.get("is_default_plan") is not True, entry.get("plan_name") or "", slug),
    )
    if plan.effective_date is None:
        plan.simplifications.append("The source gives no effective date.")
    if plan.end_date and plan.end_date < AS_OF:
        plan.simplifications.append(
            f"Scheduled to end on {plan.end_date.isoformat()}; kept as the latest rate the data "
            "holds."
        )
    if not provenance.get("last_verified"):
        plan.simplifications.append(
            "Not audited against the rate sheet: URDB as of the ratebook snapshot (2026-06-13)."
        )
    ratebook_holidays(plan, schedule)
    ratebook_charges(plan, tariff)
    export_rule(plan, tariff.get("metering"), "the ratebook file")
    check_shape(plan)
    return plan


def ratebook_charges(plan: RawPlan, tariff: dict[str, Any]) -> None:
    for index, charge in enumerate(tariff.get("fixed_charges") or []):
        if charge["unit"] not in PER:
            raise Excluded("fixed charge unit other than $/month or $/day")
        amount = dec(charge["amount"])
        if amount:
            name = "Fixed customer charge" if index == 0 else f"Fixed charge {index + 1}"
            plan.fixed_charges.append(
                {"name": name, "amount": number(amount), "per": PER[charge["unit"]]}
            )
    minimum = tariff.get("min_charge")
    if minimum and dec(minimum["amount"]) > 0:
        if minimum["unit"] not in PER:
            raise Excluded("minimum charge unit other than $/month or $/day")
        plan.minimum_charge = {
            "amount": number(dec(minimum["amount"])),
            "per": PER[minimum["unit"]],
        }


def ratebook_holidays(plan: RawPlan, schedule: dict[str, Any]) -> None:
    policy, days = schedule.get("holiday_policy"), schedule.get("holidays") or []
    if policy == "as_weekend" and days:
        unknown = [day for day in days if day not in HOLIDAY_NAMES]
        if unknown:
            raise Excluded("holiday the calendar does not know")
        observed = schedule.get("holiday_observance") != "actual_day"
        plan.holidays = {"days": list(days), "observed": observed}
        if observed and schedule.get("holiday_observance") is None:
            plan.simplifications.append(
                "Holiday observance not stated: a holiday on a Sunday is also priced as a weekend "
                "on the Monday after (NERC's rule; a Saturday holiday is not moved)."
            )
    elif weekend_differs(plan) and policy != "as_weekday":
        plan.simplifications.append("Holidays are priced as ordinary days: the source names none.")


# --- states and names of utilities ---------------------------------------------------------------


@dataclass
class UtilityFacts:
    """What the EIA files say of each utility: name and state (the most common across rows)."""

    names: dict[str, str]
    states: dict[str, str]
    zip_rows: dict[str, list[dict[str, str]]]


def most_common(counter: Counter[str]) -> str:
    return min(counter.items(), key=lambda item: (-item[1], item[0]))[0]


def read_utility_facts(data: Path) -> UtilityFacts:
    zip_rows: dict[str, list[dict[str, str]]] = {}
    with (data / "eia-openei-zip" / "non_iou_zipcodes_2024.csv").open(encoding="utf-8") as file:
        for row in csv.DictReader(file):
            zip_rows.setdefault(row["eiaid"], []).append(row)
    names = {
        eia: most_common(Counter(r["utility_name"] for r in rows)) for eia, rows in zip_rows.items()
    }
    states = {eia: most_common(Counter(r["state"] for r in rows)) for eia, rows in zip_rows.items()}
    territory = data / "eia-861-territory" / "service_territory_2018.csv"
    if territory.is_file():
        counties: dict[str, Counter[str]] = {}
        with territory.open(encoding="utf-8") as file:
            for row in csv.DictReader(file):
                state = STATES.get(row["State_Name"])
                if state:
                    counties.setdefault(row["Utility_Number"], Counter())[state] += 1
                    names.setdefault(row["Utility_Number"], row["Utility_Name"])
        for eia, counter in counties.items():
            states.setdefault(eia, most_common(counter))
    return UtilityFacts(names=names, states=states, zip_rows=zip_rows)


def state_in_name(name: str) -> str | None:
    """A state written in a URDB utility name: "City of Lamar, Colorado (Utility Company)"."""
    found = [code for state, code in STATES.items() if re.search(rf"\b{state}\b", name)]
    return found[0] if len(found) == 1 else None


# --- URDB (dGen's cache) -------------------------------------------------------------------------

DEMAND_KEYS = ("demandratestructure", "flatdemandstructure", "coincidentratestructure")
DG_RULES = {"Net Metering": "net_metering", "Buy All Sell All": "buy_all_sell_all"}
DAILY_CHARGE = re.compile(r"^\$(\d+(?:\.\d+)?)$")


def read_urdb(data: Path, build: Build, facts: UtilityFacts) -> None:
    records = json.loads((data / "urdb-dgen" / "residential_no_enddate.json").read_text("utf-8"))
    ratebook_utilities = {plan.utility_id for plan in build.plans}
    candidates: dict[str, list[RawPlan]] = {}
    for record in sorted(records, key=lambda record: record["label"]):
        utility_id = str(record["eiaid"])
        if utility_id in ratebook_utilities:
            build.exclude("urdb", "utility has ratebook plans")
            continue
        state = facts.states.get(utility_id) or state_in_name(record["utility"])
        if state is None:  # such a utility serves no ZIP of the EIA files either
            build.exclude("urdb", "utility in no EIA file (no state)")
            continue
        try:
            plan = urdb_plan(record)
        except Excluded as excluded:
            build.exclude("urdb", excluded.reason)
            continue
        candidates.setdefault(utility_id, []).append(plan)
        build.utilities.setdefault(
            utility_id,
            {"utilityName": facts.names.get(utility_id, record["utility"]), "state": state},
        )
    for plans in candidates.values():
        newest = max(plan.effective_date or date.min for plan in plans)
        for plan in plans:
            if (plan.effective_date or date.min) < newest:
                build.exclude("urdb", "an older rate of a utility with a newer one")
            else:
                build.plans.append(plan)


def urdb_price(tier: dict[str, Any]) -> Decimal:
    return dec(tier.get("rate") or 0) + dec(tier.get("adj") or 0)


def urdb_plan(record: dict[str, Any]) -> RawPlan:
    structure = record.get("energyratestructure")
    if not structure or not record.get("energyweekdayschedule"):
        raise Excluded("no energy rate structure")
    if any(
        urdb_price(tier)
        for key in DEMAND_KEYS
        for period in record.get(key) or []
        for tier in period
    ):
        raise Excluded("demand charges")
    units = {tier.get("unit") for period in structure for tier in period}
    if not units <= set(TIER_UNITS):
        raise Excluded("tier unit other than kWh or kWh daily")
    if len({TIER_UNITS[unit] for unit in units}) > 1:
        raise Excluded("tiers mix kWh per month and per day")
    if any("rate" not in tier for period in structure for tier in period):
        raise Excluded("tier without a rate")
    label = record["label"]
    plan = RawPlan(
        utility_id=str(record["eiaid"]),
        plan_id=label,
        rate_id=label,
        name=" ".join(record["name"].split()),
        data_source="urdb",
        source=URDB_PAGE.format(label=label),  # the record's own uri sometimes names another
        effective_date=None,
        periods=[
            [
                RawTier(
                    price=urdb_price(tier),
                    max_kwh=dec(tier["max"]) if tier.get("max") is not None else None,
                    sell=dec(tier["sell"]) if tier.get("sell") is not None else None,
                )
                for tier in period
            ]
            for period in structure
        ],
        weekday=[list(row) for row in record["energyweekdayschedule"]],
        weekend=[list(row) for row in record["energyweekendschedule"]],
        tier_unit=TIER_UNITS[units.pop()],
        sources=[
            {"url": URDB_PAGE.format(label=label), "title": "U.S. Utility Rate Database record"}
        ],
        notes=" ".join((record.get("description") or "").split())[:400],
    )
    cited = record.get("source") or ""
    found = URL.match(cited.strip())
    if found is not None:
        sheet = {"url": found[0], "title": "rate sheet cited by URDB"}
        if found[0] != cited:
            sheet["what"] = " ".join(cited.split())
        plan.sources.append(sheet)
    urdb_dates(plan, record)
    urdb_charges(plan, record)
    if weekend_differs(plan):
        plan.simplifications.append("Holidays are priced as ordinary days: URDB names none.")
    rule = DG_RULES.get(
        record.get("dgrules") or "", "net_billing" if record.get("dgrules") else None
    )
    export_rule(plan, rule, "the URDB record")
    check_shape(plan)
    return plan


def urdb_dates(plan: RawPlan, record: dict[str, Any]) -> None:
    if record.get("startdate"):
        plan.effective_date = datetime.fromtimestamp(record["startdate"], UTC).date()
    elif record.get("revisions"):
        plan.effective_date = datetime.fromtimestamp(min(record["revisions"]), UTC).date()
        plan.simplifications.append(
            "URDB gives no start date: the effective date is the record's first revision in URDB."
        )
    else:
        plan.simplifications.append("URDB gives no start date and no revision date.")
    if plan.effective_date is None or plan.effective_date < STALE_BEFORE:
        plan.stale = True
        started = plan.effective_date.isoformat() if plan.effective_date else "unknown"
        plan.simplifications.append(
            f"Stale: the rate starts {started}, more than five years before {AS_OF.isoformat()}; "
            "the utility's current tariff is likely different."
        )


def urdb_charges(plan: RawPlan, record: dict[str, Any]) -> None:
    """Fixed, text-only and minimum charges. A daily charge stated only as text is priced;
    alternatives (in/out of town, phases, transformer sizes) with no fixed charge of the record's
    own exclude it, because no single one can be picked; other text is noted, not priced."""
    fixed = record.get("fixedchargefirstmeter")
    if fixed:
        per = PER.get(record.get("fixedchargeunits") or "$/month")
        if per is None:
            raise Excluded("fixed charge unit other than $/month or $/day")
        plan.fixed_charges.append(
            {"name": "Fixed customer charge", "amount": number(dec(fixed)), "per": per}
        )
    attrs = [
        (key.strip(), str(value).strip())
        for item in record.get("fixedattrs") or []
        for key, value in item.items()
    ]
    daily = [
        (key, DAILY_CHARGE.match(value)) for key, value in attrs if key.lower() == "daily charge"
    ]
    if attrs and daily and len(daily) == len(attrs) and not fixed:
        for _, match in daily:
            assert match is not None  # noqa: S101 - matched above
            plan.fixed_charges.append(
                {"name": "Daily charge", "amount": number(dec(match[1])), "per": "day"}
            )
    elif attrs and not fixed:
        raise Excluded("fixed charge only in text, as alternatives")
    elif attrs:
        text = "; ".join(f"{key}: {value}" for key, value in attrs)
        plan.simplifications.append(f"Charges URDB gives only as text are not priced ({text}).")
    if record.get("mincharge"):
        per = PER.get(record.get("minchargeunits") or "$/month")
        if per is None:
            raise Excluded("minimum charge unit other than $/month or $/day")
        plan.minimum_charge = {"amount": number(dec(record["mincharge"])), "per": per}
    if record.get("fueladjustmentsmonthly"):
        plan.simplifications.append("URDB's monthly fuel adjustments are not priced.")
    if record.get("fixedchargeeaaddl"):
        plan.simplifications.append("The charge for each additional meter is not priced.")


# --- EIA-861 averages ----------------------------------------------------------------------------


def read_eia_averages(build: Build, facts: UtilityFacts) -> None:
    """One flat plan per non-IOU utility with a positive average residential rate and no tariff."""
    priced = {plan.utility_id for plan in build.plans}
    for utility_id in sorted(facts.zip_rows, key=int):
        if utility_id in priced:
            continue
        rows = facts.zip_rows[utility_id]
        rates = Counter(
            row["res_rate"] for row in rows if row["res_rate"] and float(row["res_rate"]) > 0
        )
        if not rates:
            build.exclude("eia-average", "no positive residential rate")
            continue
        rate = min(rates.items(), key=lambda item: (-item[1], dec(item[0])))[0]
        plan = RawPlan(
            utility_id=utility_id,
            plan_id=derived_id(f"eia-average:{utility_id}"),
            rate_id=f"eia-861-2024-{utility_id}",
            name=EIA_PLAN_NAME,
            data_source="eia-average",
            source=EIA_ZIP_PAGE,
            effective_date=date(2024, 1, 1),
            periods=[[RawTier(price=dec(rate), max_kwh=None, sell=None)]],
            weekday=[[0] * 24 for _ in range(12)],
            weekend=[[0] * 24 for _ in range(12)],
            sources=[{"url": EIA_ZIP_PAGE, "title": EIA_ZIP_TITLE}],
            simplifications=[
                "An annual average, not a tariff: the utility's 2024 residential revenue per kWh "
                "sold (EIA-861), so fixed charges, tiers, seasons and time of use are folded into "
                "one price."
            ],
        )
        if len(rates) > 1:
            low, high = min(map(dec, rates)), max(map(dec, rates))
            plan.simplifications.append(
                f"The data gives {len(rates)} average rates for this utility across its ZIP rows "
                f"({low:.4f}-{high:.4f} $/kWh): the most common one is used."
            )
        if all(row["service_type"] == "Delivery" for row in rows):
            plan.simplifications.append(
                "A delivery-only utility: energy supply may be billed apart."
            )
        export_rule(plan, None, "the EIA-861 average")
        build.plans.append(plan)
        build.utilities.setdefault(
            utility_id, {"utilityName": facts.names[utility_id], "state": facts.states[utility_id]}
        )


# --- main ----------------------------------------------------------------------------------------


def assemble(build: Build) -> tuple[dict[str, Any], dict[str, Any]]:
    by_utility: dict[str, list[RawPlan]] = {}
    for plan in build.plans:
        by_utility.setdefault(plan.utility_id, []).append(plan)
    utilities = []
    for utility_id in sorted(by_utility, key=int):
        info = build.utilities[utility_id]
        plans = sorted(by_utility[utility_id], key=lambda p: (p.order, p.plan_id))
        utilities.append(
            {
                "utilityId": utility_id,
                "utilityName": info["utilityName"],
                "state": info["state"],
                "ratePlans": [plan_json(plan, info["utilityName"]) for plan in plans],
            }
        )
    slugs = {plan.rate_id: plan.plan_id for plan in build.plans if plan.data_source == "ratebook"}
    legacy = {old: slugs[slug] for old, slug in sorted(LEGACY_SLUGS.items()) if slug in slugs}
    body = json.dumps([utilities, legacy], sort_keys=True, separators=(",", ":"))
    catalog = {
        "catalogVersion": "sha256:" + hashlib.sha256(body.encode()).hexdigest()[:16],
        "legacyIds": legacy,
        "utilities": utilities,
    }
    sources = Counter(plan.data_source for plan in build.plans)
    report = {
        "asOf": AS_OF.isoformat(),
        "catalogVersion": catalog["catalogVersion"],
        "excluded": {
            name: dict(sorted(reasons.items())) for name, reasons in sorted(build.excluded.items())
        },
        "plans": dict(sorted(sources.items())),
        "stale": sum(plan.stale for plan in build.plans),
        "utilities": len(utilities),
    }
    return catalog, report


def dump_catalog(catalog: dict[str, Any]) -> str:
    """Compact JSON with sorted keys, one utility per line (small diffs when a plan changes)."""

    def compact(value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    head = {key: value for key, value in catalog.items() if key != "utilities"}
    lines = [compact(utility) for utility in catalog["utilities"]]
    return compact(head)[:-1] + ',"utilities":[\n' + ",\n".join(lines) + "\n]}\n"


def default_data_dir() -> Path:
    env = os.environ.get("AGENTKEYS_SOURCE_DATA")
    if env:
        return Path(env)
    sibling = REPO.parent / "shared" / "data"
    return sibling if sibling.is_dir() else Path("/work/shared/data")


def build_files(data: Path) -> tuple[str, str, dict[str, Any]]:
    build = Build()
    read_ratebook(data, build)
    facts = read_utility_facts(data)
    read_urdb(data, build, facts)
    read_eia_averages(build, facts)
    catalog, report = assemble(build)
    text = dump_catalog(catalog)
    Catalog.model_validate_json(text)
    return text, json.dumps(report, indent=1, sort_keys=True) + "\n", report


def print_summary(report: dict[str, Any], out: Iterable[str] = ()) -> None:
    print(f"catalog {report['catalogVersion']} (as of {report['asOf']})")
    for name, count in report["plans"].items():
        print(f"  plans {name}: {count}")
    print(f"  plans total: {sum(report['plans'].values())}, stale: {report['stale']}")
    print(f"  utilities: {report['utilities']}")
    for name, reasons in report["excluded"].items():
        for reason, count in reasons.items():
            print(f"  excluded {name}: {reason}: {count}")
    for line in out:
        print(line)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=None, help="source data directory")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the files")
    parser.add_argument("--check", action="store_true", help="fail if the shipped files differ")
    args = parser.parse_args(argv)
    data = args.data or default_data_dir()
    if not (data / "ratebook" / "manifest.json").is_file():
        print(f"source data not found in {data}", file=sys.stderr)
        return 2
    catalog_text, report_text, report = build_files(data)
    files = {CATALOG_FILE: catalog_text, REPORT_FILE: report_text}
    print_summary(report)
    if args.check:
        stale = [
            name for name, text in files.items()
            if not (args.out / name).is_file() or (args.out / name).read_text("utf-8") != text
        ]  # fmt: skip
        if stale:
            print(f"out of date: {', '.join(stale)} (run make catalog)", file=sys.stderr)
            return 1
        print("shipped catalog is up to date")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (args.out / name).write_text(text, "utf-8")
    print(f"wrote {', '.join(str(args.out / name) for name in files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The shipped catalog is what ``scripts/build_catalog.py`` builds; it says what the sources say.

The first test rebuilds the catalog from the source data (``AGENTKEYS_SOURCE_DATA``, else
``../shared/data`` next to the repository, else ``/work/shared/data``) and compares bytes; it skips
when the data is absent, or fails with ``AGENTKEYS_REQUIRE_SERVICES=1``. The others read the
shipped catalog and check facts read by hand from the source files (quoted in each comment).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from agentkeys.sandbox.tariffs.model import Catalog, RatePlan, Utility
from tests.support.catalog import LEGACY_IDS
from tests.support.private_services import unavailable

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "build_catalog.py"
SHIPPED = ("catalog.json", "catalog_build_report.json")

PGE, ALABAMA_POWER, LADWP, SDGE, SCE, DOMINION = "14328", "195", "11208", "16609", "17609", "19876"


def source_data() -> Path | None:
    """The source data directory, found as the build script finds it."""
    env = os.environ.get("AGENTKEYS_SOURCE_DATA")
    candidates = (
        [Path(env)] if env else [REPO.parent / "shared" / "data", Path("/work/shared/data")]
    )
    return next(
        (path for path in candidates if (path / "ratebook" / "manifest.json").is_file()), None
    )


def shipped(name: str) -> str:
    return resources.files("agentkeys.sandbox.tariffs").joinpath(name).read_text("utf-8")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.model_validate_json(shipped("catalog.json"))


def plan_of(catalog: Catalog, plan_id: str) -> tuple[Utility, RatePlan]:
    found = catalog.plan(plan_id)
    assert found is not None, plan_id
    return found


def test_the_shipped_catalog_is_what_the_script_builds(tmp_path: Path) -> None:
    data = source_data()
    if data is None:
        unavailable("the source data (ratebook/, urdb-dgen/, eia-openei-zip/) is not here")
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--data", str(data), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    for name in SHIPPED:
        assert (tmp_path / name).read_text("utf-8") == shipped(name), f"{name}: run make catalog"
    # --check fails once a built file no longer matches (here: one byte more).
    with (tmp_path / "catalog.json").open("a", encoding="utf-8") as file:
        file.write(" ")
    check = [sys.executable, str(SCRIPT), "--data", str(data), "--out", str(tmp_path), "--check"]
    assert subprocess.run(check, capture_output=True, check=False).returncode == 1


def test_the_report_counts_what_was_left_out() -> None:
    report = json.loads(shipped("catalog_build_report.json"))
    # ratebook: smud-residential-r (end 2023-08-21), tampa-electric-rs (2023-12-31) and
    # national-grid-ma-r4-tou (2026-05-01) ended before 2026-12-01: 68 - 3 = 65 plans.
    assert report["plans"]["ratebook"] == 65
    assert report["excluded"]["ratebook"] == {"ended before the build date": 3}
    # URDB: 24 records carry a non-zero demand rate (9 demandratestructure, 15 flatdemand; the
    # coincident one is among them); the two records of We Energies 20847 and Duke 5416 give way.
    assert report["excluded"]["urdb"]["demand charges"] == 24
    assert report["excluded"]["urdb"]["utility has ratebook plans"] == 2
    # Every URDB rate in the data starts before 2021-12-01, so every URDB plan is stale.
    assert report["stale"] == report["plans"]["urdb"]


def test_pge_e_tou_c_keeps_its_label_and_daily_baseline_tiers(catalog: Catalog) -> None:
    # ratebook/tariffs/pge-e-tou-c.json: urdb_label 69de6fa62aa9e9994f0ed2bd; period 0 tiers
    # {rate 0.441, max 13.5, "kWh daily"}, {rate 0.5224}; weekday June-September hours 16-20 are
    # period 0 (4-9 p.m.), other months use periods 2 and 3; fixed charge 0.79343 $/day.
    utility, plan = plan_of(catalog, "69de6fa62aa9e9994f0ed2bd")
    assert utility.utility_id == PGE
    assert plan.data_source == "ratebook"
    assert plan.tier_unit == "day"
    assert plan.supported_type == "tou"
    assert plan.seasons["summer"] == (6, 7, 8, 9)
    peak = plan.periods[plan.period_index(7, 17, weekend=False)]
    assert [(tier.price, tier.max_kwh) for tier in peak.tiers] == [(0.441, 13.5), (0.5224, None)]
    assert plan.weekday_schedule[6][16:21] == "00000"
    assert [(c.amount, c.per) for c in plan.fixed_charges] == [(0.79343, "day")]
    assert plan.effective_date is not None
    assert plan.effective_date.isoformat() == "2026-06-01"
    assert plan.last_verified is not None
    assert plan.last_verified.isoformat() == "2026-07-01"


def test_a_tier_price_is_rate_plus_adj(catalog: Catalog) -> None:
    # alabama-power-family-dwelling.json period 0 (January) tier 0: rate 0.134851 + adj 0.0098671
    # = 0.1447181 (the manifest's energy_rate), up to 750 kWh a month; $16.00 a month fixed.
    utility, plan = plan_of(catalog, "69deb3d8e547dde41109ee02")
    assert utility.utility_id == ALABAMA_POWER
    first = plan.periods[plan.period_index(1, 0, weekend=False)].tiers[0]
    assert first.price == pytest.approx(0.134851 + 0.0098671)
    assert first.max_kwh == 750
    assert plan.tier_unit == "month"
    assert [(c.amount, c.per) for c in plan.fixed_charges] == [(16, "month")]


def test_minimum_charges_per_month_and_per_day(catalog: Catalog) -> None:
    # ladwp-r1a.json min_charge {10, "$/month"}; sdge-dr.json min_charge {0.392, "$/day"}.
    _, ladwp = plan_of(catalog, "69eb933dd52ff0b5930ddce2")
    _, sdge = plan_of(catalog, "6772eaee739c802b3b0a6f3d")
    assert ladwp.minimum_charge is not None
    assert (ladwp.minimum_charge.amount, ladwp.minimum_charge.per) == (10, "month")
    assert sdge.minimum_charge is not None
    assert (sdge.minimum_charge.amount, sdge.minimum_charge.per) == (0.392, "day")


def test_holiday_rules_keep_the_named_days_and_their_observance(catalog: Catalog) -> None:
    # sce-tou-d-4-9pm.json: as_weekend, California's eight days, observance null → observed.
    _, sce = plan_of(catalog, "66ccb7bfa7d4ef64fc07ad6b")
    assert sce.holidays is not None
    assert sce.holidays.days == (
        "new_years_day",
        "washingtons_birthday",
        "memorial_day",
        "independence_day",
        "labor_day",
        "veterans_day",
        "thanksgiving",
        "christmas",
    )
    assert sce.holidays.observed is True
    # dominion-va-schedule-1t.json: NERC's six days, holiday_observance "actual_day".
    _, dominion = plan_of(catalog, "6997c7bed3c1f5b8140d5aab")
    assert dominion.holidays is not None
    assert len(dominion.holidays.days) == 6
    assert dominion.holidays.observed is False


def test_a_stale_urdb_plan_shows_its_start_date(catalog: Catalog) -> None:
    # URDB 539fbd14ec4f024c27d87789 (A & N Electric Coop, EIA 84, Virginia): startdate 1351407600
    # = 2012-10-28 07:00 UTC; tiers {max 750, rate 0.08577}, {rate 0.07376}; $8/month.
    utility, plan = plan_of(catalog, "539fbd14ec4f024c27d87789")
    assert (utility.utility_id, utility.state) == ("84", "VA")
    assert plan.data_source == "urdb"
    assert plan.stale is True
    assert plan.effective_date is not None
    assert plan.effective_date.isoformat() == "2012-10-28"
    assert plan.source == "https://apps.openei.org/IURDB/rate/view/539fbd14ec4f024c27d87789"
    assert [(t.price, t.max_kwh) for t in plan.periods[0].tiers] == [
        (0.08577, 750),
        (0.07376, None),
    ]
    assert [(c.amount, c.per) for c in plan.fixed_charges] == [(8, "month")]


def test_an_eia_average_plan_is_one_flat_price(catalog: Catalog) -> None:
    # non_iou_zipcodes_2024.csv: eiaid 55, City of Aberdeen - (MS), 2 rows, res_rate
    # 0.12298840503519379 in both; no URDB or ratebook plan.
    utility = catalog.utility("55")
    assert utility is not None
    assert (utility.utility_name, utility.state) == ("City of Aberdeen - (MS)", "MS")
    [plan] = utility.rate_plans
    assert plan.data_source == "eia-average"
    assert plan.name == "EIA-861 average residential rate (2024), flat"
    assert plan.supported_type == "flat"
    assert [[t.price for t in p.tiers] for p in plan.periods] == [[0.12298840503519379]]
    assert plan.fixed_charges == ()
    assert plan.export_credit.type == "none"
    assert plan.effective_date is not None
    assert plan.effective_date.isoformat() == "2024-01-01"


def test_excluded_records_are_absent(catalog: Catalog) -> None:
    # URDB 539f6a72ec4f024411ec9001 (Heartland Power Coop, EIA 8319) has a flat demand charge
    # ($0.5/kW above 15 kW); tampa-electric-rs (64c93817a0febfb2b5028d8a) ended 2023-12-31;
    # URDB 57b4a9055457a3b37bded3d1 is Duke Energy Carolinas 5416's, which ratebook covers.
    for plan_id in (
        "539f6a72ec4f024411ec9001",
        "64c93817a0febfb2b5028d8a",
        "57b4a9055457a3b37bded3d1",
    ):
        assert catalog.plan(plan_id) is None


def test_legacy_ids_answer_the_plans_they_became(catalog: Catalog) -> None:
    assert catalog.legacy_ids == LEGACY_IDS
    for old, new in LEGACY_IDS.items():
        assert plan_of(catalog, old)[1].id == new


def test_every_plan_states_where_it_comes_from(catalog: Catalog) -> None:
    plans = [plan for utility in catalog.utilities for plan in utility.rate_plans]
    assert all(plan.source.startswith("http") for plan in plans)
    # A URDB-sourced plan answers under its label; EIA averages and the three ratebook plans
    # without a label (pge-ev2-a, sce-tou-d-prime, sdge-ev-tou-5) under a derived id.
    assert all(plan.id == plan.rate_id for plan in plans if plan.data_source == "urdb")
    names = [[period.name for period in plan.periods] for plan in plans]
    assert all(len(set(each)) == len(each) for each in names)

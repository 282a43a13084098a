#!/usr/bin/env python3
"""Build the sandbox's ZIP index (``src/agentkeys/sandbox/geo/zips.json.gz``).

Every ZIP code of the 50 states and DC that the ``zipcodes`` package (3.0.0, MIT, data embedded)
knows, with its place (city, county, coordinates, time zone) and the utilities serving it:

- ``zip`` matches: the municipal, co-operative and public utilities that
  ``eia-openei-zip/non_iou_zipcodes_2024.csv`` lists for the ZIP (NREL/OpenEI, CC BY 4.0);
- ``county`` matches: every utility that EIA-861 (2018) lists in the ZIP's county
  (``eia-861-territory/service_territory_2018.csv``), investor-owned ones included.

``zipcodes`` gives a county *name* only (no FIPS), so a ZIP's county is found by (state,
normalised name), with ``COUNTY_ALIASES`` for the names EIA's 2018 table spells otherwise; a ZIP
whose county still matches nothing (no county given, or a county created after 2018) takes the
county of the nearest matched ZIP of its state (counted as ``countyByNearestZip``). The 45 ZIPs
``zipcodes`` places at latitude/longitude 0 (PO boxes, unique ZIPs) take the mean position of
their city's ZIPs, else their county's, else their state's (``coordinatesFrom*``). Puerto Rico and
the territories have no EIA-861 rows: they are left out, so the sandbox knows no utility there.

    python scripts/build_zip_index.py [--data DIR] [--out DIR] [--check]

The output is deterministic (sorted keys, gzip with no timestamp); ``--check`` exits 1 when the
shipped index differs from what the sources build (tests/unit/test_zip_index_build.py too).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import os
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zipcodes

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "src" / "agentkeys" / "sandbox" / "geo"
INDEX_FILE = "zips.json.gz"
NON_IOU_FILE = Path("eia-openei-zip") / "non_iou_zipcodes_2024.csv"
TERRITORY_FILE = Path("eia-861-territory") / "service_territory_2018.csv"
FORMAT = 1

# State FIPS code → postal abbreviation: the 50 states and DC (EIA-861's County_FIPS starts
# with the state's code).
STATE_FIPS = {
    "01": "AL", "02": "AK", "04": "AZ", "05": "AR", "06": "CA", "08": "CO", "09": "CT",
    "10": "DE", "11": "DC", "12": "FL", "13": "GA", "15": "HI", "16": "ID", "17": "IL",
    "18": "IN", "19": "IA", "20": "KS", "21": "KY", "22": "LA", "23": "ME", "24": "MD",
    "25": "MA", "26": "MI", "27": "MN", "28": "MS", "29": "MO", "30": "MT", "31": "NE",
    "32": "NV", "33": "NH", "34": "NJ", "35": "NM", "36": "NY", "37": "NC", "38": "ND",
    "39": "OH", "40": "OK", "41": "OR", "42": "PA", "44": "RI", "45": "SC", "46": "SD",
    "47": "TN", "48": "TX", "49": "UT", "50": "VT", "51": "VA", "53": "WA", "54": "WV",
    "55": "WI", "56": "WY",
}  # fmt: skip
STATES = frozenset(STATE_FIPS.values())

# (state, county as ``zipcodes`` names it) → the county as EIA-861 (2018) names it: counties
# renamed or re-drawn since 2018, and spellings that normalising cannot reconcile.
COUNTY_ALIASES = {
    ("AK", "Kusilvak Census Area"): "Wade Hampton Census Area",  # renamed 2015
    ("AK", "Chugach Census Area"): "Valdez-Cordova Census Area",  # split from it in 2019
    ("AK", "Copper River Census Area"): "Valdez-Cordova Census Area",  # same
    ("AK", "Municipality of Anchorage"): "Anchorage Municipality",
    ("AK", "City and Borough of Juneau"): "Juneau City and Borough",
    ("SD", "Oglala Lakota County"): "Shannon County",  # renamed 2015
    ("LA", "Jefferson Parish"): "Jefferson County",  # EIA's 2018 table says County (22051)
    ("TX", "De Witt County"): "DeWitt County",
    ("IN", "La Porte County"): "LaPorte County",
    ("DC", ""): "District of Columbia",
    ("LA", "LaSalle Parish"): "La Salle Parish",
    ("VA", "James City"): "James City County",
    ("AK", "Petersburg Borough"): "Petersburg Census Area",  # a borough since 2013
    # Formed in 2008 from Prince of Wales-Outer Ketchikan, which EIA still names as its successor.
    ("AK", "Prince of Wales-Outer Ketchikan Borough"): "Prince of Wales-Hyder Census Area",
}

SOURCES = {
    "zipcodes": "zipcodes 3.0.0 (MIT): ZIP code, city, county, coordinates, time zone",
    "zip": (
        "NREL / OpenEI, U.S. Electric Utility Companies and Rates: Look-up by Zipcode (2024); "
        "source data: U.S. Energy Information Administration, Form EIA-861 (CC BY 4.0)"
    ),
    "county": (
        "Source: U.S. Energy Information Administration, Form EIA-861 (2018 service territory), "
        "as tabulated by the IMMM-SFA electricity_entity_boundaries project (BSD 2-Clause)"
    ),
}

_APOSTROPHE = re.compile(r"['\u2019]")
_PUNCTUATION = re.compile(r"[^a-z0-9 ]+")
_SAINT = re.compile(r"\b(?:saint|st)\b\.?")
_SPACES = re.compile(r"\s+")


def normalise(county: str) -> str:
    """A county name to compare: lower case, "Saint"/"St." as "st", no punctuation
    ("Prince George's" = "Prince Georges", "St. Mary's" = "St Marys")."""
    name = _SAINT.sub("st", _APOSTROPHE.sub("", county.lower()))
    name = _PUNCTUATION.sub(" ", name)
    return _SPACES.sub(" ", name).strip()


def haversine_miles(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 3958.8 * math.asin(math.sqrt(h))


def _most_common(counter: Counter[str]) -> str:
    """The most frequent value; ties go to the first in sort order (deterministic)."""
    return min(counter, key=lambda value: (-counter[value], value))


@dataclass
class Territory:
    """EIA-861's county table, and the utilities' names and states from both sources."""

    county_names: dict[str, str] = field(default_factory=dict)  # FIPS → EIA county name
    county_utilities: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    utility_names: dict[str, str] = field(default_factory=dict)
    utility_row_states: dict[str, Counter[str]] = field(
        default_factory=lambda: defaultdict(Counter)
    )


def read_territory(data_dir: Path, counts: dict[str, int]) -> Territory:
    territory = Territory()
    with (data_dir / TERRITORY_FILE).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        fips = row["County_FIPS"].strip().zfill(5)  # an int in the file: 4 digits before 10000
        state = STATE_FIPS.get(fips[:2])
        if state is None:
            continue
        utility = row["Utility_Number"].strip()
        territory.county_names[fips] = row["County_Name"].strip()
        territory.county_utilities[fips].add(int(utility))
        territory.utility_names.setdefault(utility, row["Utility_Name"].strip())
        territory.utility_row_states[utility][state] += 1
    counts["territoryRows"] = len(rows)
    counts["territoryCounties"] = len(territory.county_names)
    counts["territoryUtilities"] = len(territory.utility_names)
    return territory


def read_non_iou(
    data_dir: Path, places: dict[str, Any], territory: Territory, counts: dict[str, int]
) -> dict[str, set[int]]:
    """ZIP → the utilities the non-IOU file lists for it (their names join the territory's)."""
    zip_utilities: dict[str, set[int]] = defaultdict(set)
    with (data_dir / NON_IOU_FILE).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    outside = 0
    for row in rows:
        zipcode = row["zip"].strip().zfill(5)
        utility = row["eiaid"].strip()
        territory.utility_names.setdefault(utility, row["utility_name"].strip())
        territory.utility_row_states[utility][row["state"].strip()] += 1
        if zipcode not in places:
            outside += 1
            continue
        zip_utilities[zipcode].add(int(utility))
    counts["nonIouRows"] = len(rows)
    counts["nonIouRowsOutsideIndex"] = outside
    counts["zipsWithZipMatch"] = len(zip_utilities)
    return zip_utilities


def join_counties(
    places: dict[str, Any], territory: Territory, counts: dict[str, int]
) -> dict[str, str]:
    """ZIP → EIA county FIPS: by name (with the aliases), else the nearest matched ZIP's."""
    by_name = {
        (STATE_FIPS[fips[:2]], normalise(name)): fips
        for fips, name in territory.county_names.items()
    }
    zip_county: dict[str, str] = {}
    aliased = 0
    for zipcode, place in places.items():
        state, county = place["state"], place["county"] or ""
        alias = COUNTY_ALIASES.get((state, county))
        fips = by_name.get((state, normalise(alias if alias is not None else county)))
        if fips is not None:
            zip_county[zipcode] = fips
            aliased += alias is not None
    counts["countyByName"] = len(zip_county) - aliased
    counts["countyByAlias"] = aliased
    matched_by_state: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for zipcode in sorted(zip_county):
        place = places[zipcode]
        matched_by_state[place["state"]].append(
            (float(place["lat"]), float(place["long"]), zipcode)
        )
    fallback = {}
    for zipcode in sorted(set(places) - set(zip_county)):
        place = places[zipcode]
        here = (float(place["lat"]), float(place["long"]))
        nearest = min(
            matched_by_state[place["state"]],
            key=lambda other: (haversine_miles(here, other[:2]), other[2]),
        )
        fallback[zipcode] = zip_county[nearest[2]]
    zip_county.update(fallback)
    counts["countyByNearestZip"] = len(fallback)
    return zip_county


def assemble(
    places: dict[str, Any],
    territory: Territory,
    zip_utilities: dict[str, set[int]],
    zip_county: dict[str, str],
    counts: dict[str, int],
) -> dict[str, Any]:
    """The index's tables, strings replaced by indexes into small lists for a compact file."""
    used_fips = sorted(set(zip_county.values()))
    county_index = {fips: index for index, fips in enumerate(used_fips)}
    timezones = sorted({place["timezone"] for place in places.values()})
    tz_index = {name: index for index, name in enumerate(timezones)}
    place_counties = sorted({place["county"] or "" for place in places.values()})
    place_county_index = {name: index for index, name in enumerate(place_counties)}
    utility_zip_states: dict[str, Counter[str]] = defaultdict(Counter)
    utility_zip_tz: dict[str, Counter[str]] = defaultdict(Counter)
    zips: dict[str, list[Any]] = {}
    for zipcode in sorted(places):
        place = places[zipcode]
        fips = zip_county[zipcode]
        own = sorted(zip_utilities.get(zipcode, ()))
        for utility in set(own) | territory.county_utilities[fips]:
            utility_zip_states[str(utility)][place["state"]] += 1
            utility_zip_tz[str(utility)][place["timezone"]] += 1
        zips[zipcode] = [
            place["city"],
            place_county_index[place["county"] or ""],
            county_index[fips],
            float(place["lat"]),
            float(place["long"]),
            tz_index[place["timezone"]],
            own,
        ]
    counties = [
        [
            STATE_FIPS[fips[:2]],
            territory.county_names[fips],
            fips,
            sorted(territory.county_utilities[fips]),
        ]
        for fips in used_fips
    ]
    utilities: dict[str, list[Any]] = {}
    for utility in sorted(territory.utility_names, key=int):
        states = utility_zip_states.get(utility) or territory.utility_row_states[utility]
        tz = utility_zip_tz.get(utility)
        utilities[utility] = [
            territory.utility_names[utility],
            _most_common(states),
            tz_index[_most_common(tz)] if tz else None,
        ]
    counts["counties"] = len(counties)
    counts["utilities"] = len(utilities)
    counts["utilitiesServingNoZip"] = sum(1 for u in utilities if u not in utility_zip_tz)
    return {
        "format": FORMAT,
        "sources": SOURCES,
        "timezones": timezones,
        "counties": counties,
        "placeCounties": place_counties,
        "utilities": utilities,
        "zips": zips,
    }


def fill_coordinates(places: dict[str, Any], counts: dict[str, int]) -> None:
    """Give the ZIPs ``zipcodes`` places at (0, 0) (45 PO box and unique ZIPs) the mean position
    of the ZIPs of their city, else of their county, else of their state."""
    groups: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for place in places.values():
        position = (float(place["lat"]), float(place["long"]))
        if position != (0.0, 0.0):
            groups["city", place["state"] + "|" + place["city"].lower()].append(position)
            groups["county", place["state"] + "|" + (place["county"] or "")].append(position)
            groups["state", place["state"]].append(position)
    filled: Counter[str] = Counter()
    for zipcode in sorted(places):
        place = places[zipcode]
        if (float(place["lat"]), float(place["long"])) != (0.0, 0.0):
            continue
        keys = [
            ("city", place["state"] + "|" + place["city"].lower()),
            ("county", place["state"] + "|" + place["county"]) if place["county"] else None,
            ("state", place["state"]),
        ]
        kind, key = next(k for k in keys if k is not None and groups.get(k))
        positions = groups[kind, key]
        latitude = round(sum(lat for lat, _ in positions) / len(positions), 4)
        longitude = round(sum(long for _, long in positions) / len(positions), 4)
        places[zipcode] = {**place, "lat": str(latitude), "long": str(longitude)}
        filled[kind] += 1
    for kind in ("city", "county", "state"):
        counts[f"coordinatesFrom{kind.title()}"] = filled[kind]


def build_index(data_dir: Path) -> tuple[dict[str, Any], dict[str, int]]:
    """The index (as JSON-ready data) and the build's counts."""
    counts: dict[str, int] = {}
    territory = read_territory(data_dir, counts)
    # zipcodes: the 50 states and DC (Puerto Rico, territories, military: no EIA-861 rows).
    places = {entry["zip_code"]: entry for entry in zipcodes.list_all() if entry["state"] in STATES}
    counts["zips"] = len(places)
    fill_coordinates(places, counts)
    zip_utilities = read_non_iou(data_dir, places, territory, counts)
    zip_county = join_counties(places, territory, counts)
    return assemble(places, territory, zip_utilities, zip_county, counts), counts


def dump(index: dict[str, Any]) -> bytes:
    """The index as JSON text (UTF-8): one ZIP per line, so diffs of the text stay readable."""
    compact = json.dumps(index, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (compact.replace('],"', '],\n"') + "\n").encode("utf-8")


def build(data_dir: Path, out_dir: Path) -> dict[str, int]:
    """Build the index from ``data_dir`` and write it to ``out_dir``; the build's counts."""
    index, counts = build_index(data_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / INDEX_FILE).write_bytes(gzip.compress(dump(index), compresslevel=9, mtime=0))
    return counts


def shipped_text(out_dir: Path) -> bytes | None:
    """The JSON text of the shipped index (gzip's bytes may vary with zlib; the text may not)."""
    path = out_dir / INDEX_FILE
    return gzip.decompress(path.read_bytes()) if path.is_file() else None


def default_data_dir() -> Path:
    env = os.environ.get("AGENTKEYS_SOURCE_DATA")
    if env:
        return Path(env)
    sibling = REPO.parent / "shared" / "data"
    return sibling if sibling.is_dir() else Path("/work/shared/data")


def has_sources(data_dir: Path) -> bool:
    return (data_dir / NON_IOU_FILE).is_file() and (data_dir / TERRITORY_FILE).is_file()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=None, help="source data directory")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the index")
    parser.add_argument("--check", action="store_true", help="fail if the shipped index differs")
    args = parser.parse_args(argv)
    data = args.data or default_data_dir()
    if not has_sources(data):
        print(f"source data not found in {data}", file=sys.stderr)
        return 2
    if args.check:
        index, counts = build_index(data)
        print(json.dumps(counts, indent=1))
        if shipped_text(args.out) != dump(index):
            print(f"out of date: {args.out / INDEX_FILE} (run this script)", file=sys.stderr)
            return 1
        print("shipped ZIP index is up to date")
        return 0
    counts = build(data, args.out)
    print(json.dumps(counts, indent=1))
    print(f"wrote {args.out / INDEX_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

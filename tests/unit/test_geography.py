"""The shipped ZIP index: places, the utilities serving a ZIP, ZIPs near a point.

Expected utilities are read by hand from the source files: ``non_iou_zipcodes_2024.csv`` rows
(``zip,eiaid,...``) for zip matches, ``service_territory_2018.csv`` rows
(``Utility_Number,...,County_FIPS,County_Name``) for county matches; quoted in each comment.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import zipcodes

from agentkeys.sandbox.geo import Geography, ServingUtility, ZipPlace, load_geography


# zipcodes ships no type information: its three calls used here, typed.
def zipcodes_is_real(zipcode: str) -> bool:
    return bool(zipcodes.is_real(zipcode))  # type: ignore[no-untyped-call]


def zipcodes_within(latitude: float, longitude: float, radius: float) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = zipcodes.filter_by_coordinates(  # type: ignore[no-untyped-call]
        latitude, longitude, radius_in_miles=radius
    )
    return found


def zipcodes_all() -> list[dict[str, Any]]:
    everything: list[dict[str, Any]] = zipcodes.list_all()  # type: ignore[no-untyped-call]
    return everything


@pytest.fixture(scope="module")
def geography() -> Geography:
    started = time.perf_counter()
    loaded = load_geography()
    print(f"ZIP index: {len(loaded)} ZIPs loaded in {time.perf_counter() - started:.3f} s")
    return loaded


def served(geography: Geography, zipcode: str) -> list[tuple[str, str]]:
    return [(utility.utility_id, utility.match) for utility in geography.serving(zipcode)]


# County rows are in EIA id order (the index sorts each group by id).
SIX_ZIPS = {
    # non-IOU: 94107,16612 (City & County of San Francisco); county 6075: 14328 (PG&E).
    "94107": [("16612", "zip"), ("14328", "county")],
    # non-IOU: 90012,11208 (LADWP); county 6037 Los Angeles: 1050 Azusa, 2507 Burbank,
    # 7294 Glendale, 11208 LADWP (already a zip match), 14534 Pasadena, 17609 SCE,
    # 19798 Vernon, 62107 Industry.
    "90012": [
        ("11208", "zip"),
        ("1050", "county"),
        ("2507", "county"),
        ("7294", "county"),
        ("14534", "county"),
        ("17609", "county"),
        ("19798", "county"),
        ("62107", "county"),
    ],
    # No non-IOU row; county 37119 Mecklenburg: 4365 Cornelius, 5416 Duke Energy Carolinas,
    # 9087 Huntersville, 15062 Pineville, 19435 Union EMC, 21002 York Electric,
    # 21632 EnergyUnited.
    "28202": [
        ("4365", "county"),
        ("5416", "county"),
        ("9087", "county"),
        ("15062", "county"),
        ("19435", "county"),
        ("21002", "county"),
        ("21632", "county"),
    ],
    # No non-IOU row; county 36061 New York: 4226 ConEd only.
    "10001": [("4226", "county")],
    # No non-IOU row; county 17031 Cook: 4110 ComEd, 20824 Winnetka.
    "60601": [("4110", "county"), ("20824", "county")],
    # non-IOU: 78701,1015 (Austin Energy); county 48453 Travis: 1015, 1892 Bluebonnet,
    # 14626 Pedernales, 44372 Oncor.
    "78701": [("1015", "zip"), ("1892", "county"), ("14626", "county"), ("44372", "county")],
}


@pytest.mark.parametrize("zipcode", list(SIX_ZIPS))
def test_the_six_zips_of_the_issue_resolve_to_their_utilities(
    geography: Geography, zipcode: str
) -> None:
    assert served(geography, zipcode) == SIX_ZIPS[zipcode]


def test_a_serving_utility_carries_its_eia_name(geography: Geography) -> None:
    assert geography.serving("10001") == (
        ServingUtility("4226", "Consolidated Edison Co-NY Inc", "county"),
    )
    # non-IOU row: 94107,16612,City & County of San Francisco,CA,...
    assert geography.serving("94107")[0].utility_name == "City & County of San Francisco"


def test_a_place_says_where_the_zip_is(geography: Geography) -> None:
    # zipcodes 3.0.0: 94107 San Francisco, San Francisco County, 37.7621, -122.3971.
    assert geography.place("94107") == ZipPlace(
        zipcode="94107",
        city="San Francisco",
        state="CA",
        county="San Francisco County",
        latitude=37.7621,
        longitude=-122.3971,
        timezone="America/Los_Angeles",
    )


@pytest.mark.parametrize(
    "zipcode", ["00000", "99999", "ABCDE", "9410", "941", "941071", "94107-1234", ""]
)
def test_a_string_that_is_not_a_known_zip_has_no_place_and_no_utility(
    geography: Geography, zipcode: str
) -> None:
    assert geography.place(zipcode) is None
    assert geography.serving(zipcode) == ()


@pytest.mark.parametrize(
    ("zipcode", "where"),
    [("00601", "Adjuntas, PR"), ("00802", "St Thomas, VI"), ("96910", "Hagatna, GU")],
)
def test_puerto_rico_and_the_territories_are_unknown_for_want_of_eia_861_rows(
    geography: Geography, zipcode: str, where: str
) -> None:
    assert zipcodes_is_real(zipcode), where  # a real ZIP, just not one EIA-861 covers
    assert geography.place(zipcode) is None
    assert geography.serving(zipcode) == ()


def test_jefferson_parish_joins_eia_jefferson_county(geography: Geography) -> None:
    # zipcodes names 70001 (Metairie) "Jefferson Parish"; EIA-861's row for FIPS 22051 says
    # "11241,Entergy Louisiana LLC,22051,Jefferson County": the alias table joins them.
    place = geography.place("70001")
    assert place is not None
    assert place.county == "Jefferson Parish"
    assert served(geography, "70001") == [("11241", "county")]


def test_anchorage_lists_zip_matches_then_the_rest_of_its_borough(geography: Geography) -> None:
    # non-IOU: 99501,3522 (Chugach) and 99501,11824 (Matanuska); county 2020 Anchorage
    # Municipality: 599 Anchorage ML&P, 3522, 11824 -> only 599 is added as a county match.
    assert served(geography, "99501") == [("3522", "zip"), ("11824", "zip"), ("599", "county")]


def test_apostrophes_in_county_names_do_not_break_the_join(geography: Geography) -> None:
    # zipcodes: 20785 is in "Prince George's County"; EIA-861 writes "Prince Georges County"
    # (24033), where 15270 (Potomac Electric Power Co) serves.
    place = geography.place("20785")
    assert place is not None
    assert place.county == "Prince George's County"
    assert "15270" in [utility_id for utility_id, _ in served(geography, "20785")]


@pytest.mark.parametrize(
    ("latitude", "longitude", "radius"),
    [
        (37.7621, -122.3971, 5.0),  # 94107
        (40.7484, -73.9967, 3.0),  # 10001
        (30.2713, -97.7426, 10.0),  # 78701
        (61.2225, -149.8677, 25.0),  # 99501
        (21.3, -157.85, 7.0),  # Honolulu
    ],
)
def test_zips_within_a_radius_are_those_the_zipcodes_package_finds(
    geography: Geography, latitude: float, longitude: float, radius: float
) -> None:
    # zipcodes' own great-circle filter, an independent implementation, is the oracle.
    expected = {entry["zip_code"] for entry in zipcodes_within(latitude, longitude, radius)}
    assert set(geography.zips_within(latitude, longitude, radius)) == expected


def test_zips_within_come_nearest_first(geography: Geography) -> None:
    # 94107's own centre is 0 miles away; 94103's (37.7725, -122.4147) about 1.2 miles:
    # dlat 0.0104 deg * 69 = 0.72 mi, dlong 0.0176 deg * 69 * cos(37.77) = 0.96 mi -> 1.2 mi.
    near = geography.zips_within(37.7621, -122.3971, 5.0)
    assert near[0] == "94107"
    assert near.index("94103") > 0
    assert "94103" not in geography.zips_within(37.7621, -122.3971, 1.1)
    assert "94103" in geography.zips_within(37.7621, -122.3971, 1.3)


def test_a_radius_of_zero_finds_only_a_zip_centred_exactly_there(geography: Geography) -> None:
    assert geography.zips_within(37.7621, -122.3971, 0.0) == ("94107",)
    assert geography.zips_within(0.0, 0.0, 0.0) == ()


def test_no_zip_is_placed_at_latitude_and_longitude_zero(geography: Geography) -> None:
    # zipcodes gives 45 ZIPs of the 50 states and DC lat/long "0" (e.g. 77352, a Livingston TX
    # ZIP); the build places them at the mean of their city's ZIPs instead (Livingston: 77351).
    assert geography.zips_within(0.0, 0.0, 100.0) == ()
    livingston = geography.place("77351")
    assert livingston is not None
    assert "77352" in geography.zips_within(livingston.latitude, livingston.longitude, 10.0)


@pytest.mark.parametrize(
    ("latitude", "longitude", "radius"),
    [(float("nan"), 0.0, 1.0), (0.0, float("inf"), 1.0), (0.0, 0.0, -1.0)],
)
def test_zips_within_refuses_values_that_are_no_place(
    geography: Geography, latitude: float, longitude: float, radius: float
) -> None:
    with pytest.raises(ValueError, match=r"radius|finite"):
        geography.zips_within(latitude, longitude, radius)


def test_a_utility_has_the_time_zone_and_state_of_most_of_its_zips(
    geography: Geography,
) -> None:
    assert geography.utility_timezone("14328") == "America/Los_Angeles"  # PG&E
    assert geography.utility_state("14328") == "CA"
    assert geography.utility_timezone("4226") == "America/New_York"  # ConEd
    assert geography.utility_state("44372") == "TX"  # Oncor
    assert geography.utility_name("44372") == "Oncor Electric Delivery Company LLC"
    for unknown in ("99999999", "", "PG&E"):
        assert geography.utility_timezone(unknown) is None
        assert geography.utility_state(unknown) is None
        assert geography.utility_name(unknown) is None


def test_every_zip_of_the_50_states_and_dc_is_known_and_served(geography: Geography) -> None:
    # zipcodes 3.0.0 lists 41,749 ZIPs in the 50 states and DC (42,789 in all, less 823
    # military, 176 PR, 41 other territories); EIA-861 has a row in every county.
    assert len(geography) == 41_749
    assert all(geography.serving(entry["zip_code"]) for entry in sample_zips())


def sample_zips() -> list[dict[str, Any]]:
    territories = {"AA", "AE", "AP", "PR", "VI", "GU", "AS", "MP", "FM", "MH", "PW"}
    everywhere = [entry for entry in zipcodes_all() if entry["state"] not in territories]
    return everywhere[::97]  # every 97th: about 430 ZIPs from every state

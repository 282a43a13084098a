"""U.S. ZIP geography: where a ZIP code is and which utilities serve it.

The shipped index (``zips.json.gz``, built by ``scripts/build_zip_index.py`` from the
``zipcodes`` package, the NREL/OpenEI non-IOU ZIP file and EIA-861's 2018 service territory
table) holds every ZIP code of the 50 states and DC. A utility serves a ZIP by ``zip`` match (the
non-IOU file lists it for that ZIP: municipal, co-operative, public utilities) or by ``county``
match (EIA-861 lists it in the ZIP's county: investor-owned utilities come only this way, and a
county can hold several utilities, so a county match says "may serve", never "serves all of it").
Puerto Rico and the territories have no EIA-861 rows and are not in the index: unknown ZIPs.

Loading reads one gzip'd JSON file (about 0.15 s); a look-up is a dict access, and places are
built on demand.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

INDEX_FILE = "zips.json.gz"
EARTH_RADIUS_MILES = 3958.8
_MILES_PER_DEGREE_LATITUDE = 69.0

ServiceAreaMatch = Literal["zip", "county"]


@dataclass(frozen=True, slots=True)
class ZipPlace:
    zipcode: str  # 5 digits
    city: str
    state: str  # 2 letters
    county: str  # county name as zipcodes gives it ("" if unknown)
    latitude: float
    longitude: float
    timezone: str  # IANA name, e.g. "America/Los_Angeles"


@dataclass(frozen=True, slots=True)
class ServingUtility:
    utility_id: str  # EIA id as a string, e.g. "14328"
    utility_name: str
    match: ServiceAreaMatch  # zip = non-IOU ZIP file; county = EIA-861 territory


# Positions in a ZIP's row of the index (see scripts/build_zip_index.py).
_CITY, _PLACE_COUNTY, _COUNTY, _LAT, _LONG, _TZ, _ZIP_UTILITIES = range(7)
# Positions in a county's row, and in a utility's.
_COUNTY_UTILITIES = 3
_UTILITY_NAME, _UTILITY_STATE, _UTILITY_TZ = range(3)


class Geography:
    """The ZIP index: places, serving utilities, ZIPs near a point, utilities' time zones."""

    def __init__(self, index: dict[str, Any]) -> None:
        self._zips: dict[str, list[Any]] = index["zips"]
        self._counties: list[list[Any]] = index["counties"]
        self._place_counties: list[str] = index["placeCounties"]
        self._timezones: list[str] = index["timezones"]
        self._utilities: dict[str, list[Any]] = index["utilities"]
        self._serving: dict[str, tuple[ServingUtility, ...]] = {}

    def __len__(self) -> int:
        return len(self._zips)

    def place(self, zipcode: str) -> ZipPlace | None:
        """The place of a 5-digit ZIP; None if it is not a U.S. ZIP the index knows."""
        row = self._zips.get(zipcode)
        if row is None:
            return None
        return ZipPlace(
            zipcode=zipcode,
            city=row[_CITY],
            state=self._counties[row[_COUNTY]][0],
            county=self._place_counties[row[_PLACE_COUNTY]],
            latitude=row[_LAT],
            longitude=row[_LONG],
            timezone=self._timezones[row[_TZ]],
        )

    def serving(self, zipcode: str) -> tuple[ServingUtility, ...]:
        """Utilities serving a ZIP: its ``zip`` matches, then its county's utilities not already
        listed (each group by EIA id); () for a ZIP the index does not know."""
        known = self._serving.get(zipcode)
        if known is not None:
            return known
        row = self._zips.get(zipcode)
        if row is None:
            return ()
        own: list[int] = row[_ZIP_UTILITIES]
        county: list[int] = self._counties[row[_COUNTY]][_COUNTY_UTILITIES]
        listed = set(own)
        serving = tuple(
            [self._serving_utility(utility, "zip") for utility in own]
            + [self._serving_utility(u, "county") for u in county if u not in listed]
        )
        self._serving[zipcode] = serving
        return serving

    def _serving_utility(self, utility: int, match: ServiceAreaMatch) -> ServingUtility:
        utility_id = str(utility)
        return ServingUtility(utility_id, self._utilities[utility_id][_UTILITY_NAME], match)

    def zips_within(
        self, latitude: float, longitude: float, radius_miles: float
    ) -> tuple[str, ...]:
        """ZIPs whose centre lies within ``radius_miles`` (great-circle) of a point, nearest
        first (ties by ZIP)."""
        if not all(math.isfinite(value) for value in (latitude, longitude, radius_miles)):
            raise ValueError("latitude, longitude and radius must be finite numbers")
        if radius_miles < 0:
            raise ValueError("radius must not be negative")
        lat, lon = self._coordinates
        # A box around the point first (a degree of longitude shrinks with the latitude).
        lat_span = radius_miles / _MILES_PER_DEGREE_LATITUDE
        near = np.abs(lat - latitude) <= lat_span
        cos_lat = math.cos(math.radians(min(abs(latitude) + lat_span, 89.9)))
        lon_span = radius_miles / (_MILES_PER_DEGREE_LATITUDE * cos_lat)
        lon_gap = np.abs((lon - longitude + 180.0) % 360.0 - 180.0)
        candidates = np.flatnonzero(near & (lon_gap <= lon_span))
        distances = _haversine_miles(latitude, longitude, lat[candidates], lon[candidates])
        inside = distances <= radius_miles
        order = sorted(
            zip(distances[inside].tolist(), candidates[inside].tolist(), strict=True),
        )
        return tuple(self._zip_order[index] for _, index in order)

    @cached_property
    def _zip_order(self) -> tuple[str, ...]:
        return tuple(sorted(self._zips))

    @cached_property
    def _coordinates(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        rows = [self._zips[zipcode] for zipcode in self._zip_order]
        return (
            np.array([row[_LAT] for row in rows], dtype=np.float64),
            np.array([row[_LONG] for row in rows], dtype=np.float64),
        )

    def utility_name(self, utility_id: str) -> str | None:
        """The utility's name in EIA-861 (or in the non-IOU ZIP file); None if unknown."""
        row = self._utilities.get(utility_id)
        return None if row is None else str(row[_UTILITY_NAME])

    def utility_timezone(self, utility_id: str) -> str | None:
        """The most common time zone of the ZIPs the utility serves (zip or county match)."""
        row = self._utilities.get(utility_id)
        if row is None or row[_UTILITY_TZ] is None:
            return None
        timezone: str = self._timezones[row[_UTILITY_TZ]]
        return timezone

    def utility_state(self, utility_id: str) -> str | None:
        """The state most of the utility's ZIPs are in (its EIA-861 rows' if it serves none)."""
        row = self._utilities.get(utility_id)
        return None if row is None else str(row[_UTILITY_STATE])


def _haversine_miles(
    latitude: float,
    longitude: float,
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    phi1, phi2 = math.radians(latitude), np.radians(lat)
    half_dphi = (phi2 - phi1) / 2
    half_dlambda = (np.radians(lon) - math.radians(longitude)) / 2
    h = np.sin(half_dphi) ** 2 + math.cos(phi1) * np.cos(phi2) * np.sin(half_dlambda) ** 2
    distances: npt.NDArray[np.float64] = 2 * EARTH_RADIUS_MILES * np.arcsin(np.sqrt(h))
    return distances


def read_index(data: bytes) -> Geography:
    """A geography from the bytes of a ``zips.json.gz`` file."""
    return Geography(json.loads(gzip.decompress(data)))


@cache
def load_geography() -> Geography:
    """The shipped ZIP index, read once per process."""
    data = resources.files("agentkeys.sandbox.geo").joinpath(INDEX_FILE).read_bytes()
    return read_index(data)


__all__ = ["Geography", "ServiceAreaMatch", "ServingUtility", "ZipPlace", "load_geography"]

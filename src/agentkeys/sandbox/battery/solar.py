"""Clear-sky production of a PV array, per wall-clock quarter-hour of a local day, with pvlib.

The chain is NREL PVWatts' (v5) as pvlib implements it, under a clear sky:

* solar position: pvlib's NREL SPA; clear-sky GHI/DNI/DHI: Ineichen-Perez with the Linke
  turbidity climatology pvlib ships (``Location.get_clearsky``), at the site's altitude (pvlib's
  bundled altitude map when none is given);
* plane of array: a fixed array tilted ``tilt_degrees`` facing ``azimuth_degrees`` (south),
  Perez transposition, ground albedo 0.2, the beam reduced by the glass cover's
  angle-of-incidence loss (``iam.physical``, PVWatts' cover model);
* cell temperature: SAPM, open rack glass/polymer, at a constant 20 °C ambient and 1 m/s wind
  (the NOCT conditions: a clear sky has no weather of its own);
* DC: PVWatts, ``pdc0`` = the array's nameplate kW, gamma = -0.37 %/°C (PVWatts' standard module);
* system losses (soiling, shading, mismatch, wiring, LID, nameplate, availability): PVWatts'
  default 14 % of DC; inverter: PVWatts' curve, 96 % nominal efficiency, DC/AC ratio 1.2.

Each of the 96 slots is evaluated at its midpoint (hh:mm + 7.5 min), converted to UTC with the
zone's real offset at that wall-clock time, so daylight-saving days shift the curve by an hour
of wall clock as the sun does. On the spring-forward day the nonexistent 02:00-02:59 slots are
read with the pre-transition offset (``fold=0``); they are at night everywhere DST is used. On the
fall-back day the repeated hour is read once, at its first (daylight-time) occurrence.

pvlib and pandas are imported on first use, not with this module (importing them takes most of
a second; the command line and the app's start do not need them). A whole year's production of
1 kW is computed at once (about 0.15 s of CPU, nearly all of it pvlib's solar position for 35,000
instants, which are themselves converted a day at a time) and kept for the last few locations, keyed
by the coordinates rounded to 0.01° (about a kilometre, finer than a ZIP code's centroid), so an
estimate's days, and the next estimate for a nearby home, are slices of it.
"""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from agentkeys.sandbox.tariffs.model import SLOT_HOURS, SLOT_MINUTES, SLOTS_PER_DAY

if TYPE_CHECKING:
    import pandas as pd

_SLOT_MIDPOINT = timedelta(minutes=SLOT_MINUTES / 2)
# Coordinates are rounded to this many decimals before modelling (0.01° ≈ 1.1 km north-south).
COORDINATE_DECIMALS = 2
# Years of 1 kW production kept per process (each 366 x 96 floats, under 300 kB).
CACHED_YEARS = 32
_WATTS_PER_KW = 1000.0

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SolarAssumptions:
    """How solar production is modelled, in words and numbers an API answer can repeat."""

    library: str = "pvlib 0.16.1, NREL PVWatts v5 chain"
    position_model: str = "NREL SPA (pvlib solarposition)"
    irradiance_model: str = (
        "Ineichen-Perez clear sky, Linke turbidity climatology, site altitude; no clouds"
    )
    transposition_model: str = "Perez 1990, ground albedo 0.2, physical (glass) AOI loss on beam"
    # PVWatts' default residential tilt (a 4/12-5/12 roof pitch), facing due south. Latitude
    # tilt would favour winter noon and is rarer on roofs than a roof's own pitch.
    tilt_degrees: float = 20.0
    azimuth_degrees: float = 180.0
    albedo: float = 0.2
    temperature_model: str = "SAPM open rack glass/polymer"
    ambient_temperature_c: float = 20.0
    wind_speed_m_per_s: float = 1.0
    temperature_coefficient_per_c: float = -0.0037
    system_losses_percent: float = 14.0
    dc_ac_ratio: float = 1.2
    inverter_efficiency: float = 0.96
    # None: SAPM at the ambient temperature and wind above; a number: the cell held at it (25
    # gives standard test conditions, the simplest PVWatts run, with no temperature loss).
    cell_temperature_c: float | None = None
    slot_sampling: str = "each quarter-hour evaluated at its midpoint, wall-clock slots 00:00-23:45"


DEFAULT_SOLAR = SolarAssumptions()


def as_zone_info(timezone: ZoneInfo | str) -> ZoneInfo:
    """The zone itself, or the IANA zone of that name (``ZoneInfoNotFoundError`` if unknown)."""
    return timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)


def slot_midpoints_utc(*, timezone: ZoneInfo | str, day: date) -> list[datetime]:
    """The UTC instant at the middle of each of the 96 wall-clock quarter-hours of ``day``."""
    local_zone = as_zone_info(timezone)
    midnight = datetime.combine(day, time(0))
    return [
        (midnight + timedelta(minutes=SLOT_MINUTES * slot) + _SLOT_MIDPOINT)
        .replace(tzinfo=local_zone)
        .astimezone(UTC)
        for slot in range(SLOTS_PER_DAY)
    ]


def quarter_hour_solar_kwh(
    *,
    capacity_kw: float,
    latitude: float,
    longitude: float,
    timezone: ZoneInfo | str,
    day: date,
    altitude_m: float | None = None,
    assumptions: SolarAssumptions = DEFAULT_SOLAR,
) -> list[float]:
    """kWh an array of ``capacity_kw`` (DC nameplate) produces in each wall-clock quarter-hour
    (00:00 … 23:45 local) of ``day`` under a clear sky. ``altitude_m`` None: pvlib's map."""
    if capacity_kw <= 0:
        return [0.0] * SLOTS_PER_DAY
    year = _year_of_one_kw(
        latitude=round(latitude, COORDINATE_DECIMALS),
        longitude=round(longitude, COORDINATE_DECIMALS),
        zone=as_zone_info(timezone).key,
        year=day.year,
        altitude_m=altitude_m,
        assumptions=assumptions,
    )
    kwh = year[day.timetuple().tm_yday - 1] * (capacity_kw * SLOT_HOURS)
    return [float(value) for value in kwh]


@dataclass(frozen=True, slots=True)
class ClearSky:
    """Clear-sky irradiance (W/m²) at each slot midpoint of a day, on the horizontal."""

    ghi: FloatArray
    dni: FloatArray
    dhi: FloatArray


def clear_sky(
    *,
    latitude: float,
    longitude: float,
    timezone: ZoneInfo | str,
    day: date,
    altitude_m: float | None = None,
) -> ClearSky:
    """The Ineichen clear sky the production is computed from, for one local day."""
    import pvlib

    instants = _utc_index(slot_midpoints_utc(timezone=timezone, day=day))
    site = pvlib.location.Location(latitude, longitude, tz="UTC", altitude=altitude_m)
    sky = site.get_clearsky(instants, model="ineichen")
    return ClearSky(ghi=_floats(sky["ghi"]), dni=_floats(sky["dni"]), dhi=_floats(sky["dhi"]))


@functools.lru_cache(maxsize=CACHED_YEARS)
def _year_of_one_kw(
    *,
    latitude: float,
    longitude: float,
    zone: str,
    year: int,
    altitude_m: float | None,
    assumptions: SolarAssumptions,
) -> FloatArray:
    """AC kW of a 1 kW (DC) array at every slot midpoint of ``year``: one row per local day."""
    days = 366 if calendar.isleap(year) else 365
    ac_kw = _ac_kw_per_kw(
        _year_index(zone=zone, year=year),
        latitude=latitude,
        longitude=longitude,
        altitude_m=altitude_m,
        assumptions=assumptions,
    )
    table = ac_kw.reshape(days, SLOTS_PER_DAY)
    table.flags.writeable = False  # shared by every caller of the cache
    return table


def _ac_kw_per_kw(
    instants: pd.DatetimeIndex,
    *,
    latitude: float,
    longitude: float,
    altitude_m: float | None,
    assumptions: SolarAssumptions,
) -> FloatArray:
    import pvlib

    site = pvlib.location.Location(latitude, longitude, tz="UTC", altitude=altitude_m)
    sun = site.get_solarposition(instants)
    sky = site.get_clearsky(instants, model="ineichen", solar_position=sun)
    dni_extra = pvlib.irradiance.get_extra_radiation(instants)
    airmass = pvlib.atmosphere.get_relative_airmass(sun["apparent_zenith"])
    tilt, azimuth = assumptions.tilt_degrees, assumptions.azimuth_degrees
    poa = pvlib.irradiance.get_total_irradiance(
        tilt,
        azimuth,
        sun["apparent_zenith"],
        sun["azimuth"],
        sky["dni"],
        sky["ghi"],
        sky["dhi"],
        dni_extra=dni_extra,
        airmass=airmass,
        albedo=assumptions.albedo,
        model="perez",
    )
    # Perez is undefined (NaN) with the sun below the horizon: no light there.
    poa_global = _floats(poa["poa_global"])
    poa_direct = _floats(poa["poa_direct"])
    poa_diffuse = poa_global - poa_direct
    incidence = _floats(pvlib.irradiance.aoi(tilt, azimuth, sun["apparent_zenith"], sun["azimuth"]))
    cover = _floats(pvlib.iam.physical(incidence))
    effective = poa_direct * cover + poa_diffuse
    if assumptions.cell_temperature_c is None:
        parameters = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"][
            "open_rack_glass_polymer"
        ]
        cell_c = _floats(
            pvlib.temperature.sapm_cell(
                poa_global,
                assumptions.ambient_temperature_c,
                assumptions.wind_speed_m_per_s,
                **parameters,
            )
        )
    else:
        cell_c = np.full_like(effective, assumptions.cell_temperature_c)
    dc_w = _floats(
        pvlib.pvsystem.pvwatts_dc(
            effective, cell_c, _WATTS_PER_KW, assumptions.temperature_coefficient_per_c
        )
    )
    dc_w *= 1 - assumptions.system_losses_percent / 100
    inverter_dc_limit_w = _WATTS_PER_KW / assumptions.dc_ac_ratio / assumptions.inverter_efficiency
    lit = dc_w > 0
    ac_w = np.zeros_like(dc_w)
    # The inverter curve divides by DC power: evaluate it only where there is some.
    ac_w[lit] = _floats(
        pvlib.inverter.pvwatts(dc_w[lit], inverter_dc_limit_w, assumptions.inverter_efficiency)
    )
    result: FloatArray = np.clip(ac_w, 0.0, None) / _WATTS_PER_KW
    return result


def year_midpoints_utc(*, timezone: ZoneInfo | str, year: int) -> npt.NDArray[np.datetime64]:
    """``slot_midpoints_utc`` for every day of ``year``, one row per day (naive UTC instants).

    The same instants, computed a day at a time rather than a slot at a time: converting 35,000
    wall-clock times one by one took about half of a new location's year. A day whose first and
    last slot midpoints share a UTC offset has it for every slot (zones change offset at most
    once a day); the two days a year that change it are converted slot by slot.
    """
    local_zone = as_zone_info(timezone)
    days = 366 if calendar.isleap(year) else 365
    first = date(year, 1, 1)
    slot = np.timedelta64(SLOT_MINUTES, "m")
    midpoint = np.timedelta64(int(_SLOT_MIDPOINT.total_seconds()), "s")
    local = (
        np.datetime64(first.isoformat(), "s")
        + np.arange(days)[:, None] * np.timedelta64(1, "D")
        + np.arange(SLOTS_PER_DAY)[None, :] * slot
        + midpoint
    )
    offsets = np.empty(days, dtype="timedelta64[s]")
    shifting: list[int] = []
    for index in range(days):
        day = first + timedelta(days=index)
        earliest = _utc_offset(local_zone, datetime.combine(day, time(0)) + _SLOT_MIDPOINT)
        latest = _utc_offset(local_zone, datetime.combine(day, time(23, 45)) + _SLOT_MIDPOINT)
        offsets[index] = np.timedelta64(int(earliest.total_seconds()), "s")
        if earliest != latest:
            shifting.append(index)
    utc: npt.NDArray[np.datetime64] = local - offsets[:, None]
    for index in shifting:
        day = first + timedelta(days=index)
        utc[index] = np.array(
            [
                instant.replace(tzinfo=None)
                for instant in slot_midpoints_utc(timezone=local_zone, day=day)
            ],
            dtype="datetime64[s]",
        )
    return utc


def _utc_offset(zone: ZoneInfo, wall_clock: datetime) -> timedelta:
    # As ``slot_midpoints_utc`` converts it (fold=0 for a missing or repeated wall-clock time).
    return wall_clock - wall_clock.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


def _year_index(*, zone: str, year: int) -> pd.DatetimeIndex:
    import pandas as pd

    instants = year_midpoints_utc(timezone=zone, year=year).reshape(-1)
    return pd.DatetimeIndex(instants.astype("datetime64[ns]")).tz_localize(UTC)


def _utc_index(instants: list[datetime]) -> pd.DatetimeIndex:
    import pandas as pd

    return pd.DatetimeIndex(instants).as_unit("ns")


def _floats(values: object) -> FloatArray:
    """A float64 copy of a pandas/numpy result, NaN (the sun below the horizon) as 0."""
    array: FloatArray = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    return array

"""Clear-sky production of a PV array, per wall-clock quarter-hour of a local day.

Solar position: the NOAA "General Solar Position Calculations" (Spencer's Fourier series for the
declination and the equation of time, then hour angle and zenith). Irradiance: the Haurwitz
clear-sky model, GHI = 1098 · cos Z · exp(-0.057 / cos Z) W/m² while the sun is up. Production:
GHI / 1000 W/m² x capacity kW x derate x 0.25 h on a horizontal plane (no tilt, no weather).

Each of the 96 slots is evaluated at its midpoint (hh:mm + 7.5 min), converted to UTC with the
zone's real offset at that wall-clock time, so daylight-saving days shift the curve by an hour
of wall clock as the sun does. On the spring-forward day the nonexistent 02:00-02:59 slots are
read with the pre-transition offset (``fold=0``); they are at night everywhere DST is used.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from agentkeys.sandbox.tariffs.model import SLOT_HOURS, SLOT_MINUTES, SLOTS_PER_DAY

HAURWITZ_SCALE_W_PER_M2 = 1098.0
HAURWITZ_EXTINCTION = 0.057
STANDARD_IRRADIANCE_W_PER_M2 = 1000.0
_SLOT_MIDPOINT = timedelta(minutes=SLOT_MINUTES / 2)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SolarAssumptions:
    """How solar production is modelled, in words and numbers an API answer can repeat."""

    position_model: str = (
        "NOAA general solar position (Spencer series: declination, equation of time)"
    )
    irradiance_model: str = "Haurwitz clear-sky GHI = 1098·cosZ·exp(-0.057/cosZ) W/m²"
    plane: str = "horizontal (GHI), no tilt or azimuth, no clouds, no shading"
    derate: float = 0.80
    derate_reason: str = (
        "assumption: inverter, wiring, soiling, temperature and mismatch losses, in line with "
        "PVWatts' ~14% system losses plus inverter efficiency"
    )
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


def cos_zenith(*, latitude: float, longitude: float, instants: list[datetime]) -> FloatArray:
    """Cosine of the solar zenith angle at each UTC instant (negative when the sun is down)."""
    day_of_year = np.array([i.timetuple().tm_yday for i in instants], dtype=np.float64)
    year_days = np.array([366.0 if calendar.isleap(i.year) else 365.0 for i in instants])
    utc_hours = np.array([i.hour + i.minute / 60 + i.second / 3600 for i in instants])
    # Fractional year gamma in radians (NOAA).
    gamma = 2 * np.pi / year_days * (day_of_year - 1 + (utc_hours - 12) / 24)
    equation_of_time_min = 229.18 * (
        0.000075
        + 0.001868 * np.cos(gamma)
        - 0.032077 * np.sin(gamma)
        - 0.014615 * np.cos(2 * gamma)
        - 0.040849 * np.sin(2 * gamma)
    )
    declination = (
        0.006918
        - 0.399912 * np.cos(gamma)
        + 0.070257 * np.sin(gamma)
        - 0.006758 * np.cos(2 * gamma)
        + 0.000907 * np.sin(2 * gamma)
        - 0.002697 * np.cos(3 * gamma)
        + 0.00148 * np.sin(3 * gamma)
    )
    # True solar time from UTC: the zone offset is already folded into the instant.
    true_solar_min = utc_hours * 60 + equation_of_time_min + 4 * longitude
    hour_angle = np.radians(true_solar_min / 4 - 180)
    lat = math.radians(latitude)
    result: FloatArray = math.sin(lat) * np.sin(declination) + math.cos(lat) * np.cos(
        declination
    ) * np.cos(hour_angle)
    return result


def haurwitz_ghi(cos_z: FloatArray) -> FloatArray:
    """Clear-sky global horizontal irradiance (W/m²), zero while the sun is below the horizon."""
    up = cos_z > 0
    safe = np.where(up, cos_z, 1.0)
    ghi = HAURWITZ_SCALE_W_PER_M2 * safe * np.exp(-HAURWITZ_EXTINCTION / safe)
    result: FloatArray = np.where(up, ghi, 0.0)
    return result


def quarter_hour_solar_kwh(
    *,
    capacity_kw: float,
    latitude: float,
    longitude: float,
    timezone: ZoneInfo | str,
    day: date,
    assumptions: SolarAssumptions = DEFAULT_SOLAR,
) -> list[float]:
    """kWh produced in each wall-clock quarter-hour (00:00 … 23:45 local) of ``day``, clear sky."""
    if capacity_kw <= 0:
        return [0.0] * SLOTS_PER_DAY
    instants = slot_midpoints_utc(timezone=timezone, day=day)
    ghi = haurwitz_ghi(cos_zenith(latitude=latitude, longitude=longitude, instants=instants))
    kwh = ghi / STANDARD_IRRADIANCE_W_PER_M2 * capacity_kw * assumptions.derate * SLOT_HOURS
    return [float(value) for value in kwh]

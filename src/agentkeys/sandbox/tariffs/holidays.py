"""The holidays tariffs name, from the ``holidays`` package's U.S. federal calendar.

Tariffs name their holidays one by one (NERC's six, California's eight, the eleven federal ones,
or a utility's own pick); there is no NERC calendar in ``holidays``, so each named day is taken
from the U.S. federal calendar by its federal name, and the day after Thanksgiving (no federal
holiday) is Thanksgiving's Friday. ``observed`` applies the rule utilities and NERC use for
off-peak holidays: a holiday on a Sunday is also observed on the Monday after; one on a Saturday
is not moved (the federal Friday rule is for federal employees, not for tariffs).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from typing import Literal, get_args

import holidays

HolidayName = Literal[
    "new_years_day",
    "mlk_day",
    "washingtons_birthday",
    "memorial_day",
    "juneteenth",
    "independence_day",
    "labor_day",
    "columbus_day",
    "veterans_day",
    "thanksgiving",
    "day_after_thanksgiving",
    "christmas",
]
HOLIDAY_NAMES: tuple[str, ...] = get_args(HolidayName)

# Our name → the name ``holidays.US`` gives the day (observed days add " (observed)").
_FEDERAL_NAMES = {
    "new_years_day": "New Year's Day",
    "mlk_day": "Martin Luther King Jr. Day",
    "washingtons_birthday": "Washington's Birthday",
    "memorial_day": "Memorial Day",
    "juneteenth": "Juneteenth National Independence Day",
    "independence_day": "Independence Day",
    "labor_day": "Labor Day",
    "columbus_day": "Columbus Day",
    "veterans_day": "Veterans Day",
    "thanksgiving": "Thanksgiving Day",
    "christmas": "Christmas Day",
}


@cache
def _federal(year: int) -> dict[str, frozenset[date]]:
    """Federal holiday name → its dates in a year (the days themselves, none observed)."""
    found: dict[str, set[date]] = {}
    for day, label in holidays.country_holidays("US", years=year, observed=False).items():
        for name in str(label).split("; "):
            found.setdefault(name, set()).add(day)
    return {name: frozenset(days) for name, days in found.items()}


@cache
def holiday_dates(names: tuple[str, ...], year: int, *, observed: bool) -> frozenset[date]:
    """The dates of the named holidays in ``year``, with the Monday after each one on a Sunday
    when ``observed``."""
    calendar = _federal(year)
    days: set[date] = set()
    for name in names:
        if name == "day_after_thanksgiving":
            days.update(day + timedelta(days=1) for day in calendar["Thanksgiving Day"])
        else:
            days.update(calendar.get(_FEDERAL_NAMES[name], ()))
    if observed:
        days.update(day + timedelta(days=1) for day in list(days) if day.weekday() == 6)
    return frozenset(days)

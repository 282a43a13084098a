"""Ids of the shipped catalog (``sandbox/tariffs/catalog.json``), defined once for every test."""

from __future__ import annotations

# Utilities.
PGE, SCE, DUKE = "14328", "17609", "5416"

# Rate plans.
E_TOU_C = "8fafe26c6f12cd7da414d3cd"  # PG&E E-TOU-C: peak 4-9 p.m., summer June-September
E_1 = "f32aedcaba2a8d4211e3f7d8"  # PG&E E-1: tiered
SCE_TOU_D = "70615ff74102db7043697d35"  # SCE TOU-D-4-9PM
DUKE_RS = "572cc796dcfa91eff80286e8"  # Duke Energy Carolinas RS
PLANS = (E_TOU_C, E_1, SCE_TOU_D, DUKE_RS)
UTILITY_OF_PLAN = {E_TOU_C: PGE, E_1: PGE, SCE_TOU_D: SCE, DUKE_RS: DUKE}

# Well-formed ids the catalog does not hold.
UNKNOWN_PLAN = "0123456789abcdef01234567"
NO_SUCH_HOME = "ws_home_" + "0" * 32

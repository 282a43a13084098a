"""Ids of the shipped catalog (``sandbox/tariffs/catalog.json``), defined once for every test."""

from __future__ import annotations

# Utilities.
PGE, SCE, DUKE = "14328", "17609", "5416"

# Rate plans.
# URDB labels (the ratebook files pge-e-tou-c, pge-e-1, sce-tou-d-4-9pm, duke-carolinas-rs).
E_TOU_C = "69de6fa62aa9e9994f0ed2bd"  # PG&E E-TOU-C: peak 4-9 p.m., baseline credit, $/day charge
E_1 = "69d92c23ac3477692606714c"  # PG&E E-1: tiered by a daily baseline
SCE_TOU_D = "66ccb7bfa7d4ef64fc07ad6b"  # SCE TOU-D-4-9PM
DUKE_RS = "6998c205a746c90e550cb23f"  # Duke Energy Carolinas RS: two monthly fixed charges
PLANS = (E_TOU_C, E_1, SCE_TOU_D, DUKE_RS)
UTILITY_OF_PLAN = {E_TOU_C: PGE, E_1: PGE, SCE_TOU_D: SCE, DUKE_RS: DUKE}
# A ZIP each plan's utility serves (SCE: Newport Beach, Orange County, which EIA-861 gives to SCE
# alone; San Bernardino County also lists PG&E).
ZIP_OF_PLAN = {E_TOU_C: "94107", E_1: "94107", SCE_TOU_D: "92660", DUKE_RS: "28202"}

# The ids the sandbox answered for those plans before the catalog used URDB labels: the catalog
# still resolves them (stored homes keep their plan), answering the new id.
LEGACY_IDS = {
    "8fafe26c6f12cd7da414d3cd": E_TOU_C,
    "f32aedcaba2a8d4211e3f7d8": E_1,
    "70615ff74102db7043697d35": SCE_TOU_D,
    "572cc796dcfa91eff80286e8": DUKE_RS,
}

# Well-formed ids the catalog does not hold.
UNKNOWN_PLAN = "0123456789abcdef01234567"
NO_SUCH_HOME = "ws_home_" + "0" * 32

# Utilities and plans of the other ZIPs the home tests place homes in (ratebook files
# coned-sc-1-residential-nyc and comed-bes-residential-single-family; URDB labels).
CONED, COMED = "4226", "4110"
CONED_SC_1 = "67b4e33e7abe0c080a0b1171"  # ConEd SC-1 Residential, Zone J (New York City)
COMED_BES = "679c05efaddfd4b96500e1d4"  # ComEd BES Residential Single Family

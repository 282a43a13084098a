"""Dispatch a battery over consecutive quarter-hours by a linear program (HiGHS via SciPy).

Per slot t: charge c, discharge d (kWh into / out of the battery terminals), grid import g and
export e (kWh), and the state of charge s_t at the end of the slot. Subject to
    load - solar + c - d = g - e                  (energy balance at the meter)
    s_t = s_{t-1} + ηc·c_t - d_t / ηd            (s_{-1} = initial SOC, clipped into bounds)
    0 ≤ c ≤ Pc·h, 0 ≤ d ≤ Pd·h, minSOC·cap ≤ s ≤ maxSOC·cap, s_last ≥ initial
    g ≤ max(load - solar, 0) + Pc·h, e ≤ max(solar - load, 0) + Pd·h
minimise Σ import_price·g - export_price·e. Doing nothing is always feasible, so the optimum
never costs more than ``baseline_cost``.

Energy below ``ENERGY_RESOLUTION_KWH`` (1 Wh/1000) is modelled as none: a per-slot power limit
or a usable capacity that small moves nothing. Such bounds sit under HiGHS' feasibility
tolerance (1e-7), where it called the do-nothing schedule infeasible (``charging_kw=0``,
``discharging_kw=1.2e-7``); a milliwatt-hour changes no bill by a cent.

The caps on g and e are the most a slot can import or export without doing both at once. While
a slot's export price is at most its import price (every catalog plan: retail or no credit) an
optimum never does both, so the caps change nothing; they only keep the program bounded. If a
plan ever credited exports above imports, the meter's cost of net energy would be concave and no
LP could forbid importing and exporting in the same slot: savings would then be overstated, up
to the caps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linprog
from scipy.sparse import coo_array, csr_array

from agentkeys.sandbox.tariffs.model import SLOT_HOURS

VARIABLES_PER_SLOT = 5  # charge, discharge, import, export, state of charge
ENERGY_RESOLUTION_KWH = 1e-6

FloatArray = npt.NDArray[np.float64]


class DispatchError(RuntimeError):
    """The solver did not return an optimal dispatch (it should not happen: the LP is feasible)."""

    def __init__(self, *, status: int, message: str) -> None:
        super().__init__(f"battery dispatch failed (HiGHS status {status}): {message}")
        self.status = status


@dataclass(frozen=True, slots=True)
class Battery:
    """A battery's limits: energy in kWh, power in kW, efficiencies and SOC as fractions 0-1."""

    capacity_kwh: float
    charging_kw: float
    discharging_kw: float
    charging_efficiency: float
    discharging_efficiency: float
    current_soc: float
    min_soc: float
    max_soc: float

    def __post_init__(self) -> None:
        if min(self.capacity_kwh, self.charging_kw, self.discharging_kw) < 0:
            raise ValueError("capacity and power must not be negative")
        for name in ("charging_efficiency", "discharging_efficiency"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in (0, 1]")
        for name in ("current_soc", "min_soc", "max_soc"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1]")
        if self.min_soc > self.max_soc:
            raise ValueError("min_soc must not exceed max_soc")

    @property
    def min_kwh(self) -> float:
        return self.min_soc * self.capacity_kwh

    @property
    def max_kwh(self) -> float:
        return self.max_soc * self.capacity_kwh

    @property
    def initial_kwh(self) -> float:
        """The starting energy: the current SOC, clipped into the preferred SOC range."""
        return min(max(self.current_soc, self.min_soc), self.max_soc) * self.capacity_kwh


@dataclass(frozen=True, slots=True, eq=False)
class Dispatch:
    """The optimal schedule (kWh per slot) and its energy cost in dollars."""

    cost: float
    charge: FloatArray
    discharge: FloatArray
    grid_import: FloatArray
    grid_export: FloatArray
    state_of_charge: FloatArray  # kWh at the end of each slot
    initial_kwh: float


def baseline_cost(
    *,
    load_kwh: Sequence[float],
    solar_kwh: Sequence[float],
    import_price: Sequence[float],
    export_price: Sequence[float],
) -> float:
    """Energy cost without a battery: import the shortfall, export the surplus, slot by slot."""
    net = np.asarray(load_kwh, dtype=np.float64) - np.asarray(solar_kwh, dtype=np.float64)
    imports = np.maximum(net, 0.0)
    exports = np.maximum(-net, 0.0)
    cost = np.dot(np.asarray(import_price), imports) - np.dot(np.asarray(export_price), exports)
    return float(cost)


def optimize_dispatch(
    *,
    load_kwh: Sequence[float],
    solar_kwh: Sequence[float],
    import_price: Sequence[float],
    export_price: Sequence[float],
    battery: Battery,
    slot_hours: float = SLOT_HOURS,
) -> Dispatch:
    """Least-cost battery schedule over the given consecutive slots; raises ``DispatchError``."""
    load = np.asarray(load_kwh, dtype=np.float64)
    solar = np.asarray(solar_kwh, dtype=np.float64)
    prices_in = np.asarray(import_price, dtype=np.float64)
    prices_out = np.asarray(export_price, dtype=np.float64)
    slots = load.size
    if not solar.size == prices_in.size == prices_out.size == slots:
        raise ValueError("load, solar and prices need one value per slot each")
    if slots == 0:
        empty = np.zeros(0)
        initial = battery.initial_kwh
        return Dispatch(0.0, empty, empty, empty, empty, empty, initial)

    zeros = np.zeros(slots)
    objective = np.concatenate([zeros, zeros, prices_in, -prices_out, zeros])
    a_eq, b_eq = _equalities(load=load, solar=solar, battery=battery)
    bounds = _bounds(load=load, solar=solar, battery=battery, slot_hours=slot_hours)
    # scipy-stubs 1.17 types A_eq as a dense array and bounds as a sequence of pairs, but
    # linprog's HiGHS methods document sparse matrices and an (n, 2) bounds array: both are
    # what keeps a 31-day month (14,880 variables) fast.
    result = linprog(  # type: ignore[call-overload]
        objective, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs"
    )
    if result.status != 0 or result.x is None:
        raise DispatchError(status=int(result.status), message=str(result.message))
    x = np.asarray(result.x, dtype=np.float64).reshape(VARIABLES_PER_SLOT, slots)
    return Dispatch(
        cost=float(result.fun),
        charge=x[0],
        discharge=x[1],
        grid_import=x[2],
        grid_export=x[3],
        state_of_charge=x[4],
        initial_kwh=battery.initial_kwh,
    )


def _column(variable: int, slots: int) -> npt.NDArray[np.int64]:
    return np.arange(slots, dtype=np.int64) + variable * slots


def _equalities(
    *, load: FloatArray, solar: FloatArray, battery: Battery
) -> tuple[csr_array, FloatArray]:
    slots = load.size
    t = np.arange(slots, dtype=np.int64)
    charge, discharge, grid_in, grid_out, soc = (_column(v, slots) for v in range(5))
    ones = np.ones(slots)
    # Rows 0…T-1: c - d - g + e = solar - load.  Rows T…2T-1: s_t - s_{t-1} - ηc·c + d/ηd = 0.
    rows = np.concatenate([t, t, t, t, slots + t, slots + t, slots + t, slots + t[1:]])
    cols = np.concatenate([charge, discharge, grid_in, grid_out, soc, charge, discharge, soc[:-1]])
    values = np.concatenate(
        [
            ones,
            -ones,
            -ones,
            ones,
            ones,
            -battery.charging_efficiency * ones,
            ones / battery.discharging_efficiency,
            -ones[1:],
        ]
    )
    matrix = coo_array((values, (rows, cols)), shape=(2 * slots, VARIABLES_PER_SLOT * slots))
    rhs = np.concatenate([solar - load, _zeros_with_first(slots, battery.initial_kwh)])
    return csr_array(matrix), rhs


def _zeros_with_first(size: int, first: float) -> FloatArray:
    vector = np.zeros(size)
    vector[0] = first
    return vector


def _bounds(
    *, load: FloatArray, solar: FloatArray, battery: Battery, slot_hours: float
) -> FloatArray:
    slots = load.size
    lower = np.zeros((VARIABLES_PER_SLOT, slots))
    upper = np.empty((VARIABLES_PER_SLOT, slots))
    # A battery that can hold or move less than the resolution in a slot moves nothing.
    movable = _resolved(battery.max_kwh - battery.min_kwh) > 0
    upper[0] = _resolved(battery.charging_kw * slot_hours) if movable else 0.0
    upper[1] = _resolved(battery.discharging_kw * slot_hours) if movable else 0.0
    # The most a slot can import or export without importing and exporting at once.
    upper[2] = np.maximum(load - solar, 0.0) + upper[0]
    upper[3] = np.maximum(solar - load, 0.0) + upper[1]
    lower[4] = battery.min_kwh
    upper[4] = battery.max_kwh
    # No free energy: end the horizon with at least what it started with.
    lower[4, -1] = battery.initial_kwh
    return np.column_stack([lower.ravel(), upper.ravel()])


def _resolved(energy_kwh: float) -> float:
    """An energy bound as the solver can honour it: below ``ENERGY_RESOLUTION_KWH``, zero."""
    return energy_kwh if energy_kwh >= ENERGY_RESOLUTION_KWH else 0.0

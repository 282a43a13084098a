"""Dollar amounts as answered: rounded to the cent, never ``-0.0``."""

from __future__ import annotations


def cents(amount: float) -> float:
    """``amount`` in dollars rounded to the cent (half to even, as ``round``); a zero is ``0.0``.

    Rounding a small negative amount (or negating a zero) yields ``-0.0``, which JSON writes as
    ``-0.0``: a bill line of "minus nothing". Adding ``0.0`` after rounding turns it into ``0.0``
    and leaves every other value as it is.
    """
    return round(amount, 2) + 0.0

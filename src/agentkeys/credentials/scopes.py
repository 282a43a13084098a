"""The scopes a credential may hold: a closed set, one member per permission some route requires.

The issuing policy's ``[scopes]`` catalog must list exactly these (``policy_file`` and
``create_app`` refuse one that lacks a member or names anything else), so a policy can never
make a route unreachable. Pure: no I/O, no web framework.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    UTILITY_READ = "utility:read"
    HOMES_READ = "homes:read"
    HOMES_WRITE = "homes:write"
    PRICE_SIGNAL_READ = "price_signal:read"
    BILL_IMPACT_READ = "bill_impact:read"
    BATTERY_ESTIMATE = "battery:estimate"
    FEEDBACK_WRITE = "feedback:write"

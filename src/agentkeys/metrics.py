"""Prometheus metrics of the service (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter

BACKEND_ERRORS = Counter(
    "agentkeys_backend_errors_total",
    "Failures of a backing service (Redis) that the service worked around.",
    ["backend", "operation"],
)

QUOTA_ALARMS = Counter(
    "agentkeys_quota_alarms_total",
    "Decisions made while an organization's or e-mail's figure over every client network had "
    "reached its alarm threshold (counted per network, such figures never refuse).",
    ["quota"],
)

UNRECORDED_DECISIONS = Counter(
    "agentkeys_unrecorded_decisions_total",
    "Decisions not written to the ledger: the client network's storage budget for them was "
    "spent, or it asked faster than its credential-request rate.",
    ["outcome"],
)

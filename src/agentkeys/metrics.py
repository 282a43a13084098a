"""Prometheus metrics of the service (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter

BACKEND_ERRORS = Counter(
    "agentkeys_backend_errors_total",
    "Failures of a backing service (Redis) that the service worked around.",
    ["backend", "operation"],
)

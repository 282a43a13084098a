"""Prometheus metrics of the service (served at ``/metrics``), correct with several workers.

Every label takes values from a closed set (an outcome, a result, a route *template*, a method
from a fixed list, a status class): never an organization, e-mail, key, id or raw path, so no
client can grow the series. With ``agentkeys serve --workers N`` the workers write their values
to files in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode, set by ``serve``
before any worker imports prometheus-client), and a scrape answered by any worker reads them all.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

BACKEND_ERRORS = Counter(
    "agentkeys_backend_errors_total",
    "Failures of a backing service (Redis, the database) that the service worked around.",
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

DECISIONS = Counter(
    "agentkeys_decisions_total",
    "Credential requests decided, by outcome (issued, needs_more_info, production_denied, "
    "rate_limited), counted once committed.",
    ["outcome"],
)

VERIFICATIONS = Counter(
    "agentkeys_verifications_total",
    "Agent keys checked by the sandbox routes' guard, by result: ok, missing, invalid, expired, "
    "revoked, insufficient_scope, rate_limited.",
    ["result"],
)
VERIFICATION_RESULTS = (
    "ok",
    "missing",
    "invalid",
    "expired",
    "revoked",
    "insufficient_scope",
    "rate_limited",
)
# Bound once: the guard's hot path increments a child, without the label look-up.
VERIFIED = {result: VERIFICATIONS.labels(result=result) for result in VERIFICATION_RESULTS}

REVOCATIONS = Counter(
    "agentkeys_revocations_total",
    "Credentials revoked, by who revoked them: self (its own key), admin (an operator's admin "
    "key; never its name), leak.",
    ["by"],
)
REVOKERS = ("self", "admin", "leak")
for _by in REVOKERS:  # every series from the start: a scrape shows 0, not nothing
    REVOCATIONS.labels(by=_by)


def revoker(actor: str) -> str:
    """The bounded label of a ``revoked_by`` actor: ``admin:<name>`` is ``admin``."""
    kind = actor.split(":", 1)[0]
    return kind if kind in REVOKERS else "other"


KEY_CACHE_HITS = Counter(
    "agentkeys_key_cache_hits_total",
    "Key checks answered from the verified-key cache, by cache (agent, admin).",
    ["cache"],
)
KEY_CACHE_MISSES = Counter(
    "agentkeys_key_cache_misses_total",
    "Key checks the verified-key cache could not answer (a database look-up followed, or was "
    "shared), by cache (agent, admin).",
    ["cache"],
)

LAST_USES_DROPPED = Counter(
    "agentkeys_last_used_dropped_total",
    "Verified uses not recorded as a credential's last use: the uses waiting for the next "
    "flush already held their maximum of credentials.",
)

ACTIVE_CREDENTIALS = Gauge(
    "agentkeys_active_credentials",
    "Credentials neither expired nor revoked, counted in the database when scraped.",
    # The newest count of any live worker: each scrape counts in the worker that answers it.
    multiprocess_mode="livemostrecent",
)

HTTP_REQUEST_DURATION = Histogram(
    "agentkeys_http_request_duration_seconds",
    "Time from a request's arrival to its answer's end, by route template (`unmatched` for "
    "none), method and status class.",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"


def method_label(method: str) -> str:
    """A request's method as a label: any other word a client sends is ``other``."""
    return method if method in METHODS else OTHER_METHOD


def status_class(status: int) -> str:
    """``2xx`` for 200…299, and so on (a status outside 100…599 is ``other``)."""
    return f"{status // 100}xx" if 100 <= status <= 599 else "other"


def is_multiprocess() -> bool:
    """Whether prometheus-client writes values to files (``PROMETHEUS_MULTIPROC_DIR`` was set
    when it was imported): then a scrape must read every worker's files."""
    return bool(getattr(values.ValueClass, "_multiprocess", False))


def exposition() -> tuple[bytes, str]:
    """The text a scrape answers and its content type: this process's metrics, or every
    worker's in multiprocess mode."""
    if not is_multiprocess():
        return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST

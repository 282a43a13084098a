"""The issuing policy: a pure function of (request, quota usage, now) returning a frozen decision.

Order of decision (CONTRACT §1): rate limit → production → policy → issue. Validation happens
before this module is reached. Nothing here raises for a business outcome or does I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar

from agentkeys.credentials.upstream import UpstreamTable
from agentkeys.ratelimit.base import RequestRate

SANDBOX = "sandbox"


class Outcome(StrEnum):
    """What a credential request was answered; each decision type carries its own."""

    ISSUED = "issued"
    NEEDS_MORE_INFO = "needs_more_info"
    RATE_LIMITED = "rate_limited"
    PRODUCTION_DENIED = "production_denied"


class QuotaKind(StrEnum):
    ORGANIZATION_ISSUED = "organization_issued"
    EMAIL_ISSUED = "email_issued"
    ADDRESS_DECISIONS = "address_decisions"
    ORGANIZATION_ACTIVE = "organization_active"


@dataclass(frozen=True, slots=True)
class Quota:
    """At most ``limit`` events per sliding ``window``; no window counts what is active now.

    Organization and e-mail quotas are counted per client network, so that nobody elsewhere can
    spend them; the same figure over every network only raises an alarm at ``alarm_at``
    (``limit`` when unset), it never refuses.
    """

    limit: int
    window: timedelta | None = None
    alarm_at: int | None = None

    @property
    def alarm_threshold(self) -> int:
        return self.alarm_at if self.alarm_at is not None else self.limit


@dataclass(frozen=True, slots=True)
class NetworkPrefixes:
    """How many leading bits of a client address make its network, the unit of every
    per-address quota and rate: a client commonly holds a whole IPv6 /64."""

    ipv4: int = 32
    ipv6: int = 64


@dataclass(frozen=True, slots=True)
class RequestCosts:
    """Aggregate request rates beyond the per-credential one, and what a request costs."""

    # Sandbox requests per client network, over all its keys (None: no such rate).
    per_network: RequestRate | None = None
    # A route needing one of these scopes counts this many requests (the highest applies).
    scope_costs: Mapping[str, int] = field(default_factory=dict)
    # A request to one of these routes (path template, a ``CostedRoute``) counts this many, when
    # that is more than its scopes' cost.
    route_costs: Mapping[str, int] = field(default_factory=dict)
    # Revocations per client network (None: no such rate).
    revocations_per_network: RequestRate | None = None
    # Credential requests per client network, counted before any database work (None: none).
    issuance_per_network: RequestRate | None = None

    def cost_of(self, scopes: Iterable[str], *, route: str | None = None) -> int:
        """What a request needing ``scopes`` counts: the highest of its scopes' costs and, for
        a route given, that route's cost (1 when none is set)."""
        by_scopes = max((self.scope_costs.get(scope, 1) for scope in scopes), default=1)
        if route is None:
            return by_scopes
        return max(by_scopes, self.route_costs.get(route, 1))


@dataclass(frozen=True, slots=True)
class RefusedLedger:
    """At most ``limit`` ``rate_limited`` decisions stored per client network per ``window``."""

    limit: int = 100
    window: timedelta = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class StorageBudget:
    """What one client network may store of one kind (feedback, homes) per sliding ``window``:
    at most ``rows`` rows and ``bytes`` bytes, over all its keys."""

    rows: int
    bytes: int
    window: timedelta = timedelta(days=1)

    def wait_for(
        self, stored: Sequence[tuple[datetime, int]], adding: int, *, now: datetime
    ) -> int | None:
        """Seconds until one more row of ``adding`` bytes fits, or ``None`` if it fits now.

        ``stored``: when each row in the window was written and its bytes, oldest first. The
        wait ends when enough of the oldest rows have left the window (at least 1 second; a
        whole window if the row alone is larger than the budget).
        """
        total = sum(size for _, size in stored)
        if len(stored) + 1 <= self.rows and total + adding <= self.bytes:
            return None
        if adding > self.bytes:
            return max(1, math.ceil(self.window.total_seconds()))
        for leaving, (written, size) in enumerate(stored, start=1):
            total -= size
            if len(stored) - leaving + 1 <= self.rows and total + adding <= self.bytes:
                return max(1, math.ceil((written + self.window - now).total_seconds()))
        return max(1, math.ceil(self.window.total_seconds()))  # unreachable: all rows left


@dataclass(frozen=True, slots=True)
class StorageBudgets:
    """Per client network and day: feedback (~60 KB at most each, 100 a day per key) and homes
    (~20 KB at most each, 100 per key); many keys from one network share these."""

    feedback: StorageBudget = StorageBudget(rows=500, bytes=10_000_000)
    homes: StorageBudget = StorageBudget(rows=1_000, bytes=20_000_000)


@dataclass(frozen=True, slots=True)
class Retention:
    """How long decisions and dead credentials are kept: ``agentkeys db prune`` removes a decision
    made, and a credential expired or revoked, more than ``older_than`` ago."""

    older_than: timedelta = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class QuotaUsage:
    """How much of one quota is used, and when enough of it frees up to allow one more."""

    used: int
    frees_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ScopeCatalog:
    """Scopes that may be granted, and coarse names that expand to several of them."""

    scopes: Mapping[str, str]
    aliases: Mapping[str, tuple[str, ...]]

    def is_known(self, name: str) -> bool:
        return name in self.scopes or name in self.aliases

    def grantable_names(self) -> tuple[str, ...]:
        return tuple(sorted([*self.scopes, *self.aliases]))

    def expand(self, names: Iterable[str]) -> frozenset[str]:
        expanded: set[str] = set()
        for name in names:
            expanded.update(self.aliases.get(name, (name,)))
        return frozenset(expanded)


@dataclass(frozen=True, slots=True)
class NextSteps:
    """Texts of ``next_steps`` per outcome; placeholders are filled by ``decide``."""

    issued: str
    clamped: str
    raised: str
    needs_more_info: str
    rate_limited: str
    production_denied: str


@dataclass(frozen=True, slots=True)
class IssuingPolicy:
    """Everything that decides an outcome, as loaded from a file by ``policy_file``."""

    catalog: ScopeCatalog
    required_fields: tuple[str, ...]
    min_assignment_words: int
    min_word_letters: int
    default_ttl_seconds: int
    max_ttl_seconds: int
    min_ttl_seconds: int
    quotas: Mapping[QuotaKind, Quota]
    request_rate: RequestRate
    production_access: str
    next_steps: NextSteps
    networks: NetworkPrefixes = NetworkPrefixes()
    request_costs: RequestCosts = RequestCosts()
    refused_ledger: RefusedLedger = RefusedLedger()
    storage: StorageBudgets = StorageBudgets()
    retention: Retention = Retention()
    # An upstream API's requests mapped to scopes (``[upstream]``), for forward auth and the
    # verification API; empty: every upstream request is refused.
    upstream: UpstreamTable = field(default_factory=UpstreamTable)

    def longest_counting_window(self) -> timedelta:
        """The longest window over which stored rows are counted (quotas, the refused ledger,
        storage budgets): pruning anything younger would let a quota count too few."""
        windows = [quota.window for quota in self.quotas.values() if quota.window is not None]
        windows += [
            self.refused_ledger.window,
            self.storage.feedback.window,
            self.storage.homes.window,
        ]
        return max(windows)


@dataclass(frozen=True, slots=True)
class CredentialAsk:
    """What the agent asked for, as far as the policy cares."""

    requested_scopes: tuple[str, ...]
    requested_environment: str
    requested_ttl_seconds: int | None
    assignment: str
    provided_fields: frozenset[str]


@dataclass(frozen=True, slots=True)
class RateLimited:
    outcome: ClassVar[Outcome] = Outcome.RATE_LIMITED

    retry_after_seconds: int
    exhausted: tuple[QuotaKind, ...]
    next_steps: str


@dataclass(frozen=True, slots=True)
class ProductionDenied:
    outcome: ClassVar[Outcome] = Outcome.PRODUCTION_DENIED

    next_steps: str


@dataclass(frozen=True, slots=True)
class NeedsMoreInfo:
    outcome: ClassVar[Outcome] = Outcome.NEEDS_MORE_INFO

    next_steps: str
    missing_fields: tuple[str, ...] = ()
    unknown_scopes: tuple[str, ...] = ()
    allowed_scopes: tuple[str, ...] = ()
    unclear_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Issue:
    outcome: ClassVar[Outcome] = Outcome.ISSUED

    scopes: tuple[str, ...]
    ttl_seconds: int
    expires_at: datetime
    next_steps: str


Decision = RateLimited | ProductionDenied | NeedsMoreInfo | Issue

_WORD = re.compile(r"[^\W\d_]+")


def _distinct_words(text: str, *, min_letters: int) -> int:
    return len({word.casefold() for word in _WORD.findall(text) if len(word) >= min_letters})


def _retry_after(usage: QuotaUsage, *, now: datetime) -> int:
    # Round up, and never below one second: a retry after that many seconds must succeed.
    if usage.frees_at is None:
        return 1
    return max(1, math.ceil((usage.frees_at - now).total_seconds()))


def _rate_limited(
    policy: IssuingPolicy, usage: Mapping[QuotaKind, QuotaUsage], now: datetime
) -> RateLimited | None:
    waits: dict[QuotaKind, int] = {}
    for kind, quota in policy.quotas.items():
        current = usage.get(kind)
        if current is not None and current.used >= quota.limit:
            waits[kind] = _retry_after(current, now=now)
    if not waits:
        return None
    longest = max(waits.values())
    return RateLimited(
        retry_after_seconds=longest,
        exhausted=tuple(sorted(waits)),
        next_steps=policy.next_steps.rate_limited.format(retry_after=longest),
    )


def quota_refusal(
    policy: IssuingPolicy, usage: Mapping[QuotaKind, QuotaUsage], *, now: datetime
) -> RateLimited | None:
    """The refusal the given quotas alone would answer (the longest wait), if any is full."""
    return _rate_limited(policy, usage, now)


def _needs_more_info(policy: IssuingPolicy, ask: CredentialAsk) -> NeedsMoreInfo | None:
    unknown = tuple(
        s for s in dict.fromkeys(ask.requested_scopes) if not policy.catalog.is_known(s)
    )
    missing = tuple(f for f in policy.required_fields if f not in ask.provided_fields)
    words = _distinct_words(ask.assignment, min_letters=policy.min_word_letters)
    unclear = ("assignment",) if words < policy.min_assignment_words else ()
    if not (unknown or missing or unclear):
        return None
    hints = [policy.next_steps.needs_more_info]
    if missing:
        hints.append(f"Provide {', '.join(missing)}.")
    if unknown:
        hints.append(
            f"Unknown scopes: {', '.join(unknown)}; "
            f"choose from: {', '.join(policy.catalog.grantable_names())}."
        )
    if unclear:
        hints.append(
            "Describe the assignment in a sentence: what you are building and for whom "
            f"(at least {policy.min_assignment_words} distinct words)."
        )
    return NeedsMoreInfo(
        next_steps=" ".join(hints),
        missing_fields=missing,
        unknown_scopes=unknown,
        allowed_scopes=policy.catalog.grantable_names(),
        unclear_fields=unclear,
    )


def _issue(policy: IssuingPolicy, ask: CredentialAsk, now: datetime) -> Issue:
    requested = ask.requested_ttl_seconds or policy.default_ttl_seconds
    ttl = max(min(requested, policy.max_ttl_seconds), policy.min_ttl_seconds)
    next_steps = policy.next_steps.issued
    if ttl < requested:
        next_steps += " " + policy.next_steps.clamped.format(max_ttl=policy.max_ttl_seconds)
    elif ttl > requested:
        next_steps += " " + policy.next_steps.raised.format(min_ttl=policy.min_ttl_seconds)
    return Issue(
        scopes=tuple(dict.fromkeys(ask.requested_scopes)),
        ttl_seconds=ttl,
        expires_at=now + timedelta(seconds=ttl),
        next_steps=next_steps,
    )


def decide(
    ask: CredentialAsk,
    *,
    usage: Mapping[QuotaKind, QuotaUsage],
    now: datetime,
    policy: IssuingPolicy,
) -> Decision:
    """Decide one credential request. ``now`` must already be truncated to the millisecond."""
    limited = _rate_limited(policy, usage, now)
    if limited is not None:
        return limited
    if ask.requested_environment != SANDBOX:
        return ProductionDenied(
            next_steps=policy.next_steps.production_denied.format(
                production_access=policy.production_access
            )
        )
    needs = _needs_more_info(policy, ask)
    if needs is not None:
        return needs
    return _issue(policy, ask, now)

"""The issuing policy: a pure function of (request, quota usage, now) returning a frozen decision.

Order of decision (CONTRACT §1): rate limit → production → policy → issue. Validation happens
before this module is reached. Nothing here raises for a business outcome or does I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

SANDBOX = "sandbox"
PRODUCTION = "production"


class QuotaKind(StrEnum):
    ORGANIZATION_ISSUED = "organization_issued"
    ADDRESS_DECISIONS = "address_decisions"


@dataclass(frozen=True, slots=True)
class Quota:
    limit: int
    window: timedelta


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


DEFAULT_CATALOG = ScopeCatalog(
    scopes={
        "utility:read": "Look up utilities and rate plans for a ZIP code.",
        "homes:read": "List and read the homes this credential created.",
        "homes:write": "Create, update and remove homes.",
        "price_signal:read": "Read 15-minute import and export prices for a home.",
        "bill_impact:read": "Calculate bills and bill impacts from 15-minute usage.",
        "battery:estimate": "Estimate annual battery savings for a home.",
        "feedback:write": "Send feedback to the API team.",
    },
    aliases={
        "homes": ("homes:read", "homes:write"),
        "calculate": ("bill_impact:read", "battery:estimate"),
    },
)


@dataclass(frozen=True, slots=True)
class NextSteps:
    issued: str = (
        "Store the credential securely and send it as the x-ws-api-key header on sandbox requests."
    )
    clamped: str = "The requested TTL exceeded the maximum of {max_ttl} seconds and was shortened."
    needs_more_info: str = "Complete or correct the fields named in this response and retry."
    rate_limited: str = "Too many credential requests. Retry after {retry_after} seconds."
    production_denied: str = (
        "Production access is never granted through this API. Ask a human on your team to "
        "request production access through the WattShift dashboard, where it is reviewed by a "
        "person. Request a sandbox credential meanwhile."
    )


@dataclass(frozen=True, slots=True)
class IssuingPolicy:
    catalog: ScopeCatalog = DEFAULT_CATALOG
    required_fields: tuple[str, ...] = ("user_email",)
    min_assignment_words: int = 3
    min_word_letters: int = 3
    default_ttl_seconds: int = 86_400
    max_ttl_seconds: int = 7 * 86_400
    quotas: Mapping[QuotaKind, Quota] = field(
        default_factory=lambda: {
            QuotaKind.ORGANIZATION_ISSUED: Quota(limit=10, window=timedelta(hours=1)),
            QuotaKind.ADDRESS_DECISIONS: Quota(limit=60, window=timedelta(hours=1)),
        }
    )
    next_steps: NextSteps = NextSteps()


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
    retry_after_seconds: int
    exhausted: tuple[QuotaKind, ...]
    next_steps: str


@dataclass(frozen=True, slots=True)
class ProductionDenied:
    next_steps: str


@dataclass(frozen=True, slots=True)
class NeedsMoreInfo:
    next_steps: str
    missing_fields: tuple[str, ...] = ()
    unknown_scopes: tuple[str, ...] = ()
    allowed_scopes: tuple[str, ...] = ()
    unclear_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Issue:
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
    ttl = min(requested, policy.max_ttl_seconds)
    next_steps = policy.next_steps.issued
    if ttl < requested:
        next_steps += " " + policy.next_steps.clamped.format(max_ttl=policy.max_ttl_seconds)
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
        return ProductionDenied(next_steps=policy.next_steps.production_denied)
    needs = _needs_more_info(policy, ask)
    if needs is not None:
        return needs
    return _issue(policy, ask, now)

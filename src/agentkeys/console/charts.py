"""Stacked bar charts drawn by the server as SVG geometry, and the policy in force in a sentence:
pure (no web framework, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from agentkeys.console.durations import Duration
from agentkeys.credentials.policy import IssuingPolicy, Outcome, QuotaKind

OUTCOMES: tuple[str, ...] = tuple(outcome.value for outcome in Outcome)
CHART_WIDTH = 720
CHART_HEIGHT = 160
BAR_GAP = 2


@dataclass(frozen=True, slots=True)
class Segment:
    outcome: str
    count: int
    y: float
    height: float


@dataclass(frozen=True, slots=True)
class Bar:
    start: datetime
    label: str
    total: int
    counts: dict[str, int]
    x: float
    width: float
    segments: list[Segment]


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    width: int
    height: int
    total: int
    totals_by_outcome: dict[str, int]
    bars: list[Bar]
    outcomes: tuple[str, ...] = OUTCOMES


def stacked_chart(
    title: str,
    buckets: Sequence[tuple[datetime, Mapping[str, int]]],
    *,
    label_format: str,
) -> Chart:
    """One bar per bucket, its outcomes stacked bottom-up in ``OUTCOMES`` order, scaled to the
    tallest bar (an empty chart draws no segment)."""
    tallest = max((sum(counts.values()) for _, counts in buckets), default=0)
    slot = CHART_WIDTH / max(1, len(buckets))
    bars = []
    totals = dict.fromkeys(OUTCOMES, 0)
    for index, (start, counts) in enumerate(buckets):
        known = {outcome: int(counts.get(outcome, 0)) for outcome in OUTCOMES}
        segments = []
        base = float(CHART_HEIGHT)
        for outcome in OUTCOMES:
            count = known[outcome]
            totals[outcome] += count
            if count == 0 or tallest == 0:
                continue
            height = CHART_HEIGHT * count / tallest
            base -= height
            segments.append(Segment(outcome=outcome, count=count, y=base, height=height))
        bars.append(
            Bar(
                start=start,
                label=start.strftime(label_format),
                total=sum(known.values()),
                counts=known,
                x=index * slot + BAR_GAP / 2,
                width=max(1.0, slot - BAR_GAP),
                segments=segments,
            )
        )
    return Chart(
        title=title,
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        total=sum(totals.values()),
        totals_by_outcome=totals,
        bars=bars,
    )


_QUOTA_PHRASES = {
    QuotaKind.ORGANIZATION_ISSUED: "credentials issued per organization",
    QuotaKind.EMAIL_ISSUED: "credentials issued per e-mail",
    QuotaKind.ADDRESS_DECISIONS: "decisions per client network",
    QuotaKind.ORGANIZATION_ACTIVE: "active credentials per organization",
}


def policy_parts(policy: IssuingPolicy) -> list[str | Duration]:
    """The issuing policy in force, in one sentence (lifetimes, scopes, quotas): text, and its
    durations as values (a page shows them in words with the exact seconds on hover)."""
    scopes = ", ".join(policy.catalog.grantable_names())
    quotas: list[list[str | Duration]] = []
    for kind, quota in policy.quotas.items():
        phrase: list[str | Duration] = [f"{quota.limit} {_QUOTA_PHRASES.get(kind, str(kind))}"]
        if quota.window:
            phrase += [" ", Duration(int(quota.window.total_seconds()), per=True)]
        quotas.append(phrase)
    required = ", ".join(policy.required_fields) or "nothing beyond the required fields"
    parts: list[str | Duration] = [
        "Keys live ",
        Duration(policy.default_ttl_seconds),
        " by default (from ",
        Duration(policy.min_ttl_seconds),
        " up to ",
        Duration(policy.max_ttl_seconds),
        f"), may be granted {scopes}, require {required}, and are limited to ",
    ]
    if not quotas:
        parts.append("no quotas")
    for index, phrase in enumerate(quotas):
        parts += (["; "] if index else []) + phrase
    parts.append(".")
    return parts


def policy_sentence(policy: IssuingPolicy) -> str:
    """The issuing policy in force, in one sentence of plain text."""
    return "".join(str(part) for part in policy_parts(policy))

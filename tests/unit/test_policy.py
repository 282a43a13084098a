"""The issuing policy as a pure function: order of decision, TTLs, quotas, vague assignments."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from agentkeys.credentials.policy import (
    CredentialAsk,
    Issue,
    NeedsMoreInfo,
    ProductionDenied,
    QuotaKind,
    QuotaUsage,
    RateLimited,
    decide,
)
from agentkeys.credentials.policy_file import load_policy

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = load_policy()
DEFAULT_CATALOG = POLICY.catalog
NO_USAGE: dict[QuotaKind, QuotaUsage] = {}


def ask(
    *,
    scopes: tuple[str, ...] = ("homes",),
    environment: str = "sandbox",
    ttl: int | None = None,
    assignment: str = "Prototype bill impact calculations for a dashboard",
    provided: frozenset[str] = frozenset({"user_email"}),
) -> CredentialAsk:
    return CredentialAsk(
        requested_scopes=scopes,
        requested_environment=environment,
        requested_ttl_seconds=ttl,
        assignment=assignment,
        provided_fields=provided,
    )


def exhausted(frees_in: timedelta) -> QuotaUsage:
    return QuotaUsage(used=10, frees_at=NOW + frees_in)


class TestOrderOfDecision:
    def test_rate_limit_comes_before_production(self) -> None:
        usage = {QuotaKind.ORGANIZATION_ISSUED: exhausted(timedelta(minutes=5))}

        decision = decide(ask(environment="production"), usage=usage, now=NOW, policy=POLICY)

        assert isinstance(decision, RateLimited)

    def test_production_comes_before_the_policy(self) -> None:
        decision = decide(
            ask(environment="production", scopes=("nope",), provided=frozenset()),
            usage=NO_USAGE,
            now=NOW,
            policy=POLICY,
        )

        assert isinstance(decision, ProductionDenied)

    def test_a_complete_sandbox_request_is_issued(self) -> None:
        decision = decide(ask(), usage=NO_USAGE, now=NOW, policy=POLICY)

        assert isinstance(decision, Issue)
        assert decision.scopes == ("homes",)


class TestRateLimit:
    def test_retry_after_rounds_up_to_whole_seconds(self) -> None:
        usage = {QuotaKind.ORGANIZATION_ISSUED: exhausted(timedelta(seconds=10, milliseconds=1))}

        decision = decide(ask(), usage=usage, now=NOW, policy=POLICY)

        assert isinstance(decision, RateLimited)
        assert decision.retry_after_seconds == 11

    def test_retry_after_is_never_below_one_second(self) -> None:
        usage = {QuotaKind.ORGANIZATION_ISSUED: exhausted(timedelta(0))}

        decision = decide(ask(), usage=usage, now=NOW, policy=POLICY)

        assert isinstance(decision, RateLimited)
        assert decision.retry_after_seconds == 1

    def test_the_longest_wait_wins_and_every_exhausted_quota_is_named(self) -> None:
        usage = {
            QuotaKind.ORGANIZATION_ISSUED: exhausted(timedelta(seconds=30)),
            QuotaKind.ADDRESS_DECISIONS: QuotaUsage(used=60, frees_at=NOW + timedelta(seconds=90)),
        }

        decision = decide(ask(), usage=usage, now=NOW, policy=POLICY)

        assert isinstance(decision, RateLimited)
        assert decision.retry_after_seconds == 90
        assert set(decision.exhausted) == set(usage)

    def test_usage_below_the_limit_is_not_limited(self) -> None:
        usage = {QuotaKind.ORGANIZATION_ISSUED: QuotaUsage(used=9)}

        assert isinstance(decide(ask(), usage=usage, now=NOW, policy=POLICY), Issue)


class TestNeedsMoreInfo:
    def test_unknown_scopes_are_named_once_in_request_order(self) -> None:
        decision = decide(
            ask(scopes=("zeta", "homes", "alpha", "zeta")), usage=NO_USAGE, now=NOW, policy=POLICY
        )

        assert isinstance(decision, NeedsMoreInfo)
        assert decision.unknown_scopes == ("zeta", "alpha")
        assert decision.allowed_scopes == DEFAULT_CATALOG.grantable_names()

    def test_required_fields_are_named(self) -> None:
        decision = decide(ask(provided=frozenset()), usage=NO_USAGE, now=NOW, policy=POLICY)

        assert isinstance(decision, NeedsMoreInfo)
        assert decision.missing_fields == ("user_email",)

    def test_a_policy_can_require_other_fields(self) -> None:
        policy = replace(POLICY, required_fields=("user_email", "project"))

        decision = decide(ask(), usage=NO_USAGE, now=NOW, policy=policy)

        assert isinstance(decision, NeedsMoreInfo)
        assert decision.missing_fields == ("project",)

    def test_an_assignment_of_two_real_words_is_too_vague(self) -> None:
        decision = decide(
            ask(assignment="testing 1234567 api"), usage=NO_USAGE, now=NOW, policy=POLICY
        )

        assert isinstance(decision, NeedsMoreInfo)
        assert decision.unclear_fields == ("assignment",)

    def test_repeating_a_word_does_not_make_an_assignment_clear(self) -> None:
        decision = decide(
            ask(assignment="test test test test test"), usage=NO_USAGE, now=NOW, policy=POLICY
        )

        assert isinstance(decision, NeedsMoreInfo)
        assert decision.unclear_fields == ("assignment",)

    def test_three_distinct_words_are_enough(self) -> None:
        decision = decide(
            ask(assignment="Evaluate energy APIs"), usage=NO_USAGE, now=NOW, policy=POLICY
        )

        assert isinstance(decision, Issue)


class TestTtl:
    def test_default_ttl_applies_when_none_is_asked(self) -> None:
        decision = decide(ask(ttl=None), usage=NO_USAGE, now=NOW, policy=POLICY)

        assert isinstance(decision, Issue)
        assert decision.expires_at == NOW + timedelta(seconds=86_400)

    def test_a_larger_ttl_is_clamped_to_the_maximum(self) -> None:
        decision = decide(ask(ttl=7 * 86_400 + 1), usage=NO_USAGE, now=NOW, policy=POLICY)

        assert isinstance(decision, Issue)
        assert decision.ttl_seconds == 7 * 86_400
        assert "shortened" in decision.next_steps

    def test_a_short_ttl_is_granted_as_asked(self) -> None:
        decision = decide(ask(ttl=1), usage=NO_USAGE, now=NOW, policy=POLICY)

        assert isinstance(decision, Issue)
        assert decision.expires_at == NOW + timedelta(seconds=1)


scope_names = st.sampled_from([*DEFAULT_CATALOG.grantable_names(), "admin", "prod:*", ""])


class TestProperties:
    @given(
        scopes=st.lists(scope_names | st.text(max_size=8), min_size=1, max_size=20),
        environment=st.sampled_from(["sandbox", "production"]),
        ttl=st.none() | st.integers(min_value=1, max_value=10**40),
        assignment=st.text(min_size=10, max_size=200),
        provided=st.frozensets(st.sampled_from(["user_email", "project", "company"])),
        used=st.integers(min_value=0, max_value=100),
    )
    def test_no_input_yields_production_unknown_scopes_or_a_ttl_above_the_maximum(
        self,
        scopes: list[str],
        environment: str,
        ttl: int | None,
        assignment: str,
        provided: frozenset[str],
        used: int,
    ) -> None:
        usage = {QuotaKind.ORGANIZATION_ISSUED: QuotaUsage(used=used, frees_at=NOW)}
        request = ask(
            scopes=tuple(scopes),
            environment=environment,
            ttl=ttl,
            assignment=assignment,
            provided=provided,
        )

        decision = decide(request, usage=usage, now=NOW, policy=POLICY)

        if isinstance(decision, Issue):
            assert environment == "sandbox"
            assert all(DEFAULT_CATALOG.is_known(scope) for scope in decision.scopes)
            assert decision.ttl_seconds <= POLICY.max_ttl_seconds
            assert decision.expires_at <= NOW + timedelta(seconds=POLICY.max_ttl_seconds)
            assert used < 10
        if isinstance(decision, RateLimited):
            assert decision.retry_after_seconds >= 1

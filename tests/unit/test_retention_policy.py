"""The ledger's retention: durations as operators write them, and the policy file's
``[retention] older_than`` (default 90d, checked with FILE:LINE like every other field)."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from agentkeys.credentials.policy import Quota, QuotaKind
from agentkeys.credentials.policy_file import (
    PolicyError,
    default_policy_text,
    load_policy,
    parse_policy,
    retention_problem,
)
from agentkeys.durations import format_duration, parse_duration
from tests.support.policies import EXECUTABLE

DEFAULT_LINE = 'older_than = "90d"'


def with_retention(line: str | None) -> str:
    text = default_policy_text()
    assert DEFAULT_LINE in text
    if line is None:
        return text.replace("[retention]\n" + DEFAULT_LINE + "\n", "")
    return text.replace(DEFAULT_LINE, line)


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="p.toml")
    return caught.value.lines


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


class TestDurations:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("90d", timedelta(days=90)),
            ("12h", timedelta(hours=12)),
            ("2w", timedelta(weeks=2)),
            ("90m", timedelta(minutes=90)),
            ("1h", timedelta(hours=1)),
            ("36500d", timedelta(days=36_500)),
        ],
    )
    def test_accepted(self, text: str, expected: timedelta) -> None:
        assert parse_duration(text) == expected

    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            ("", "not a duration"),
            ("90", "not a duration"),
            ("d", "not a duration"),
            ("90 d", "not a duration"),
            (" 90d", "not a duration"),
            ("1.5d", "not a duration"),
            ("-1d", "not a duration"),
            ("90D", "not a duration"),
            ("90s", "not a duration"),
            ("1d12h", "not a duration"),
            ("99999999d", "not a duration"),
            ("0d", "zero"),
            ("000h", "zero"),
            ("36501d", "longer than 36500d"),
        ],
    )
    def test_refused_in_one_line(self, text: str, reason: str) -> None:
        with pytest.raises(ValueError, match=reason) as caught:
            parse_duration(text)
        assert "\n" not in str(caught.value)

    @pytest.mark.parametrize(
        ("duration", "text"),
        [
            (timedelta(days=90), "90d"),
            (timedelta(days=14), "2w"),
            (timedelta(hours=36), "36h"),
            (timedelta(seconds=90), "90s"),
        ],
    )
    def test_formatted_in_the_largest_exact_unit(self, duration: timedelta, text: str) -> None:
        assert format_duration(duration) == text


class TestRetentionInThePolicyFile:
    def test_the_shipped_default_is_90_days(self) -> None:
        assert load_policy().retention.older_than == timedelta(days=90)

    def test_absent_it_is_90_days(self) -> None:
        text = with_retention(None)
        assert "[retention]" not in text
        policy = parse_policy(text, source="p.toml")
        assert policy.retention.older_than == timedelta(days=90)

    def test_read_from_the_file(self) -> None:
        policy = parse_policy(with_retention('older_than = "2w"'), source="p.toml")
        assert policy.retention.older_than == timedelta(weeks=2)

    @pytest.mark.parametrize(
        ("line", "message"),
        [
            ('older_than = "90"', "'90' is not a duration"),
            ('older_than = "0d"', "'0d' is zero"),
            ("older_than = 90", "Input should be a valid string"),
            ('older_than = "12h"', "12h is shorter than the longest window"),
        ],
    )
    def test_a_bad_value_names_its_line(self, line: str, message: str) -> None:
        text = with_retention(line)
        (problem,) = problems(text)
        assert problem.startswith(f"p.toml:{line_of(text, line)}: retention.older_than: ")
        assert message in problem

    def test_an_unknown_key_is_refused(self) -> None:
        text = with_retention('older_than = "90d"\ndecisions = "30d"')
        (problem,) = problems(text)
        assert problem.startswith(f"p.toml:{line_of(text, 'decisions = ')}: retention.decisions: ")

    def test_it_may_not_be_shorter_than_what_the_policy_counts(self) -> None:
        policy = load_policy()
        assert policy.longest_counting_window() == timedelta(days=1)
        assert retention_problem(timedelta(days=1), policy) is None
        assert retention_problem(timedelta(hours=23), policy) is not None
        weekly = replace(
            policy,
            quotas={
                **policy.quotas,
                QuotaKind.ORGANIZATION_ISSUED: Quota(10, timedelta(weeks=1)),
            },
        )
        assert weekly.longest_counting_window() == timedelta(weeks=1)
        problem = retention_problem(timedelta(days=6), weekly)
        assert problem is not None
        assert "(1w)" in problem

    def test_policy_check_describes_it(self, tmp_path: Path) -> None:
        path = tmp_path / "policy.toml"
        path.write_text(with_retention('older_than = "30d"'))
        result = subprocess.run(
            [str(EXECUTABLE), "policy", "check", str(path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert (
            "Retention: agentkeys db prune removes decisions, and credentials expired or "
            "revoked, older than 30d" in result.stdout
        )
        bad = tmp_path / "bad.toml"
        bad.write_text(with_retention('older_than = "soon"'))
        refused = subprocess.run(
            [str(EXECUTABLE), "policy", "check", str(bad)],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert refused.returncode == 2
        assert f"{bad}:{line_of(bad.read_text(), 'soon')}: retention.older_than:" in refused.stderr

"""Durations in words (``console.durations``): pure, no app."""

from __future__ import annotations

import pytest

from agentkeys.console.durations import Duration, human_duration


class TestHumanDuration:
    @pytest.mark.parametrize(
        ("seconds", "words"),
        [
            (1, "1 second"),
            (59, "59 seconds"),
            (60, "1 minute"),
            (5400, "90 minutes"),
            (7200, "2 hours"),
            (86400, "1 day"),
            (604800, "7 days"),
        ],
    )
    def test_the_largest_unit_that_divides_it_exactly(self, seconds: int, words: str) -> None:
        assert human_duration(seconds) == words

    def test_an_uneven_duration_is_spelled_out_never_rounded(self) -> None:
        assert human_duration(86401) == "1 day and 1 second"
        assert human_duration(90061) == "1 day, 1 hour, 1 minute and 1 second"
        assert human_duration(6000) == "1 hour and 40 minutes"

    def test_a_rate_window_reads_per_unit(self) -> None:
        assert Duration(3600, per=True).text == "per hour"
        assert Duration(7200, per=True).text == "per 2 hours"
        assert str(Duration(900)) == "15 minutes"

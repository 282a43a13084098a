"""Stacked bar geometry and the policy sentence (``console.charts``): pure, no app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agentkeys.console.charts import CHART_HEIGHT, OUTCOMES, policy_sentence, stacked_chart
from agentkeys.credentials.policy_file import load_policy

START = datetime(2026, 3, 1, tzinfo=UTC)


class TestStackedChart:
    def test_bars_stack_their_outcomes_scaled_to_the_tallest(self) -> None:
        chart = stacked_chart(
            "t",
            [
                (START, {"issued": 2, "needs_more_info": 2}),
                (START + timedelta(hours=1), {"issued": 1}),
                (START + timedelta(hours=2), {}),
            ],
            label_format="%H",
        )
        assert chart.total == 5
        assert chart.totals_by_outcome == {
            **dict.fromkeys(OUTCOMES, 0),
            "issued": 3,
            "needs_more_info": 2,
        }
        tallest, short, empty = chart.bars
        assert [s.outcome for s in tallest.segments] == ["issued", "needs_more_info"]
        assert sum(s.height for s in tallest.segments) == pytest.approx(CHART_HEIGHT)
        assert tallest.segments[0].y + tallest.segments[0].height == pytest.approx(CHART_HEIGHT)
        assert short.segments[0].height == pytest.approx(CHART_HEIGHT / 4)
        assert empty.segments == []
        assert empty.total == 0
        assert short.x > tallest.x

    def test_an_empty_chart_draws_nothing(self) -> None:
        chart = stacked_chart("t", [(START, {})], label_format="%H")
        assert chart.total == 0
        assert chart.bars[0].segments == []


class TestPolicySentence:
    def test_the_shipped_policy_in_one_sentence(self) -> None:
        sentence = policy_sentence(load_policy(None))
        assert sentence.startswith("Keys live 1 day by default (from 1 second up to 7 days)")
        assert "homes:read" in sentence
        assert "10 credentials issued per organization per hour" in sentence
        assert "50 active credentials per organization" in sentence
        assert sentence.endswith(".")

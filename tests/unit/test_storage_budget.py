"""The storage budget per client network: its arithmetic (pure) and its place in the policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentkeys.credentials.policy import StorageBudget, StorageBudgets
from agentkeys.credentials.policy_file import load_policy, parse_policy
from tests.unit.test_policy_file import edited, problems

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


def rows(*ages_and_sizes: tuple[int, int]) -> list[tuple[datetime, int]]:
    """Rows written ``age`` hours ago with ``size`` bytes, oldest first."""
    return sorted((NOW - timedelta(hours=age), size) for age, size in ages_and_sizes)


class TestWaitFor:
    def test_room_left_means_no_wait(self) -> None:
        assert (
            StorageBudget(rows=3, bytes=100).wait_for(rows((5, 10), (1, 10)), 80, now=NOW) is None
        )

    def test_rows_spent_wait_for_the_oldest_to_leave(self) -> None:
        budget = StorageBudget(rows=2, bytes=1_000)
        assert budget.wait_for(rows((20, 1), (3, 1)), 1, now=NOW) == 4 * 3600

    def test_bytes_spent_wait_until_enough_bytes_have_left(self) -> None:
        budget = StorageBudget(rows=100, bytes=100)
        # 90 stored; 30 more fit only once the 40-byte row (written 10 h ago) has left too.
        stored = rows((20, 10), (10, 40), (2, 40))
        assert budget.wait_for(stored, 30, now=NOW) == 14 * 3600

    def test_a_row_larger_than_the_budget_waits_a_whole_window(self) -> None:
        assert StorageBudget(rows=5, bytes=100).wait_for([], 101, now=NOW) == 86_400

    @given(
        st.lists(st.tuples(st.integers(0, 23), st.integers(0, 50)), max_size=12),
        st.integers(0, 60),
        st.integers(1, 8),
        st.integers(60, 400),
    )
    def test_after_the_wait_the_row_fits(
        self, stored: list[tuple[int, int]], adding: int, max_rows: int, max_bytes: int
    ) -> None:
        budget = StorageBudget(rows=max_rows, bytes=max_bytes)
        written = rows(*stored)
        wait = budget.wait_for(written, adding, now=NOW)
        if wait is None:
            assert len(written) < max_rows
            assert sum(size for _, size in written) + adding <= max_bytes
            return
        later = NOW + timedelta(seconds=wait)
        still = [(at, size) for at, size in written if at > later - DAY]
        assert budget.wait_for(still, adding, now=later) is None
        # And not a second earlier.
        earlier = later - timedelta(seconds=1)
        before = [(at, size) for at, size in written if at > earlier - DAY]
        assert wait == 1 or budget.wait_for(before, adding, now=earlier) is not None


class TestPolicy:
    def test_the_default_policy_budgets_feedback_and_homes_per_network(self) -> None:
        assert load_policy().storage == StorageBudgets()
        assert StorageBudgets().feedback == StorageBudget(rows=500, bytes=10_000_000)

    def test_the_numbers_are_read_from_the_file(self) -> None:
        text = edited("rows_per_network = 500", "rows_per_network = 7")
        policy = parse_policy(text, source="p.toml")
        assert policy.storage.feedback.rows == 7

    @pytest.mark.parametrize(
        ("old", "new"),
        [
            ("rows_per_network = 500", "rows_per_network = 0"),
            ("bytes_per_network = 20_000_000", "bytes_per_network = 10"),
            ("rows_per_network = 1000", "rows_per_network = 1000\nkilobytes = 1"),
        ],
    )
    def test_bad_numbers_are_named(self, old: str, new: str) -> None:
        found = problems(edited(old, new))
        assert any("storage" in line for line in found), found

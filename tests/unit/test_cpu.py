"""The CPU pool: at most ``size`` pieces of work at once, off the event loop, a bounded wait."""

from __future__ import annotations

import asyncio
import threading

import pytest

from agentkeys.cpu import CpuBusy, CpuPool
from tests.support.waiting import until


class TestCpuPool:
    async def test_work_runs_in_another_thread_and_answers(self) -> None:
        pool = CpuPool(1)

        assert await pool.run(threading.get_ident) != threading.get_ident()
        assert await pool.run(divmod, 17, 5) == (3, 2)

    async def test_no_more_than_size_run_at_once(self) -> None:
        pool = CpuPool(2, wait_seconds=5)
        lock = threading.Lock()
        now = peak = 0
        release = threading.Event()

        def work() -> None:
            nonlocal now, peak
            with lock:
                now += 1
                peak = max(peak, now)
            release.wait(timeout=5)
            with lock:
                now -= 1

        tasks = [asyncio.create_task(pool.run(work)) for _ in range(5)]
        await until(lambda: pool.running == 2 and pool.waiting == 3)
        await asyncio.sleep(0.05)
        assert (pool.running, pool.waiting) == (2, 3)
        release.set()
        await asyncio.gather(*tasks)

        assert peak == 2
        assert pool.running == 0

    async def test_a_wait_longer_than_its_bound_is_refused_with_a_time_to_retry(self) -> None:
        pool = CpuPool(1, wait_seconds=0.05)
        async with pool.slot():
            with pytest.raises(CpuBusy) as refused:
                await pool.run(int)

        assert refused.value.retry_after_seconds is not None
        assert refused.value.retry_after_seconds > 0
        assert pool.waiting == 0
        # The slot is free again, and a refusal took none.
        assert await pool.run(int, "7") == 7

    async def test_a_failing_piece_of_work_gives_its_slot_back(self) -> None:
        pool = CpuPool(1, wait_seconds=0.05)
        with pytest.raises(ZeroDivisionError):
            await pool.run(divmod, 1, 0)

        assert pool.running == 0
        assert await pool.run(divmod, 4, 2) == (2, 0)

    def test_a_pool_needs_a_slot(self) -> None:
        with pytest.raises(ValueError, match="at least one slot"):
            CpuPool(0)

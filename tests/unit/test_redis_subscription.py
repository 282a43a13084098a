"""A Redis that never answers must hold nothing up: the guard's start, its revocation listener and
its close, and the server's revocation bus, each fall back (cache off) or finish within their
bounds. And a listener that lost a cancellation (Python 3.11's ``asyncio.wait_for``, under which
redis-py sends, can drop one) is stopped all the same.

``asyncio.wait_for(..., OUTER_SECONDS)`` only turns a hang into a failure; it times nothing."""

from __future__ import annotations

import asyncio
import contextlib

from agentkeys import subscription
from agentkeys.credentials.cache import VerifiedKeyCache
from agentkeys.credentials.revocations import RedisRevocationBus
from tests.support.guard import METER, FakeAgentkeys, guard_on, service
from tests.support.silent_redis import silent_redis
from tests.support.waiting import until

OUTER_SECONDS = 60


class TestGuardOnASilentRedis:
    async def test_the_guard_starts_asks_agentkeys_every_time_and_closes(self) -> None:
        fake = FakeAgentkeys(routes={("GET", METER): "meters:read"})
        key = fake.issue("meters:read")

        async def serve_three_requests(url: str) -> tuple[list[int], bool]:
            async with guard_on(url, fake) as guard, service(guard) as http:
                answers = [await http.get(METER, headers={"x-ws-api-key": key}) for _ in range(3)]
                listening = guard.listening_for_revocations
            return [answer.status_code for answer in answers], listening

        async with silent_redis() as redis:
            statuses, listening = await asyncio.wait_for(
                serve_three_requests(redis.url), OUTER_SECONDS
            )

        assert statuses == [200] * 3
        assert not listening
        assert fake.calls == 3

    async def test_the_listener_gives_up_on_a_silent_connection_and_tries_again(self) -> None:
        fake = FakeAgentkeys(routes={("GET", METER): "meters:read"})
        async with silent_redis() as redis:
            guard = guard_on(redis.url, fake)
            await asyncio.wait_for(guard.start(), OUTER_SECONDS)
            try:
                await until(lambda: redis.connections >= 2)
                assert not guard.listening_for_revocations
            finally:
                await asyncio.wait_for(guard.close(), OUTER_SECONDS)


class TestRevocationBusOnASilentRedis:
    async def test_the_cache_stays_off_the_listener_retries_and_the_bus_closes(self) -> None:
        cache = VerifiedKeyCache(max_age_seconds=60)
        async with silent_redis() as redis:
            bus = RedisRevocationBus(redis.url, cache)
            await asyncio.wait_for(bus.start(), OUTER_SECONDS)
            try:
                await until(lambda: redis.connections >= 2)
                assert not cache.enabled
            finally:
                await asyncio.wait_for(bus.close(), OUTER_SECONDS)


class TestStop:
    async def test_a_listener_that_swallowed_a_cancellation_is_stopped_all_the_same(self) -> None:
        waiting = asyncio.Event()

        async def swallows_one_cancellation() -> None:
            with contextlib.suppress(asyncio.CancelledError):
                waiting.set()
                await asyncio.Event().wait()
            await asyncio.Event().wait()

        task = asyncio.create_task(swallows_one_cancellation())
        await waiting.wait()

        await asyncio.wait_for(subscription.stop(task), OUTER_SECONDS)

        assert task.cancelled()

    async def test_a_listener_that_will_not_stop_is_left_behind_at_the_bound(self) -> None:
        waiting, released = asyncio.Event(), asyncio.Event()

        async def ignores_cancellation() -> None:
            while not released.is_set():
                with contextlib.suppress(asyncio.CancelledError):
                    waiting.set()
                    await released.wait()

        task = asyncio.create_task(ignores_cancellation())
        await waiting.wait()

        await asyncio.wait_for(subscription.stop(task, seconds=0.3), OUTER_SECONDS)

        assert not task.done()
        released.set()
        await task

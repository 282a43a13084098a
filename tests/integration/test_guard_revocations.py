"""The guard's revocation stream on a real Redis: a revocation announced on agentkeys' channel
evicts the key at once (the cache's bound never passes in these tests: its clock is frozen), and
without its subscription the guard serves nothing from its cache."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from agentkeys.credentials.revocation_channel import CHANNEL, revocation_message
from tests.support.guard import METER, FakeAgentkeys, guard_on, service
from tests.support.private_services import private_redis
from tests.support.servers import free_port
from tests.support.waiting import until

pytestmark = pytest.mark.redis


@pytest.fixture
def fake() -> FakeAgentkeys:
    return FakeAgentkeys(routes={("GET", METER): "meters:read"})


@pytest.fixture
async def publisher(redis_url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_url)
    yield redis
    await redis.aclose()


class TestRevocationStream:
    async def test_an_announced_revocation_is_refused_at_once(
        self, redis_url: str, fake: FakeAgentkeys, publisher: Redis
    ) -> None:
        key = fake.issue("meters:read")
        async with guard_on(redis_url, fake) as guard, service(guard) as http:
            assert guard.listening_for_revocations
            await http.get(METER, headers={"x-ws-api-key": key})
            cached = await http.get(METER, headers={"x-ws-api-key": key})
            fake.credential(key).revoked = True

            await publisher.publish(CHANNEL, revocation_message("ws_agent_cred_fake1"))
            await until(lambda: guard._listener is not None and guard._listener.received > 0)
            refused = await http.get(METER, headers={"x-ws-api-key": key})

        assert cached.status_code == 200
        assert refused.status_code == 401
        assert refused.json()["error_code"] == "AUTH_REVOKED_CREDENTIAL"

    async def test_another_credentials_revocation_leaves_the_key_cached(
        self, redis_url: str, fake: FakeAgentkeys, publisher: Redis
    ) -> None:
        key = fake.issue("meters:read")
        async with guard_on(redis_url, fake) as guard, service(guard) as http:
            await http.get(METER, headers={"x-ws-api-key": key})

            await publisher.publish(CHANNEL, revocation_message("ws_agent_cred_someone_else"))
            await until(lambda: guard._listener is not None and guard._listener.received > 0)
            await http.get(METER, headers={"x-ws-api-key": key})

        assert fake.calls == 1

    async def test_a_lost_subscription_turns_the_cache_off_until_it_is_back(
        self, fake: FakeAgentkeys, tmp_path: Path
    ) -> None:
        key = fake.issue("meters:read")
        with private_redis(tmp_path) as redis:
            async with guard_on(redis.url, fake) as guard, service(guard) as http:
                await http.get(METER, headers={"x-ws-api-key": key})
                await asyncio.to_thread(redis.stop)
                await until(lambda: not guard.listening_for_revocations)
                # Messages may be missed now: nothing is served from the cache.
                await http.get(METER, headers={"x-ws-api-key": key})
                await http.get(METER, headers={"x-ws-api-key": key})
                calls_while_down = fake.calls

                await asyncio.to_thread(redis.start)
                await until(lambda: guard.listening_for_revocations)
                await http.get(METER, headers={"x-ws-api-key": key})
                await http.get(METER, headers={"x-ws-api-key": key})

        assert calls_while_down == 3
        # Back from empty: one verification, then the cache again.
        assert fake.calls == 4

    async def test_a_silent_redis_turns_the_cache_off_until_it_answers_again(
        self, fake: FakeAgentkeys, tmp_path: Path
    ) -> None:
        # SIGSTOP: the connection stays open and the kernel still accepts bytes, but nothing is
        # ever answered, so only the listener's silence bound can notice.
        key = fake.issue("meters:read")
        with private_redis(tmp_path) as redis:
            assert redis.process is not None
            async with guard_on(redis.url, fake) as guard, service(guard) as http:
                await http.get(METER, headers={"x-ws-api-key": key})
                redis.process.send_signal(signal.SIGSTOP)
                try:
                    # Generous: the silence bound, then a loaded machine's scheduling.
                    await until(lambda: not guard.listening_for_revocations, seconds=30)
                    await http.get(METER, headers={"x-ws-api-key": key})
                    await http.get(METER, headers={"x-ws-api-key": key})
                    calls_while_silent = fake.calls
                finally:
                    redis.process.send_signal(signal.SIGCONT)

                await until(lambda: guard.listening_for_revocations)
                await http.get(METER, headers={"x-ws-api-key": key})
                await http.get(METER, headers={"x-ws-api-key": key})

        assert calls_while_silent == 3
        assert fake.calls == 4

    async def test_without_its_subscription_the_guard_asks_agentkeys_every_time(
        self, fake: FakeAgentkeys
    ) -> None:
        key = fake.issue("meters:read")
        nowhere = f"redis://127.0.0.1:{free_port()}/0"
        async with guard_on(nowhere, fake) as guard, service(guard) as http:
            answers = [await http.get(METER, headers={"x-ws-api-key": key}) for _ in range(3)]

            assert not guard.listening_for_revocations
        assert [answer.status_code for answer in answers] == [200] * 3
        assert fake.calls == 3

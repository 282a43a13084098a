"""Revocation means at once: no look-up that began before a revocation committed can answer a
request sent after the revocation's 200, nor leave the credential in the key cache.

The race is made certain rather than hoped for: the verifier's database read is held between the
read and the cache ``put`` (the window a slow look-up leaves open) while the revocation commits.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from agentkeys.credentials import verifier as verifier_module
from agentkeys.credentials.models import CredentialRecord
from agentkeys.credentials.repository import CredentialRepository
from tests.support.app import AppFactory, client_for
from tests.support.assertions import assert_envelope
from tests.support.factories import issue_credential, key_header, key_with

# Races between a look-up and a revocation's commit.
pytestmark = pytest.mark.both_backends

SELF = "/v1/agent-credentials/self"


class LookupHold:
    """Holds the verifier's next look-up after its read, until released."""

    def __init__(self) -> None:
        self.armed = False
        self.has_read = asyncio.Event()
        self.release = asyncio.Event()
        self.jitter_seconds = 0.0


@pytest.fixture
def hold(monkeypatch: pytest.MonkeyPatch) -> Iterator[LookupHold]:
    holding = LookupHold()

    class HeldRepository(CredentialRepository):
        async def get_by_digest(
            self, key_digest: str, *, for_update: bool = False
        ) -> CredentialRecord | None:
            record = await super().get_by_digest(key_digest, for_update=for_update)
            if holding.armed:
                holding.armed = False
                holding.has_read.set()
                await holding.release.wait()
            elif holding.jitter_seconds:
                await asyncio.sleep(random.uniform(0, holding.jitter_seconds))
            return record

    # Only the verifier's look-ups: the revocation's locked re-read is the service's own.
    monkeypatch.setattr(verifier_module, "CredentialRepository", HeldRepository)
    yield holding
    holding.release.set()


def assert_revoked(response: httpx.Response) -> None:
    assert_envelope(response, status=401, code="AUTH_REVOKED_CREDENTIAL")


async def race(
    hold: LookupHold,
    *,
    looker: httpx.AsyncClient,
    revoker: httpx.AsyncClient,
    issued: dict[str, Any],
    evicted: Any = None,
) -> tuple[httpx.Response, httpx.Response, httpx.Response]:
    """A look-up reads the valid row and waits; the revocation commits and answers; then a
    request joins, the look-up finishes, and one more request comes. Returns all three answers
    besides the held one (which began before the revocation, so may answer either way)."""
    headers = key_header(issued["credential"])
    hold.armed = True
    held = asyncio.create_task(looker.get(SELF, headers=headers))
    await asyncio.wait_for(hold.has_read.wait(), timeout=10)

    revoked = await revoker.post(issued["revocation_path"], headers=headers)
    assert revoked.json()["outcome"] == "revoked", revoked.text
    if evicted is not None:
        await evicted()
    joining = asyncio.create_task(looker.get(SELF, headers=headers))
    done, _ = await asyncio.wait({joining}, timeout=5)
    hold.release.set()
    await held
    after = await looker.get(SELF, headers=headers)
    # The joining request was answered on its own, while the held look-up still waited.
    assert joining in done, "a request sent after the revocation joined the older look-up"
    return revoked, (await joining), after


class TestOneProcess:
    async def test_a_look_up_begun_before_the_revocation_serves_no_one_after(
        self, make_app: AppFactory, hold: LookupHold
    ) -> None:
        # The cache bound at its maximum, so a stale entry would outlive the test's requests.
        app = make_app(key_cache_seconds=1.0)
        async with client_for(app) as client:
            issued = await issue_credential(client)
            app.state.context.verifier.cache.clear()

            _, joining, after = await race(hold, looker=client, revoker=client, issued=issued)

            assert_revoked(joining)
            assert_revoked(after)
            assert len(app.state.context.verifier.cache) == 0

    async def test_hammered_every_request_sent_after_the_answer_is_refused(
        self, make_app: AppFactory, hold: LookupHold
    ) -> None:
        # Look-ups that linger a random while between read and put, 20 at a time, while the
        # credential is revoked; repeated, so the orderings vary.
        hold.jitter_seconds = 0.02
        app = make_app(key_cache_seconds=1.0)
        async with client_for(app) as client:
            for trial in range(6):
                headers = await key_with(client, "homes", organization=f"Race Org {trial}")
                app.state.context.verifier.cache.clear()
                revocation_path = (await client.get(SELF, headers=headers)).json()[
                    "revocation_path"
                ]
                app.state.context.verifier.cache.clear()
                before = [asyncio.create_task(client.get(SELF, headers=headers)) for _ in range(20)]
                await asyncio.sleep(0)
                revoked = await client.post(revocation_path, headers=headers)
                assert revoked.status_code == 200
                after = await asyncio.gather(
                    *(client.get(SELF, headers=headers) for _ in range(20))
                )
                await asyncio.gather(*before)
                late = await client.get(SELF, headers=headers)

                for response in [*after, late]:
                    assert_revoked(response)


@pytest.mark.redis
class TestTwoReplicasWithRedis:
    async def test_a_look_up_on_another_replica_cannot_outlive_the_announcement(
        self, make_app: AppFactory, redis_url: str, hold: LookupHold
    ) -> None:
        two_app = make_app(redis_url=redis_url, key_cache_seconds=1.0)
        async with (
            client_for(make_app(redis_url=redis_url, key_cache_seconds=1.0)) as one,
            client_for(two_app) as two,
        ):
            issued = await issue_credential(one)
            cache = two_app.state.context.verifier.cache
            cache.clear()
            generation = cache.generation

            async def announced_on_two() -> None:
                for _ in range(200):
                    if cache.generation != generation:
                        return
                    await asyncio.sleep(0.01)
                pytest.fail("the revocation was never announced to the other replica")

            _, joining, after = await race(
                hold, looker=two, revoker=one, issued=issued, evicted=announced_on_two
            )

            assert_revoked(joining)
            assert_revoked(after)
            assert len(cache) == 0

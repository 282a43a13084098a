"""The verified-key cache: a busy key costs one database look-up, however many requests wait."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event

from tests.support.app import AppFactory, client_for
from tests.support.factories import issue_credential, key_header

# The cache saves database look-ups: their count differs per driver pool.
pytestmark = pytest.mark.both_backends

SELF = "/v1/agent-credentials/self"


class TestSingleFlight:
    async def test_simultaneous_requests_share_one_look_up(self, make_app: AppFactory) -> None:
        app = make_app()
        async with client_for(app) as client:
            headers = key_header((await issue_credential(client))["credential"])
            app.state.context.verifier.cache.clear()
            checkouts: list[Any] = []
            event.listen(app.state.engine.sync_engine, "checkout", lambda *a: checkouts.append(a))

            responses = await asyncio.gather(
                *(client.get(SELF, headers=headers) for _ in range(20))
            )
            # Counted before the shutdown, whose flush of the last uses takes a connection.
            look_ups = len(checkouts)

        assert [response.status_code for response in responses] == [200] * 20
        assert look_ups == 1

    async def test_a_refusal_is_shared_too_and_nothing_is_cached(
        self, make_app: AppFactory
    ) -> None:
        app = make_app()
        async with client_for(app) as client:
            issued = await issue_credential(client)
            headers = key_header(issued["credential"])
            await client.post(issued["revocation_path"], headers=headers)

            responses = await asyncio.gather(
                *(client.get(SELF, headers=headers) for _ in range(10))
            )
            again = await client.get(SELF, headers=headers)

        assert {response.json()["error_code"] for response in [*responses, again]} == {
            "AUTH_REVOKED_CREDENTIAL"
        }
        assert len(app.state.context.verifier.cache) == 0

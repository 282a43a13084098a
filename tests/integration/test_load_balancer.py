"""Three `agentkeys serve` replicas on one PostgreSQL + Redis behind nginx: a burst of decisions
through the load balancer, spread over the replicas, issues exactly the quota."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.support.databases import empty_tables
from tests.support.factories import credential_request
from tests.support.load_balancer import load_balancer
from tests.support.servers import running_server

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

REPLICAS = 3
# The shipped policy: 10 credentials an hour per organization and client network.
ORGANIZATION_QUOTA = 10
DECIDED = "credential request decided"


async def burst(base_url: str, count: int) -> list[httpx.Response]:
    """``count`` requests at once for one organization, each user with an e-mail of its own."""
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        return await asyncio.gather(
            *(
                client.post(
                    "/v1/agent-credentials",
                    json=credential_request(user_email=f"dev{n}@example.com"),
                )
                for n in range(count)
            )
        )


class TestThreeReplicasBehindALoadBalancer:
    def test_fifty_simultaneous_requests_issue_exactly_the_quota(
        self, postgres_database: str, redis_url: str, tmp_path: Path
    ) -> None:
        asyncio.run(empty_tables(postgres_database))
        environment = {
            "AGENTKEYS_REDIS_URL": redis_url,
            # nginx on loopback appends the client's address: the client network is the caller's.
            "AGENTKEYS_TRUSTED_PROXIES": "127.0.0.1",
            "AGENTKEYS_DATABASE_CONNECTIONS": "6",
            "AGENTKEYS_WEBHOOKS_DELIVER": "false",
        }
        logs = [tmp_path / f"replica-{n}.log" for n in range(REPLICAS)]
        with ExitStack() as stack:
            replicas = [
                stack.enter_context(
                    running_server(
                        database_url=postgres_database, log_path=log, extra_env=environment
                    )
                )
                for log in logs
            ]
            balanced = stack.enter_context(
                load_balancer([replica.base_url for replica in replicas], tmp_path)
            )
            responses = asyncio.run(burst(balanced, 50))

        assert [response.status_code for response in responses] == [200] * 50
        outcomes = [response.json()["outcome"] for response in responses]
        assert outcomes.count("issued") == ORGANIZATION_QUOTA
        assert outcomes.count("rate_limited") == 50 - ORGANIZATION_QUOTA
        # The race ran across replicas, not in one process behind the balancer.
        deciding = [log for log in logs if DECIDED in log.read_text()]
        assert len(deciding) >= 2, [log.read_text()[-2000:] for log in logs]

"""A typed Python client for agentkeys: every route an agent key can use, sync and async.

Bodies and answers are the server's own pydantic models; errors are ``AgentKeysError``. It
imports no web framework, ORM or server internals (an import-linter contract keeps it so).

    from agentkeys.client import AgentKeysClient

    with AgentKeysClient("http://127.0.0.1:8080") as client:
        answer = client.request_credential({...})  # outcome: issued, needs_more_info, ...
        client.lookup_utility({"zipcode": "94103"})
        client.revoke_credential()
"""

from __future__ import annotations

from agentkeys.client.asynchronous import AsyncAgentKeysClient
from agentkeys.client.calls import KEY_HEADER, Call
from agentkeys.client.errors import (
    TRANSPORT_ERROR,
    UNEXPECTED_RESPONSE,
    AgentKeysError,
    FieldProblem,
)
from agentkeys.client.retries import RetryBudget
from agentkeys.client.sync import AgentKeysClient

__all__ = [
    "KEY_HEADER",
    "TRANSPORT_ERROR",
    "UNEXPECTED_RESPONSE",
    "AgentKeysClient",
    "AgentKeysError",
    "AsyncAgentKeysClient",
    "Call",
    "FieldProblem",
    "RetryBudget",
]

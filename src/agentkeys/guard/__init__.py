"""Protect your own Python API with agentkeys: agent keys verified against a remote agentkeys.

``Guard`` asks agentkeys' ``POST /v1/keys/verify`` whether a request's key (``x-ws-api-key`` or
``Authorization: Bearer``) is good for it, caches positive answers for at most 1 s (evicting
revoked keys at once when it shares agentkeys' Redis), and fails closed (503) when agentkeys
cannot be asked. Refusals are agentkeys' own error envelope and statuses. Use it as pure ASGI
middleware (``GuardMiddleware``, any ASGI app) or as a FastAPI dependency (``guard.require``, with
``install_guard`` from ``agentkeys.guard.dependency``).
"""

from __future__ import annotations

from agentkeys.guard.asgi import GuardMiddleware, RateLimitHeaders, identity_of
from agentkeys.guard.core import Guard, GuardStats
from agentkeys.guard.identity import AgentIdentity, RateLimitState
from agentkeys.guard.verdict import Admission, Refusal

__all__ = [
    "Admission",
    "AgentIdentity",
    "Guard",
    "GuardMiddleware",
    "GuardStats",
    "RateLimitHeaders",
    "RateLimitState",
    "Refusal",
    "identity_of",
]

"""The guard's tests: a stand-in for agentkeys' verification API (``POST /v1/keys/verify``),
as the issue specifies it, on an ``httpx.MockTransport`` (the integration tests use a real
``agentkeys serve``), counting the calls it answers and able to go down; a hand-moved monotonic
clock; and a small Starlette API behind the guard's middleware."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agentkeys.credentials.keys import ADMIN_KEYS, AGENT_KEYS
from agentkeys.guard import Guard, GuardMiddleware, identity_of

METER = "/v2/meters/m1"
NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
VERIFY_KEY = ADMIN_KEYS.mint(server_secret=b"fake").secret


@dataclass
class FakeCredential:
    credential_id: str
    scopes: tuple[str, ...]
    expires_at: datetime = NOW + timedelta(days=1)
    revoked: bool = False
    limit: int = 100
    used: int = 0


@dataclass
class FakeAgentkeys:
    """Keys it knows, an upstream route table (method, path → scope), a call count, and an
    outage switch (``down``: connection refused; ``status``: answer that status instead)."""

    credentials: dict[str, FakeCredential] = field(default_factory=dict)
    routes: dict[tuple[str, str], str] = field(default_factory=dict)
    calls: int = 0
    down: bool = False
    status: int | None = None
    body: bytes | None = None
    bodies: list[dict[str, object]] = field(default_factory=list)
    forwarded_for: list[str | None] = field(default_factory=list)
    now: datetime = NOW

    def issue(self, *scopes: str, limit: int = 100, expires_at: datetime | None = None) -> str:
        """A new key for a credential with ``scopes``; returns the key."""
        key = AGENT_KEYS.mint(server_secret=b"fake").secret
        self.credentials[key] = FakeCredential(
            f"ws_agent_cred_fake{len(self.credentials) + 1}",
            tuple(scopes),
            expires_at=expires_at or self.now + timedelta(days=1),
            limit=limit,
        )
        return key

    def credential(self, key: str) -> FakeCredential:
        return self.credentials[key]

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if self.status is not None:
            return httpx.Response(self.status, content=self.body or b"")
        if self.body is not None:
            return httpx.Response(200, content=self.body)
        assert request.url.path == "/v1/keys/verify"
        if request.headers.get("authorization") != f"Bearer {VERIFY_KEY}":
            return httpx.Response(401, json={"error_code": "AUTH_INVALID_API_KEY"})
        asked = json.loads(request.content)
        self.bodies.append(asked)
        self.forwarded_for.append(request.headers.get("x-forwarded-for"))
        return httpx.Response(200, json=self._verdict(asked))

    def _verdict(self, asked: dict[str, object]) -> dict[str, object]:
        credential = self.credentials.get(str(asked["key"]))
        if credential is None:
            return _answer(False, "NOT_FOUND")
        if credential.revoked:
            return _answer(False, "REVOKED", credential)
        if self.now >= credential.expires_at:
            return _answer(False, "EXPIRED", credential)
        needed = asked.get("scopes") or [
            self.routes.get((str(asked.get("method")), str(asked.get("path"))), "unrouted")
        ]
        assert isinstance(needed, list)
        if not set(needed) <= set(credential.scopes):
            return _answer(False, "INSUFFICIENT_SCOPE", credential)
        if credential.used >= credential.limit:
            return _answer(False, "RATE_LIMITED", credential)
        credential.used += 1
        return _answer(True, "VALID", credential)


def _answer(valid: bool, code: str, credential: FakeCredential | None = None) -> dict[str, object]:
    if credential is None:
        return {
            "valid": valid,
            "code": code,
            "credential_id": None,
            "scopes": None,
            "expires_at": None,
            "ratelimit": None,
        }
    return {
        "valid": valid,
        "code": code,
        "credential_id": credential.credential_id,
        "scopes": list(credential.scopes),
        "expires_at": credential.expires_at.isoformat(timespec="milliseconds").replace(
            "+00:00", "Z"
        ),
        "ratelimit": {
            "limit": credential.limit,
            "remaining": max(0, credential.limit - credential.used),
            "reset": 60 if credential.used >= credential.limit else 30,
        },
    }


class Ticker:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.value = 1_000.0

    def __call__(self) -> float:
        return self.value


async def whoami(request: Request) -> JSONResponse:
    identity = identity_of(request.scope)
    assert identity is not None
    return JSONResponse({"credential_id": identity.credential_id, "scopes": identity.scopes})


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def guard_on(redis_url: str, fake: FakeAgentkeys) -> Guard:
    """A guard on ``fake`` whose clock stands still (the cache's bound never passes), listening
    for revocations on ``redis_url``."""
    return Guard(
        "http://agentkeys.test",
        verify_key=VERIFY_KEY,
        transport=fake.transport(),
        now=lambda: fake.now,
        monotonic=Ticker(),
        cache_seconds=1.0,
        redis_url=redis_url,
    )


def service(guard: Guard) -> httpx.AsyncClient:
    """A small Starlette API behind the guard's middleware, in process."""
    app = Starlette(routes=[Route("/v2/meters/{id}", whoami), Route("/healthz", healthz)])
    guarded = GuardMiddleware(app, guard=guard, exempt_paths={"/healthz"})
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=guarded), base_url="http://service.test"
    )

"""The call to agentkeys' verification API (``POST /v1/keys/verify``) over one shared client.

The guard authenticates with an admin key holding the ``verify`` role (a ``SecretStr``: no
``repr`` or log line shows it). The agent key travels in the JSON body, never in a URL, so no
access log on either side holds it. Anything but a readable 200 answer (a connection failure, a
time-out, a 5xx, agentkeys refusing the guard's own key) raises ``AgentkeysUnavailable``: the
guard then answers 503 and lets nothing through.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass

import httpx
from pydantic import SecretStr, ValidationError

from agentkeys.guard.verdict import VerifyAnswerDto

logger = logging.getLogger(__name__)

VERIFY_PATH = "/v1/keys/verify"
# What the verification API takes (a longer one is its 400, which the guard would answer 503).
MAX_PATH_CHARACTERS = 4096
MAX_SCOPE_CHARACTERS = 128
MAX_SCOPES = 64
_METHOD = re.compile(r"[A-Za-z]{1,32}")
# Short: a guarded request waits for this call, and a slow agentkeys must become a quick 503.
DEFAULT_TIMEOUT = httpx.Timeout(2.0, connect=1.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


class AgentkeysUnavailable(Exception):
    """agentkeys gave no answer the guard can act on; ``reason`` says why (no secret in it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Requirement:
    """What a request needs: explicit ``scopes``, or agentkeys' upstream route for ``method``
    and ``path`` (its policy's ``[[upstream.routes]]`` table picks the scope)."""

    scopes: tuple[str, ...] = ()
    method: str | None = None
    path: str | None = None

    def cache_key(self) -> bytes:
        """16 bytes per distinct requirement (scopes in any order are the same one), whatever
        the length of its path: the cache's memory does not grow with what clients send."""
        if self.scopes:
            text = "scopes " + " ".join(sorted(set(self.scopes)))
        else:
            text = f"route {self.method} {self.path}"
        return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()

    def is_routable(self) -> bool:
        """Whether agentkeys can look this method and path up at all (letters only, an
        absolute path of at most 4096 characters, as its verification API takes them)."""
        return bool(
            self.method
            and _METHOD.fullmatch(self.method)
            and self.path
            and self.path.startswith("/")
            and len(self.path) <= MAX_PATH_CHARACTERS
        )

    def body(self) -> dict[str, object]:
        if self.scopes:
            return {"scopes": list(self.scopes)}
        return {"method": self.method, "path": self.path}


class RemoteVerifier:
    """Asks agentkeys about one key at a time, on one pooled ``httpx.AsyncClient``."""

    def __init__(
        self,
        base_url: str,
        *,
        verify_key: SecretStr,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        limits: httpx.Limits = DEFAULT_LIMITS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._verify_key = verify_key
        self._timeout = timeout
        self._limits = limits
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def open(self) -> httpx.AsyncClient:
        """The pooled client, made (again, after ``close``) when there is none."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._base_url,
                timeout=self._timeout,
                # One retry of a failed connection (nothing was sent): a pooled connection
                # agentkeys closed meanwhile must not become a 503.
                transport=self._transport
                or httpx.AsyncHTTPTransport(limits=self._limits, retries=1),
                follow_redirects=False,
            )
        return self._client

    def __repr__(self) -> str:
        return f"RemoteVerifier(base_url={self._base_url!r}, verify_key=<hidden>)"

    async def verify(
        self, key: str, requirement: Requirement, *, client_address: str | None = None
    ) -> VerifyAnswerDto:
        """agentkeys' verdict on ``key`` for ``requirement`` (this counts one request).

        ``client_address`` (the agent's IP) goes as ``X-Forwarded-For``: agentkeys counts its
        per-network rate by it when this service is one of its ``AGENTKEYS_TRUSTED_PROXIES``,
        and otherwise by this service's own address (all its agents as one network)."""
        headers = {"Authorization": f"Bearer {self._verify_key.get_secret_value()}"}
        if client_address is not None:
            headers["X-Forwarded-For"] = client_address
        client = self.open()
        try:
            response = await client.post(
                VERIFY_PATH,
                json={"key": key, **requirement.body()},
                headers=headers,
            )
        except httpx.HTTPError as error:
            raise AgentkeysUnavailable(f"no answer ({type(error).__name__})") from None
        if response.status_code != httpx.codes.OK:
            raise AgentkeysUnavailable(_refused_because(response))
        try:
            answer = VerifyAnswerDto.model_validate_json(response.content)
        except ValidationError:
            raise AgentkeysUnavailable("the answer is not a verification") from None
        if not answer.is_coherent():
            raise AgentkeysUnavailable(f"an incoherent verification ({answer.code})")
        return answer

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


def _refused_because(response: httpx.Response) -> str:
    """Why a non-200 answer: the envelope's code when there is one (a 401 or 403 means the
    guard's own verify key is wrong, revoked or lacks the ``verify`` role)."""
    code = None
    try:
        envelope = response.json()
    except ValueError:
        envelope = None
    if isinstance(envelope, dict) and isinstance(envelope.get("error_code"), str):
        code = envelope["error_code"][:64]
    reason = f"HTTP {response.status_code}" + (f" {code}" if code else "")
    if response.status_code == httpx.codes.BAD_REQUEST and isinstance(envelope, dict):
        # The guard's own request was refused (a scope unknown to agentkeys' catalog in
        # ``guard.require``): say which field, for whoever reads the log.
        fields = envelope.get("field_errors")
        first = fields[0] if isinstance(fields, list) and fields else None
        if isinstance(first, dict) and isinstance(first.get("message"), str):
            reason += f": {first['message'][:300]}"
    if response.status_code in {httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN}:
        reason += " (the guard's verify key was refused: is it an admin key with the verify role?)"
    return reason

"""What both clients share: the base URL, the key (never shown), the retry budget."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import SecretStr

from agentkeys.client.calls import KEY_HEADER, Call
from agentkeys.client.retries import RetryBudget
from agentkeys.credentials.schemas import AgentCredentialResponseDto

T = TypeVar("T")


class ClientBase:
    """The key is a ``SecretStr``: no ``repr``, log line or traceback of the client shows it."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None,
        max_retries: int,
        max_wait_seconds: float,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = SecretStr(api_key) if api_key else None
        self.budget = RetryBudget(max_retries=max_retries, max_wait_seconds=max_wait_seconds)

    def __repr__(self) -> str:
        key = "set" if self._api_key is not None else "none"
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key={key})"

    @property
    def has_api_key(self) -> bool:
        return self._api_key is not None

    def use_api_key(self, api_key: str | None) -> None:
        """Send this key (``None``: none) on every later call."""
        self._api_key = SecretStr(api_key) if api_key else None

    def adopt(self, answer: AgentCredentialResponseDto, *, use_issued_key: bool) -> None:
        if use_issued_key and answer.credential is not None:
            self.use_api_key(answer.credential)

    def url(self, call: Call[T]) -> str:
        return self.base_url + call.path

    def options(self, call: Call[T]) -> dict[str, Any]:
        """``httpx`` request options: the key header and the JSON body, when there are any."""
        options: dict[str, Any] = {}
        if self._api_key is not None:
            options["headers"] = {KEY_HEADER: self._api_key.get_secret_value()}
        if call.has_body:
            options["json"] = call.body
        return options

"""uvicorn's httptools protocol with a deadline on the request head.

uvicorn bounds only the idle time between two requests (``timeout_keep_alive``). A client that
opens a connection and sends nothing, or sends a head a few bytes at a time, holds the
connection for ever. Here the head (request line and headers) must arrive within
``header_timeout_seconds`` of the connection's opening or of the first byte after the previous
answer; otherwise the client gets 408 in the envelope (when it had started a request) and the
connection is closed. The body's deadline is the request middleware's (``api/middleware.py``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from agentkeys.api.errors import error_response
from agentkeys.errors import ErrorCode
from agentkeys.ids import new_request_id

logger = logging.getLogger(__name__)
DEFAULT_HEADER_TIMEOUT_SECONDS = 10.0


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration plus our deadline on request heads (pickled to every worker)."""

    def __init__(
        self,
        app: str,
        *,
        header_timeout_seconds: float = DEFAULT_HEADER_TIMEOUT_SECONDS,
        **options: Any,
    ) -> None:
        super().__init__(app, **options)
        self.header_timeout_seconds = header_timeout_seconds


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout: float = getattr(
            config, "header_timeout_seconds", DEFAULT_HEADER_TIMEOUT_SECONDS
        )
        self.head_deadline: asyncio.TimerHandle | None = None
        self.head_started = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.cycle is None or self.cycle.response_complete:
            # Bytes between answers are the next request's head (or the unread rest of the
            # previous body): either way they must end within the deadline.
            self.head_started = True
            if self.head_deadline is None:
                self._arm_head_deadline()
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._disarm_head_deadline()
        self.head_started = False
        super().on_headers_complete()

    def _arm_head_deadline(self) -> None:
        self.head_deadline = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm_head_deadline(self) -> None:
        if self.head_deadline is not None:
            self.head_deadline.cancel()
            self.head_deadline = None

    def _head_timed_out(self) -> None:
        self.head_deadline = None
        if self.transport.is_closing():
            return
        if self.head_started:
            request_id = new_request_id()
            logger.info(
                "request head not received within %ss; answered 408 and closed",
                self.header_timeout,
                extra={"request_id": request_id},
            )
            self.transport.write(request_timeout(request_id, self.server_state.default_headers))
        self.transport.close()


def request_timeout(request_id: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A whole HTTP/1.1 408 answer in the envelope, closing the connection."""
    response = error_response(
        request_id,
        status=408,
        code=ErrorCode.VALIDATION_FAILED,
        message="The request was not received in time.",
        recovery_action="Send the whole request at once, promptly.",
        headers={"Connection": "close"},
    )
    head = [STATUS_LINE[408]]
    for name, value in [*default_headers, *response.raw_headers]:
        head.append(name + b": " + value + b"\r\n")
    return b"".join([*head, b"\r\n", bytes(response.body)])

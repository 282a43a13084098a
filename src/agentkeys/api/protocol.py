"""uvicorn's httptools protocol with a deadline and a size limit on the request head.

uvicorn bounds only the idle time between two requests (``timeout_keep_alive``). A client that
opens a connection and sends nothing, or sends a head a few bytes at a time, holds the
connection for ever. Here the head (request line and headers) must arrive within
``header_timeout_seconds`` of the connection's opening or of the first byte after the previous
answer; otherwise the client gets 408 in the envelope (when it had started a request) and the
connection is closed. The body's deadline is the request middleware's (``api/middleware.py``).

Neither uvicorn nor httptools (llhttp) bounds the size of a head: a 50 MB header line is buffered
whole. Here a head over ``max_header_bytes`` (request line, headers and their line ends) is
answered 431 in the envelope and the connection closed, before the parser buffers more. And the
plain-text 400 uvicorn writes for a request httptools cannot parse (a bad request line, a bad
header) is the envelope here too.
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
DEFAULT_MAX_HEADER_BYTES = 64 * 1024
# How a head ends (llhttp also takes bare line feeds).
HEAD_ENDS = (b"\r\n\r\n", b"\n\n")


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration plus our deadline on request heads (pickled to every worker)."""

    def __init__(
        self,
        app: str,
        *,
        header_timeout_seconds: float = DEFAULT_HEADER_TIMEOUT_SECONDS,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        **options: Any,
    ) -> None:
        super().__init__(app, **options)
        self.header_timeout_seconds = header_timeout_seconds
        self.max_header_bytes = max_header_bytes


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
        self.max_header_bytes: int = getattr(config, "max_header_bytes", DEFAULT_MAX_HEADER_BYTES)
        self.head_deadline: asyncio.TimerHandle | None = None
        self.head_started = False
        # The head being read: bytes so far, and its last 3 bytes (a head end may straddle two
        # reads). ``reading_head`` is false from a head's end to its message's end (the body).
        self.reading_head = True
        self.head_bytes = 0
        self.head_tail = b""

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
        if self.reading_head and not self._head_within_limit(data):
            self._refuse_large_head()
            return
        super().data_received(data)

    def _head_within_limit(self, data: bytes) -> bool:
        """Whether the head, with this read's share of it, stays within ``max_header_bytes``."""
        window = self.head_tail + data
        ends = [i + len(end) for end in HEAD_ENDS if (i := window.find(end)) >= 0]
        in_head = min(ends) - len(self.head_tail) if ends else len(data)
        self.head_bytes += in_head
        self.head_tail = window[-3:]
        return self.head_bytes <= self.max_header_bytes

    def on_headers_complete(self) -> None:
        self._disarm_head_deadline()
        self.head_started = False
        self.reading_head = False
        self.head_bytes = 0
        self.head_tail = b""
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        # Whatever comes next is the next request's head. (A head that begins in the same read
        # as the previous body ends is counted from the next read: at most one read over.)
        self.reading_head = True
        super().on_message_complete()

    def _refuse_large_head(self) -> None:
        self._disarm_head_deadline()
        if self.cycle is not None and not self.cycle.response_complete:
            # An answer is still being written on this connection: no room for ours.
            self.transport.close()
            return
        self._refuse(
            431,
            message=f"The request head (request line and headers) exceeds "
            f"{self.max_header_bytes} bytes.",
            recovery_action="Send shorter headers and a shorter URL.",
            log=("request head over %s bytes; answered 431 and closed", self.max_header_bytes),
        )

    def send_400_response(self, msg: str) -> None:
        """A request httptools cannot parse: the envelope, not uvicorn's plain text."""
        self._disarm_head_deadline()
        self._refuse(
            400,
            message="The request is not valid HTTP/1.1.",
            recovery_action="Send a well-formed HTTP/1.1 request (RFC 9112).",
            log=("malformed HTTP request; answered 400 and closed",),
        )

    def _refuse(
        self, status: int, *, message: str, recovery_action: str, log: tuple[object, ...]
    ) -> None:
        """Answer ``status`` in the envelope below the application, log it, close."""
        request_id = new_request_id()
        template, *args = log
        logger.info(template, *args, extra={"request_id": request_id, "status": status})
        self.transport.write(
            envelope_answer(
                request_id,
                self.server_state.default_headers,
                status=status,
                message=message,
                recovery_action=recovery_action,
            )
        )
        self.transport.close()

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
            self._refuse(
                408,
                message="The request was not received in time.",
                recovery_action="Send the whole request at once, promptly.",
                log=(
                    "request head not received within %ss; answered 408 and closed",
                    self.header_timeout,
                ),
            )
        else:
            self.transport.close()


def envelope_answer(
    request_id: str,
    default_headers: list[tuple[bytes, bytes]],
    *,
    status: int,
    message: str,
    recovery_action: str,
) -> bytes:
    """A whole HTTP/1.1 answer in the envelope, written below the application, closing the
    connection: for requests that never reached it (late, oversized or unparseable heads)."""
    response = error_response(
        request_id,
        status=status,
        code=ErrorCode.VALIDATION_FAILED,
        message=message,
        recovery_action=recovery_action,
        headers={"Connection": "close"},
    )
    head = [STATUS_LINE[status]]
    for name, value in [*default_headers, *response.raw_headers]:
        head.append(name + b": " + value + b"\r\n")
    return b"".join([*head, b"\r\n", bytes(response.body)])

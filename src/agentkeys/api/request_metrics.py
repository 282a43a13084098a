"""``agentkeys_http_request_duration_seconds``: every answer's time, by route template.

The outermost middleware (pure ASGI), so it times everything the application does, refusals
before routing included. The route label is the matched route's path *template*
(``/v1/homes/{homeId}/get``, set by the router in the request scope; the access line's
``route_template``), never the raw path;
a request no route matched is ``unmatched``. Methods outside a fixed list are ``other`` and
statuses are classes (``2xx``): no client can add a series.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentkeys.api.access_log import route_template
from agentkeys.metrics import HTTP_REQUEST_DURATION, method_label, status_class

# Nothing was answered (the client went away before): still timed, as nginx's 499.
NO_ANSWER = 499


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # The histogram's children by labels (a bounded set): a dict read instead of
        # ``labels()``' lock and conversions on every request.
        self._children: dict[tuple[str, str, str], Any] = {}

    def _observe(self, labels: tuple[str, str, str], seconds: float) -> None:
        child = self._children.get(labels)
        if child is None:
            child = self._children[labels] = HTTP_REQUEST_DURATION.labels(*labels)
        child.observe(seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = NO_ANSWER

        async def send_timed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_timed)
        finally:
            self._observe(
                (route_template(scope), method_label(scope["method"]), status_class(status)),
                time.perf_counter() - started,
            )

"""Counts the tracker's replies by HTTP status code (`syncplanet_http_requests_total{code}`).

A pure ASGI middleware: it reads the status of each response start and adds one to the
counter of `Metrics` (one child per code, cached: no label lookup per request). With
several API processes each counts in its own multiprocess file and `/metrics` shows the sum.
"""

from __future__ import annotations

from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reconciler.services.metrics import Metrics


class RequestCounter:
    """Adds one to `metrics.http_requests{code}` for every HTTP reply."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.counter = metrics.http_requests
        self.children: dict[int, Counter] = {}

    def _child(self, code: int) -> Counter:
        child = self.children.get(code)
        if child is None:
            child = self.children[code] = self.counter.labels(str(code))
        return child

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._child(int(message["status"])).inc()
            await send(message)

        await self.app(scope, receive, counting_send)

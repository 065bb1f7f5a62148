"""HTTP metrics: requests by route template and status, latency, requests in flight."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contentguard import metrics


class RequestMetrics:
    """Pure ASGI middleware; routes are labelled by their template, so ids don't explode it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        metrics.HTTP_IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, sending)
        finally:
            metrics.HTTP_IN_FLIGHT.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            method = scope["method"]
            metrics.HTTP_REQUESTS.labels(method, template, str(status)).inc()
            metrics.HTTP_LATENCY.labels(method, template).observe(time.perf_counter() - start)

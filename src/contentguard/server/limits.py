"""Request body limits, enforced while the body streams in (never after buffering it)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contentguard.server.errors import error_response


class BodyTooLarge(HTTPException):
    """A body past its limit, found mid-stream. An HTTPException because FastAPI's body parsing
    passes those on (it turns anything else into a 400); the app's handler answers 413
    `too_large` with this message."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is over the limit of {limit} bytes")


class BodyLimit:
    """Refuse a body over `limit_for(path)` bytes: at once by Content-Length, else mid-stream.

    Mid-stream, `receive` raises `BodyTooLarge`, which the app's handlers turn into a 413,
    whoever reads the body (our inputs, FastAPI's body and form parsing).
    """

    def __init__(self, app: ASGIApp, limit_for) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                response = error_response("bad_request", "Content-Length is not a number", 400)
                await response(scope, receive, send)
                return
            if size > limit:
                response = error_response(
                    "too_large", f"request body of {size} bytes is over the limit of {limit} bytes", 413
                )
                await response(scope, receive, send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited, send)

"""Security headers on every HTTP response: no page can be framed by another site (clickjacking
of the review page's one-key verdicts), no response is MIME-sniffed, no URL leaks as a referrer.

Every response gets `X-Frame-Options: DENY`, a `Content-Security-Policy` with
`frame-ancestors 'none'`, `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`
(what the pages' `<meta name="referrer">` already asked for). The HTML pages get a whole policy
(`PAGE_POLICY`): they load only their own scripts, styles and fonts from `/static` (no inline
script, style or handler), fetch only this origin and submit forms only here; images may come
from anywhere (the URL check shows the image it fetched), `data:` (history thumbnails) and
`blob:` (an uploaded file's preview). `/docs` (Swagger UI, from a CDN with an inline start
script) keeps the framing policy only. A response that brings its own policy (stored media:
`sandbox`) keeps it, with `frame-ancestors 'none'` added; other headers already set are kept.

A pure ASGI middleware (it only rewrites the response's start message, so streamed downloads
stay streamed). An exception no handler turned into a response would reach the client from
Starlette's outermost error middleware, around this one; so this one sends that 500 itself, in
the one error shape and with the headers, and re-raises for the error middleware to log.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contentguard.server.errors import unexpected_error_response

FRAMING = "frame-ancestors 'none'"
PAGE_POLICY = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src * data: blob:",
    "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", FRAMING,
))
ALWAYS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_NO_PAGE_POLICY = ("/docs",)  # Swagger UI: scripts and styles from a CDN, an inline start script


def policy_for(path: str, content_type: str, existing: str | None) -> str:
    """The Content-Security-Policy to send: the response's own with framing refused, else the
    page policy for HTML (but /docs), else only the framing rule."""
    if existing:
        return existing if "frame-ancestors" in existing else f"{existing.rstrip('; ')}; {FRAMING}"
    if content_type.startswith("text/html") and not path.startswith(_NO_PAGE_POLICY):
        return PAGE_POLICY
    return FRAMING


class SecurityHeaders:
    """Adds the headers above to every HTTP response of the wrapped app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, root = scope["path"], scope.get("root_path", "")
        path = path[len(root):] if root and path.startswith(root) else path
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = policy_for(
                    path, headers.get("content-type", ""), headers.get("content-security-policy"))
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            if not started:
                await unexpected_error_response(exc)(scope, receive, send_with_headers)
            raise

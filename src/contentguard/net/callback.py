"""POST a webhook to a client's callback URL under the same SSRF rules as fetching a URL.

A callback URL is as untrusted as an image URL: a client could point it at the metadata
service or an internal admin port. So the host is resolved by us, every address is checked
(public only, unless in `fetch_allow_networks`), and the connection goes to the checked
address. Redirects are never followed (a 3xx is a failed delivery): a receiver names its
final URL. The whole attempt is bounded by `webhook_timeout_s`, and only the first few
kilobytes of the answer are read (kept for the delivery log).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from contentguard.errors import ContentGuardError, FetchFailed, Timeout
from contentguard.net.fetch import PinnedTransport, allow_networks, check_target
from contentguard.settings import Settings

EXCERPT_BYTES = 2048  # of the receiver's answer, for the delivery log


@dataclass(frozen=True)
class CallbackAnswer:
    """What the receiver answered: its status and the start of its body."""

    status: int
    excerpt: str
    location: str | None = None  # of a redirect, which is reported, never followed

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def check_callback_url(url: str, settings: Settings) -> None:
    """Refuse (BlockedUrl) a callback URL that could never be delivered to: bad syntax, or an
    IP literal outside the allowed addresses. Names are judged again at every delivery."""
    check_target(url, allow_networks(settings))


async def post_json(url: str, body: bytes, headers: dict[str, str], settings: Settings) -> CallbackAnswer:
    """POST `body` (JSON) to `url`; any answer is returned, every failure to get one raises a
    ContentGuardError (`blocked_url`, `fetch_failed`, `timeout`)."""
    limit = settings.webhook_timeout_s
    too_slow = f"no answer from the callback within {limit:g} s (CONTENTGUARD_WEBHOOK_TIMEOUT_S)"
    try:
        async with asyncio.timeout(limit):
            return await _post(url, body, headers, settings)
    except (TimeoutError, httpx.TimeoutException):
        raise Timeout(too_slow) from None
    except ContentGuardError:
        raise
    except httpx.TransportError as exc:
        raise FetchFailed(f"cannot reach the callback: {str(exc) or exc.__class__.__name__}") from None
    except Exception as exc:  # a bug or an unmapped httpx error: still a clean error
        raise FetchFailed(f"posting to the callback failed: {exc.__class__.__name__}: {exc}") from None


async def _post(url: str, body: bytes, headers: dict[str, str], settings: Settings) -> CallbackAnswer:
    allow = allow_networks(settings)
    target = check_target(url, allow)
    limit = settings.webhook_timeout_s
    async with httpx.AsyncClient(
        transport=PinnedTransport(allow),
        follow_redirects=False,
        trust_env=False,  # a proxy would resolve the name itself and defeat the address check
        timeout=httpx.Timeout(limit),
    ) as client:
        request = client.build_request("POST", target, content=body, headers={
            "User-Agent": settings.fetch_user_agent,
            "Content-Type": "application/json",
            "Accept-Encoding": "identity",
            **headers,
        })
        response = await client.send(request, stream=True)
        try:
            excerpt = await _excerpt(response)
        finally:
            await response.aclose()
    return CallbackAnswer(response.status_code, excerpt, response.headers.get("location"))


async def _excerpt(response: httpx.Response) -> str:
    """The first EXCERPT_BYTES of the answer; the rest is never read."""
    data = b""
    async for chunk in response.aiter_raw():
        data += chunk
        if len(data) >= EXCERPT_BYTES:
            break
    return data[:EXCERPT_BYTES].decode("utf-8", "replace")

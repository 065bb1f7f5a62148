"""Fetch an image from a URL without letting the URL reach inside the network (SSRF).

A URL may only lead to a public address: the host is resolved by us, every address it resolves
to is checked, and the connection goes to the checked address (no second lookup an attacker's
DNS could answer differently). Redirects are followed by hand and each target is checked again.
Time and size are bounded throughout. Every failure is a `ContentGuardError`; see
docs/url-fetching.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import re
import socket
import ssl
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from contentguard import metrics
from contentguard.errors import (
    BlockedUrl,
    ContentGuardError,
    FetchFailed,
    Timeout,
    TooLarge,
    UnsupportedMedia,
)
from contentguard.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048
BACKOFF_S = 0.2  # first retry waits this long, then twice as long each time
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SCHEMES = ("http", "https")
_HOST_CHARS = re.compile(r"[A-Za-z0-9._-]+")
# WHATWG: a host whose last label is a number is an IPv4 address, in whatever spelling.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9A-Fa-f]*")
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Declared types that say nothing about the bytes; the media layer sniffs those.
_GENERIC_TYPES = frozenset({
    "application/octet-stream", "binary/octet-stream", "application/binary", "application/x-binary",
    "application/unknown", "application/x-unknown", "application/download",
    "application/x-download", "application/force-download",
})
_ALLOW_HINT = "only public addresses are fetched (CONTENTGUARD_FETCH_ALLOW_NETWORKS allows on-premise ones)"


@dataclass(frozen=True)
class Fetched:
    """A fetched body within the limits; `content_type` is the declared media type, if any."""

    data: bytes
    url: str  # final URL after redirects
    content_type: str | None
    status: int


# --- which addresses may be fetched -------------------------------------------------------------
def blocked_reason(ip: IPAddress, allow: Sequence[IPNetwork] = ()) -> str | None:
    """Why `ip` must not be fetched (a phrase after "is"), or None when it may be.

    Only public (`is_global`) addresses pass, unless inside an allowed network. Unspecified and
    multicast addresses never pass; v6 forms that carry a v4 address are judged by that one too.
    """
    ip = _unmapped(ip)
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if any(ip in net for net in allow):
        return None
    for kind, inner in _embedded_v4(ip):
        why = blocked_reason(inner, allow)
        if why:
            return f"a {kind} address embedding {inner} ({why})"
    if ip in _NAT64:  # DNS64 networks: judged by the v4 address alone (Python calls it reserved)
        return None
    return _class_reason(ip)


def _class_reason(ip: IPAddress) -> str | None:
    checks = (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.version == 4 and ip in _CGNAT, "a carrier-grade NAT address (100.64.0.0/10)"),
        (ip.version == 6 and ip in _UNIQUE_LOCAL, "a unique-local address (fc00::/7)"),
        (ip.version == 6 and ip.is_site_local, "a site-local address (fec0::/10)"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "not a public address"),
    )
    return next((why for hit, why in checks if hit), None)


def _unmapped(ip: IPAddress) -> IPAddress:
    """::ffff:a.b.c.d is a.b.c.d on a dual-stack socket, so it is judged (and dialled) as that."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _embedded_v4(ip: IPAddress) -> list[tuple[str, ipaddress.IPv4Address]]:
    """v4 addresses a gateway would forward a v6 packet to: 6to4, Teredo, NAT64."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found: list[tuple[str, ipaddress.IPv4Address]] = []
    if ip.sixtofour is not None:
        found.append(("6to4", ip.sixtofour))
    if ip.teredo is not None:
        found += [("Teredo", ip.teredo[0]), ("Teredo", ip.teredo[1])]
    if ip in _NAT64:
        found.append(("NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
    return found


def allow_networks(settings: Settings) -> list[IPNetwork]:
    """The non-public networks the operator allowed (`fetch_allow_networks`); also used by the
    webhook and callback senders, which follow the same rules."""
    return [ipaddress.ip_network(net, strict=False) for net in settings.fetch_allow_networks]


# --- URL syntax ---------------------------------------------------------------------------------
def check_url(url: str) -> None:
    """Refuse (BlockedUrl) what can be refused without the network: scheme, host, length,
    credentials, odd IP spellings. Cheap enough to run before an item is queued."""
    parsed = _parse(url)
    host = parsed.raw_host.decode("ascii")
    ip = _literal(host)
    if ip is not None:
        _check_spelling(host, ip)


def _parse(url: str) -> httpx.URL:
    """The URL as httpx will send it (one parser for checking and fetching: no differential)."""
    if not isinstance(url, str):
        raise BlockedUrl(f"a URL must be text, not {type(url).__name__}")
    if len(url) > MAX_URL_LENGTH:
        raise BlockedUrl(f"the URL is {len(url)} characters long; the limit is {MAX_URL_LENGTH}")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise BlockedUrl(f"not a valid URL: {exc}") from None
    if parsed.scheme not in _SCHEMES:
        scheme = f"{parsed.scheme}:" if parsed.scheme else "a URL without a scheme"
        raise BlockedUrl(f"only http and https URLs are fetched, not {scheme}", scheme=parsed.scheme)
    if not parsed.raw_host:
        raise BlockedUrl("the URL has no host")
    if parsed.userinfo:
        raise BlockedUrl("URLs with a user name or password are refused")
    return parsed


def _literal(host: str) -> IPAddress | None:
    """The address a host names directly (any IPv4 spelling, an IPv6 literal), None for a name."""
    if ":" in host:
        try:
            return ipaddress.ip_address(host.replace("%25", "%"))
        except ValueError:
            raise BlockedUrl(f"not a valid IPv6 address: [{host}]") from None
    if not _HOST_CHARS.fullmatch(host):
        raise BlockedUrl(f"not a valid host name: {host!r}")
    bare = host.removesuffix(".")
    if not _NUMERIC_LABEL.fullmatch(bare.rsplit(".", 1)[-1]):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        raise BlockedUrl(f"{host!r} is neither a host name nor a valid IPv4 address") from None


def _check_spelling(host: str, ip: IPAddress) -> None:
    """Octal, hex and short IPv4 forms mean different things to different parsers: refuse them."""
    if ip.version == 4 and host != str(ip):
        raise BlockedUrl(f"{host!r} is an unusual spelling of the IPv4 address {ip}; write {ip}")


def _shown(ip: IPAddress) -> str:
    return f"{ip} (= {_unmapped(ip)})" if _unmapped(ip) != ip else str(ip)


def check_target(url: str, allow: Sequence[IPNetwork]) -> httpx.URL:
    """The parsed URL if it may be requested; an IP literal is judged here, a name at connect."""
    parsed = _parse(url)
    host = parsed.raw_host.decode("ascii")
    ip = _literal(host)
    if ip is not None:
        why = blocked_reason(ip, allow)
        if why:
            raise BlockedUrl(f"{_shown(ip)} is {why}; {_ALLOW_HINT}", host=host, address=str(_unmapped(ip)))
        _check_spelling(host, ip)
    return parsed


# --- connecting only to checked addresses -------------------------------------------------------
async def _resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (tests replace this to play a hostile DNS server)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(info[4][0]) for info in infos]


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Resolves each host itself, refuses it if ANY address is blocked, and dials the checked
    address. httpcore still hands the host name to `start_tls`, so SNI and the certificate check
    use the name, not the address."""

    def __init__(self, allow: Sequence[IPNetwork]) -> None:
        self._allow = list(allow)
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        *others, last = await self._checked_addresses(host, port, timeout)
        dial = functools.partial(
            self._inner.connect_tcp, port=port, timeout=timeout, local_address=local_address,
            socket_options=socket_options,
        )
        for ip in others:  # all checked; the next is tried only if one refuses the connection
            with contextlib.suppress(httpcore.ConnectError):
                return await dial(str(ip))
        return await dial(str(last))

    async def _checked_addresses(self, host: str, port: int, timeout: float | None) -> list[IPAddress]:
        try:
            async with asyncio.timeout(timeout):
                found = await _resolve(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout} s") from None
        except socket.gaierror as exc:
            if exc.errno == socket.EAI_AGAIN:  # temporary: worth a retry
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from None
            raise FetchFailed(f"cannot resolve {host}: {exc.strerror or exc}", host=host) from None
        except (UnicodeError, ValueError, OSError) as exc:
            raise FetchFailed(f"cannot resolve {host}: {exc}", host=host) from None
        addresses = list(dict.fromkeys(_unmapped(ip) for ip in found))
        if not addresses:
            raise FetchFailed(f"{host} resolves to no address", host=host)
        for ip in addresses:  # one bad address taints the name: no picking a good one
            why = blocked_reason(ip, self._allow)
            if why:
                raise BlockedUrl(
                    f"{host} resolves to {ip}, which is {why}; {_ALLOW_HINT}",
                    host=host, address=str(ip),
                )
        return addresses

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedUrl("unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool swapped for one on the pinned backend."""

    def __init__(self, allow: Sequence[IPNetwork]) -> None:
        context = _ssl_context()
        super().__init__(verify=context, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context, max_connections=4, network_backend=_PinnedBackend(allow)
        )


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """Loading the CA bundle costs milliseconds; one verifying context serves every fetch."""
    return httpx.create_ssl_context()


def _client(settings: Settings, allow: Sequence[IPNetwork]) -> httpx.AsyncClient:
    read = settings.fetch_read_timeout_s
    connect = settings.fetch_connect_timeout_s
    return httpx.AsyncClient(
        transport=PinnedTransport(allow),
        follow_redirects=False,  # each hop is checked by us
        trust_env=False,  # a proxy would resolve names itself and defeat the address check
        timeout=httpx.Timeout(connect=connect, read=read, write=read, pool=connect),
        headers={
            "User-Agent": settings.fetch_user_agent,
            "Accept": "image/*, */*;q=0.1",
            "Accept-Encoding": "identity",
        },
    )


# --- fetching -----------------------------------------------------------------------------------
class _Retry(Exception):
    """A failure worth another attempt (timeout, connection error, 5xx), carrying the error."""

    def __init__(self, error: ContentGuardError) -> None:
        super().__init__(error.message)
        self.error = error


async def fetch(url: str, settings: Settings) -> Fetched:
    """GET `url` within the limits of `settings`; raises ContentGuardError subclasses only."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.fetch_total_timeout_s
    try:
        async with asyncio.timeout_at(deadline):
            fetched = await _fetch(url, settings, deadline)
    except TimeoutError:
        error: ContentGuardError = Timeout(
            f"gave up fetching {url} after {settings.fetch_total_timeout_s:g} s "
            "(CONTENTGUARD_FETCH_TOTAL_TIMEOUT_S)"
        )
    except ContentGuardError as exc:
        error = exc
    except Exception as exc:  # a bug or an exception httpx did not map: still a clean error
        error = FetchFailed(f"fetching {url} failed: {exc.__class__.__name__}: {exc}")
    else:
        metrics.FETCH_OUTCOMES.labels(outcome="ok").inc()
        return fetched
    metrics.FETCH_OUTCOMES.labels(outcome=error.code).inc()
    raise error


def fetch_sync(url: str, settings: Settings) -> Fetched:
    """`fetch` for synchronous callers (the CLI); not for use inside a running event loop."""
    return asyncio.run(fetch(url, settings))


async def _fetch(url: str, settings: Settings, deadline: float) -> Fetched:
    allow = allow_networks(settings)
    async with _client(settings, allow) as client:
        for _ in range(settings.fetch_max_redirects + 1):
            target = check_target(url, allow)
            result = await _with_retries(client, target, settings, deadline)
            if isinstance(result, Fetched):
                return result
            url = result
    raise FetchFailed(
        f"too many redirects: more than {settings.fetch_max_redirects} "
        "(CONTENTGUARD_FETCH_MAX_REDIRECTS)", last_url=url,
    )


async def _with_retries(
    client: httpx.AsyncClient, url: httpx.URL, settings: Settings, deadline: float
) -> Fetched | str:
    """One hop, retried with exponential backoff; a retry that cannot finish in time is skipped
    so the caller sees the real error rather than a timeout."""
    loop = asyncio.get_running_loop()
    for attempt in range(settings.fetch_retries + 1):
        try:
            return await _get(client, url, settings)
        except _Retry as retry:
            delay = BACKOFF_S * 2**attempt
            if attempt == settings.fetch_retries or loop.time() + delay >= deadline:
                raise retry.error from None
            await asyncio.sleep(delay)
    raise AssertionError("unreachable")


async def _get(client: httpx.AsyncClient, url: httpx.URL, settings: Settings) -> Fetched | str:
    """One GET: the body, or the next URL of a redirect."""
    try:
        response = await client.send(client.build_request("GET", url), stream=True)
        try:
            return await _handle(response, settings)
        finally:
            await response.aclose()
    except httpx.TimeoutException as exc:
        raise _Retry(_timeout_error(exc, url, settings)) from None
    except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
        raise FetchFailed(f"cannot fetch {url}: {exc}") from None
    except httpx.TransportError as exc:
        reason = str(exc) or exc.__class__.__name__
        raise _Retry(FetchFailed(f"cannot fetch from {url.host}: {reason}", host=url.host)) from None


def _timeout_error(exc: httpx.TimeoutException, url: httpx.URL, settings: Settings) -> Timeout:
    if isinstance(exc, httpx.ConnectTimeout):
        return Timeout(
            f"connecting to {url.host} took longer than {settings.fetch_connect_timeout_s:g} s "
            "(CONTENTGUARD_FETCH_CONNECT_TIMEOUT_S)"
        )
    return Timeout(
        f"{url.host} sent nothing for {settings.fetch_read_timeout_s:g} s "
        "(CONTENTGUARD_FETCH_READ_TIMEOUT_S)"
    )


async def _handle(response: httpx.Response, settings: Settings) -> Fetched | str:
    status = response.status_code
    location = response.headers.get("location")
    if status in _REDIRECTS and location:
        try:
            return str(response.url.join(location))
        except (httpx.InvalidURL, ValueError) as exc:
            raise BlockedUrl(f"redirect to an invalid URL: {exc}") from None
    if not 200 <= status < 300:
        error = FetchFailed(
            f"{response.url.host} answered HTTP {status} {response.reason_phrase}".rstrip(),
            upstream_status=status,
        )
        if status >= 500:
            raise _Retry(error)
        raise error
    content_type = _media_type(response.headers.get("content-type"))
    _check_length(response.headers.get("content-length"), settings.max_bytes)
    data = await _read_body(response, settings.max_bytes)
    return Fetched(data=data, url=str(response.url), content_type=content_type, status=status)


def _media_type(header: str | None) -> str | None:
    """The declared media type; refuse one that is clearly not an image (before the body)."""
    if not header:
        return None
    media_type = header.split(";", 1)[0].strip().lower()
    if "/" not in media_type or media_type.startswith("image/") or media_type in _GENERIC_TYPES:
        return media_type or None
    raise UnsupportedMedia(
        f"the URL serves {media_type}, not an image", content_type=media_type, detected=media_type
    )


def _check_length(header: str | None, limit: int) -> None:
    try:
        size = int(header) if header else None
    except ValueError:
        return
    if size is not None and size > limit:
        raise TooLarge(
            f"the URL's body is {size} bytes; the limit is {limit}", size=size, limit=limit, stage="fetch"
        )


async def _read_body(response: httpx.Response, limit: int) -> bytes:
    """Stream the body, stopping one byte past `limit`; a compressed body (sent although we ask
    for none) is inflated under the same limit, so a small bomb cannot expand in memory."""
    inflater = _inflater(response.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    total = 0
    async for raw in response.aiter_raw():
        chunk = _inflate(inflater, raw, limit + 1 - total) if inflater else raw
        total += len(chunk)
        if total > limit:
            raise TooLarge(
                f"the URL's body is larger than the limit of {limit} bytes", limit=limit, stage="fetch"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _inflater(encoding: str) -> Any:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        return zlib.decompressobj()
    raise FetchFailed(f"the server sent an unsupported Content-Encoding: {encoding}")


def _inflate(inflater: Any, data: bytes, room: int) -> bytes:
    """At most `room` bytes out; reaching `room` means the body is over the limit anyway."""
    try:
        return inflater.decompress(data, room)
    except zlib.error as exc:
        raise FetchFailed(f"the compressed body is corrupt: {exc}") from None

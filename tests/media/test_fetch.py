"""The URL fetcher against a local HTTP server and a scripted DNS: never the real internet.

Every test runs with `_resolve` replaced (unknown names fail like NXDOMAIN) and with each TCP
connection the fetcher dials recorded, so "refused without connecting" is checked, not assumed.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import ipaddress
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

import httpcore
import pytest
from PIL import Image
from prometheus_client import REGISTRY

from contentguard.errors import BlockedUrl, ContentGuardError
from contentguard.net import fetch as fetch_mod
from contentguard.net.fetch import Fetched, blocked_reason, check_url, fetch, fetch_sync
from contentguard.settings import Settings

REAL_RESOLVE = fetch_mod._resolve


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 90)).save(buf, "PNG")
    return buf.getvalue()


PNG = _png()
BOMB = gzip.compress(b"\0" * 5_000_000)  # ~5 kB that inflates to 5 MB


# --- the local server -----------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def handle(self) -> None:
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError):  # the fetcher hung up on purpose
            pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        url = urlsplit(self.path)
        self.server.hits[url.path] += 1
        self.server.hosts.append(self.headers.get("Host", ""))
        parts = url.path.strip("/").split("/")
        route = getattr(self, "route_" + parts[0].split(".")[0].replace("-", "_"), None)
        if route is None:
            self.send_body(404, b"not found", "text/plain")
        else:
            route(parts[1:], parse_qs(url.query))

    def send_body(self, status: int, body: bytes, ctype: str | None = "image/png", **headers: str) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def route_image(self, *_: object) -> None:
        self.send_body(200, PNG)

    def route_untyped(self, *_: object) -> None:
        self.send_body(200, PNG, None)

    def route_octet(self, *_: object) -> None:
        self.send_body(200, PNG, "application/octet-stream")

    def route_gzip(self, *_: object) -> None:
        self.send_body(200, gzip.compress(PNG), Content_Encoding="gzip")

    def route_bomb(self, *_: object) -> None:
        self.send_body(200, BOMB, Content_Encoding="gzip")

    def route_html(self, *_: object) -> None:
        self.send_body(200, b"<html><body>hi</body></html>", "text/html; charset=utf-8")

    def route_json(self, *_: object) -> None:
        self.send_body(200, b"{}", "application/json")

    def route_broken(self, *_: object) -> None:
        self.send_body(500, b"oops", "text/plain")

    def route_flaky(self, *_: object) -> None:  # 500 the first time a path is asked for
        if self.server.hits[self.path] == 1:
            self.send_body(503, b"busy", "text/plain")
        else:
            self.send_body(200, PNG)

    def route_slow(self, *_: object) -> None:
        time.sleep(1.0)
        self.send_body(200, PNG)

    def route_drip(self, *_: object) -> None:  # never idle long enough for the read timeout
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        for _ in range(40):
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(0.05)

    def route_huge_declared(self, *_: object) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(10**9))
        self.end_headers()
        self.wfile.write(PNG)

    def route_huge_streamed(self, *_: object) -> None:  # no length: the body ends at close
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        for _ in range(64):
            self.wfile.write(b"\0" * 65536)

    def route_hops(self, rest: list[str], _: object) -> None:
        left = int(rest[0])
        if left == 0:
            self.send_body(200, PNG)
        else:
            self.redirect(f"/hops/{left - 1}")  # relative, resolved against the current URL

    def route_to(self, _: object, query: dict[str, list[str]]) -> None:
        self.redirect(query["u"][0])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    hits: Counter[str]
    hosts: list[str]


@pytest.fixture(scope="module")
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.hits, srv.hosts = Counter(), []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture()
def base(server: _Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


# --- scripted DNS and recorded connections ----------------------------------------------------------
class FakeDNS:
    """name → addresses (or a function giving them); IP literals resolve to themselves."""

    def __init__(self) -> None:
        self.table: dict[str, list[str] | Callable[[], list[str]]] = {"localhost": ["127.0.0.1", "::1"]}
        self.calls: list[str] = []

    def __setitem__(self, name: str, answer: list[str] | Callable[[], list[str]]) -> None:
        self.table[name] = answer

    async def resolve(self, host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        self.calls.append(host)
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = self.table[host]
        return [ipaddress.ip_address(a) for a in (answer() if callable(answer) else answer)]


@pytest.fixture(autouse=True)
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    fake = FakeDNS()
    monkeypatch.setattr(fetch_mod, "_resolve", fake.resolve)
    return fake


@pytest.fixture(autouse=True)
def dials(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every (address, port) the fetcher's backend actually connects to."""
    seen: list[tuple[str, int]] = []
    real = httpcore.AnyIOBackend.connect_tcp

    async def connect_tcp(self: httpcore.AnyIOBackend, host: str, port: int, **kw: object):
        seen.append((host, port))
        return await real(self, host, port, **kw)

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", connect_tcp)
    return seen


@pytest.fixture()
def cfg(settings: Settings) -> Settings:
    """Fast limits, the local server's loopback network allowed."""
    return settings.model_copy(update={
        "fetch_allow_networks": ["127.0.0.0/8"],
        "fetch_connect_timeout_s": 1.0,
        "fetch_read_timeout_s": 1.0,
        "fetch_total_timeout_s": 5.0,
        "fetch_retries": 1,
        "fetch_max_redirects": 3,
        "max_bytes": 200_000,
    })


@pytest.fixture()
def closed(cfg: Settings) -> Settings:
    """The same limits with the allow-list off (the default)."""
    return cfg.model_copy(update={"fetch_allow_networks": []})


def failure(url: str, settings: Settings) -> ContentGuardError:
    with pytest.raises(ContentGuardError) as info:
        fetch_sync(url, settings)
    return info.value


# --- what works ------------------------------------------------------------------------------------
def test_fetches_an_image(base: str, cfg: Settings, dials: list[tuple[str, int]]) -> None:
    got = fetch_sync(f"{base}/image.png", cfg)
    assert got == Fetched(data=PNG, url=f"{base}/image.png", content_type="image/png", status=200)
    assert dials == [("127.0.0.1", int(base.rsplit(":", 1)[1]))]


@pytest.mark.parametrize("path", ["/untyped", "/octet"])
def test_missing_or_generic_type_is_left_to_sniffing(base: str, cfg: Settings, path: str) -> None:
    assert fetch_sync(base + path, cfg).data == PNG


def test_async_api(base: str, cfg: Settings) -> None:
    assert asyncio.run(fetch(f"{base}/image.png", cfg)).data == PNG


def test_a_gzip_body_is_inflated(base: str, cfg: Settings) -> None:
    assert fetch_sync(f"{base}/gzip", cfg).data == PNG


def test_a_redirect_is_followed(base: str, cfg: Settings) -> None:
    got = fetch_sync(f"{base}/hops/3", cfg)  # exactly the limit
    assert (got.data, got.url) == (PNG, f"{base}/hops/0")


def test_too_many_redirects(base: str, cfg: Settings) -> None:
    error = failure(f"{base}/hops/4", cfg)
    assert error.code == "fetch_failed" and "too many redirects" in error.message


def test_a_server_error_is_retried(base: str, cfg: Settings, server: _Server) -> None:
    path = f"/flaky/{uuid.uuid4().hex}"
    assert fetch_sync(base + path, cfg).data == PNG
    assert server.hits[path] == 2


def test_a_lasting_server_error_gives_its_status(base: str, cfg: Settings, server: _Server) -> None:
    before = server.hits["/broken"]
    error = failure(f"{base}/broken", cfg)
    assert (error.code, error.details["upstream_status"]) == ("fetch_failed", 500)
    assert server.hits["/broken"] - before == 2  # one retry


def test_a_client_error_is_not_retried(base: str, cfg: Settings, server: _Server) -> None:
    path = f"/missing/{uuid.uuid4().hex}"
    error = failure(base + path, cfg)
    assert (error.code, error.details["upstream_status"]) == ("fetch_failed", 404)
    assert server.hits[path] == 1


def test_retries_stop_before_the_deadline(base: str, cfg: Settings) -> None:
    fast = cfg.model_copy(update={"fetch_retries": 10, "fetch_total_timeout_s": 0.5})
    started = time.perf_counter()
    error = failure(f"{base}/broken", fast)
    assert error.code == "fetch_failed"  # the real error, not a timeout
    assert time.perf_counter() - started < 1.0


def test_connection_refused_is_retried_then_fails(cfg: Settings, dials: list[tuple[str, int]]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = failure(f"http://127.0.0.1:{port}/x.png", cfg)
    assert error.code == "fetch_failed" and "127.0.0.1" in error.message
    assert dials == [("127.0.0.1", port)] * 2


def test_an_unknown_name_fails_cleanly(cfg: Settings) -> None:
    error = failure("http://nowhere.invalid/x.png", cfg)
    assert error.code == "fetch_failed" and "cannot resolve nowhere.invalid" in error.message


def test_read_timeout(base: str, cfg: Settings) -> None:
    quick = cfg.model_copy(update={"fetch_read_timeout_s": 0.2, "fetch_retries": 0})
    error = failure(f"{base}/slow", quick)
    assert error.code == "timeout" and "0.2 s" in error.message


def test_overall_deadline(base: str, cfg: Settings) -> None:
    quick = cfg.model_copy(update={"fetch_total_timeout_s": 0.5})
    started = time.perf_counter()
    error = failure(f"{base}/drip", quick)
    assert error.code == "timeout" and "gave up" in error.message
    assert time.perf_counter() - started < 1.0


def test_declared_length_over_the_limit(base: str, cfg: Settings) -> None:
    error = failure(f"{base}/huge-declared", cfg)
    assert error.code == "too_large" and error.details["size"] == 10**9


@pytest.mark.parametrize("path", ["/huge-streamed", "/bomb"])
def test_streamed_body_over_the_limit(base: str, cfg: Settings, path: str) -> None:
    error = failure(base + path, cfg)
    assert error.code == "too_large" and error.details["limit"] == 200_000


@pytest.mark.parametrize(("path", "named"), [("/html", "text/html"), ("/json", "application/json")])
def test_not_an_image_type(base: str, cfg: Settings, server: _Server, path: str, named: str) -> None:
    error = failure(base + path, cfg)
    assert error.code == "unsupported_media" and named in error.message


def test_outcomes_are_counted(base: str, cfg: Settings, closed: Settings) -> None:
    def count(outcome: str) -> float:
        return REGISTRY.get_sample_value("contentguard_url_fetch_total", {"outcome": outcome}) or 0.0

    ok, blocked = count("ok"), count("blocked_url")
    fetch_sync(f"{base}/image.png", cfg)
    failure("http://10.0.0.1/", closed)
    assert (count("ok") - ok, count("blocked_url") - blocked) == (1, 1)


def test_unexpected_errors_are_mapped(cfg: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(host: str, port: int) -> list[ipaddress.IPv4Address]:
        raise RuntimeError("resolver bug")

    monkeypatch.setattr(fetch_mod, "_resolve", broken)
    error = failure("http://example.test/x.png", cfg)
    assert error.code == "fetch_failed" and "resolver bug" in error.message


# --- the hostile set: allow-list off ----------------------------------------------------------------
HOSTILE = [
    "http://2130706433/", "http://0x7f000001/", "http://017700000001/", "http://127.1/",
    "http://0177.0.0.1/", "http://127.0.0.1/", "http://[::1]/", "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/", "http://0.0.0.0/", "http://[::]/", "http://localhost/",
    "http://169.254.169.254/latest/meta-data/", "http://100.64.0.1/", "http://224.0.0.1/",
    "http://[ff02::1]/", "http://[fd00::1]/", "http://[fe80::1]/", "http://[fe80::1%25eth0]/",
    "http://240.0.0.1/", "http://255.255.255.255/", "http://10.0.0.1/", "http://192.168.1.1/",
    "http://172.16.0.1/", "http://[64:ff9b::7f00:1]/", "http://[2002:a00:1::]/",
    "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/", "http://[fec0::1]/",
    "file:///etc/passwd", "ftp://example.com/x.png", "gopher://example.com/", "http:///x.png",
    "http://", "https://user:pass@example.com/x.png", "//example.com/x.png", "x.png",
    "http://exa mple.com/", "http://" + "a" * 2100 + ".com/",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_urls_are_refused_without_connecting(
    url: str, closed: Settings, dials: list[tuple[str, int]]
) -> None:
    error = failure(url, closed)
    assert error.code == "blocked_url", error.message
    assert dials == []


@pytest.mark.parametrize("spelling", ["2130706433", "0x7f000001", "017700000001", "127.1", "0177.0.0.1"])
def test_the_system_resolver_reads_odd_spellings_as_loopback(spelling: str) -> None:
    """Why odd spellings matter: getaddrinfo turns each into 127.0.0.1 (no DNS: numeric)."""
    assert asyncio.run(REAL_RESOLVE(spelling, 80)) == [ipaddress.ip_address("127.0.0.1")]


@pytest.mark.parametrize("answer", [["93.184.216.34", "127.0.0.1"], ["127.0.0.1", "93.184.216.34"],
                                    ["2606:2800:220:1::1", "fd00::5"], ["::ffff:10.1.2.3"]])
def test_one_bad_address_taints_a_name(
    answer: list[str], closed: Settings, dns: FakeDNS, dials: list[tuple[str, int]]
) -> None:
    dns["mixed.test"] = answer
    error = failure("http://mixed.test/x.png", closed)
    assert error.code == "blocked_url" and "mixed.test resolves to" in error.message
    assert dials == []


def test_the_checked_address_is_the_one_dialled(
    server: _Server, cfg: Settings, dns: FakeDNS, dials: list[tuple[str, int]]
) -> None:
    """A rebinding DNS answers the allowed address first and an internal one after: the fetch
    must resolve once and connect to what it checked, while Host still names the URL's host."""
    answers = iter([["127.0.0.1"], ["10.0.0.1"], ["10.0.0.1"]])
    dns["rebind.test"] = lambda: next(answers)
    port = server.server_address[1]
    only_this = cfg.model_copy(update={"fetch_allow_networks": ["127.0.0.1/32"]})
    got = fetch_sync(f"http://rebind.test:{port}/image.png", only_this)
    assert got.data == PNG
    assert dns.calls.count("rebind.test") == 1
    assert dials == [("127.0.0.1", port)]
    assert server.hosts[-1] == f"rebind.test:{port}"


def test_a_refused_address_falls_through_to_the_next_checked_one(
    server: _Server, cfg: Settings, dns: FakeDNS, dials: list[tuple[str, int]]
) -> None:
    dns["two.test"] = ["127.0.0.2", "127.0.0.1"]  # nothing listens on 127.0.0.2
    port = server.server_address[1]
    assert fetch_sync(f"http://two.test:{port}/image.png", cfg).data == PNG
    assert dials == [("127.0.0.2", port), ("127.0.0.1", port)]


def test_tls_is_checked_against_the_name_not_the_address(
    closed: Settings, dns: FakeDNS, monkeypatch: pytest.MonkeyPatch
) -> None:
    dns["images.example"] = ["93.184.216.34"]
    seen: dict[str, object] = {}

    class Stream(httpcore.AsyncNetworkStream):
        async def start_tls(self, ssl_context, server_hostname=None, timeout=None):  # type: ignore[override]
            seen["sni"], seen["verify"] = server_hostname, ssl_context.verify_mode
            raise httpcore.ConnectError("handshake refused by the test")

        async def aclose(self) -> None:
            pass

    async def connect_tcp(self: object, host: str, port: int, **kw: object) -> Stream:
        seen["dialled"] = (host, port)
        return Stream()

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", connect_tcp)
    error = failure("https://images.example/cat.jpg", closed.model_copy(update={"fetch_retries": 0}))
    assert error.code == "fetch_failed"
    assert seen == {"dialled": ("93.184.216.34", 443), "sni": "images.example",
                    "verify": fetch_mod.ssl.CERT_REQUIRED}


@pytest.mark.parametrize("target", [
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://[::1]:{port}/image.png",
    "http://127.0.0.2:{port}/image.png", "http://internal.test/", "file:///etc/passwd",
    "gopher://127.0.0.1:{port}/",
])
def test_a_redirect_into_the_network_is_refused(
    target: str, server: _Server, cfg: Settings, dns: FakeDNS, dials: list[tuple[str, int]]
) -> None:
    dns["internal.test"] = ["10.9.8.7"]
    port = server.server_address[1]
    only_server = cfg.model_copy(update={"fetch_allow_networks": ["127.0.0.1/32"]})
    url = f"http://127.0.0.1:{port}/to?u={quote(target.format(port=port), safe='')}"
    error = failure(url, only_server)
    assert error.code == "blocked_url", error.message
    assert dials == [("127.0.0.1", port)]  # only the first hop connected


# --- the rules on their own -------------------------------------------------------------------------
@pytest.mark.parametrize(("address", "why"), [
    ("8.8.8.8", None), ("2606:4700::1111", None), ("::ffff:8.8.8.8", None),
    ("64:ff9b::808:808", None), ("2002:808:808::", None),
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"),
    ("100.64.0.1", "carrier-grade NAT"), ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("fd12:3456::1", "unique-local"), ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"), ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("192.0.2.1", "private"), ("::ffff:192.168.0.1", "private"),
    ("64:ff9b::a00:1", "NAT64 address embedding 10.0.0.1"),
    ("2002:c0a8:101::", "6to4 address embedding 192.168.1.1"),
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo address embedding 10.0.0.1"),
])
def test_blocked_reason(address: str, why: str | None) -> None:
    reason = blocked_reason(ipaddress.ip_address(address))
    assert reason is None if why is None else why in (reason or "")


def test_allowed_networks_open_only_themselves() -> None:
    allow = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]
    assert blocked_reason(ipaddress.ip_address("10.20.30.40"), allow) is None
    assert blocked_reason(ipaddress.ip_address("fd00::9"), allow) is None
    assert blocked_reason(ipaddress.ip_address("192.168.1.1"), allow) == "a private address"
    everything = [ipaddress.ip_network("0.0.0.0/0")]
    assert "multicast" in (blocked_reason(ipaddress.ip_address("224.0.0.1"), everything) or "")


@pytest.mark.parametrize("url", ["https://example.com/a.jpg", "http://8.8.8.8/x", "http://[2606:4700::1111]/",
                                 "http://10.0.0.1/"])
def test_check_url_accepts_well_formed_urls(url: str) -> None:
    check_url(url)  # addresses are judged at fetch time, with the allow-list


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "http:///x", "http://u@h/",
                                 "http://2130706433/", "http://0177.0.0.1/", "http://1.2.3.999/",
                                 "https://example.com/" + "a" * 2048, "not a url"])
def test_check_url_refuses(url: str) -> None:
    with pytest.raises(BlockedUrl):
        check_url(url)

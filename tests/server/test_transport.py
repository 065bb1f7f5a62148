"""The connection layer of `contentguard serve`, on real sockets: forwarded headers trusted
only from configured proxies, sign-in limits per address and per account, request-head size
and count limits, and timeouts for slow heads, slow bodies and idle connections.

Each server is the real `python -m contentguard.cli serve` in a subprocess (its models are not
installed in its model folder, so it starts in a second; /healthz and /login do not need them).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from helpers.accounts import PASSWORD, make_user
from pydantic import ValidationError
from sqlalchemy import select

from contentguard.server.transport import uvicorn_options
from contentguard.settings import Settings
from contentguard.store.db import Database
from contentguard.store.tables import AuditEntry

TIMEOUT_S = 1.5  # head and body timeouts of the `plain` server
KEEP_ALIVE_S = 2.0
_TRANSPORT_ENV = ("TRUSTED_PROXIES", "MAX_HEADER_BYTES", "MAX_HEADERS", "HEADER_TIMEOUT_S",
                  "BODY_IDLE_TIMEOUT_S", "BODY_MIN_BYTES_PER_S", "KEEP_ALIVE_TIMEOUT_S",
                  "LOGIN_ATTEMPTS_PER_MIN", "LOGIN_ACCOUNT_FAILURES_PER_MIN", "DATABASE_URL")


@dataclass
class Served:
    base: str
    port: int
    db: Database


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(home: Path, users: tuple[str, ...] = (), **settings: object) -> Iterator[Served]:
    """`contentguard serve` on a free loopback port with `settings` (CONTENTGUARD_<NAME>),
    its own SQLite database (holding `users`), and no models; stopped on exit."""
    port, models = _free_port(), home / "no-models"
    models.mkdir(parents=True)
    db = Database(f"sqlite:///{home / 'contentguard.db'}")
    db.upgrade()
    for name in users:
        make_user(db, name, "moderator")
    env = {k: v for k, v in os.environ.items()
           if k.removeprefix("CONTENTGUARD_") not in _TRANSPORT_ENV}
    env.update({"CONTENTGUARD_DATA_HOME": str(home), "CONTENTGUARD_PORT": str(port),
                "CONTENTGUARD_MODEL_DIR": str(models), "CONTENTGUARD_AUTO_PULL": "false"})
    env.update({f"CONTENTGUARD_{k.upper()}": str(v) for k, v in settings.items()})
    with open(home / "serve.log", "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "contentguard.cli", "serve", "--log-level",
                                    "warning"], env=env, stdout=log, stderr=log, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (home / "serve.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the service did not start"
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield Served(base, port, db)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        db.close()


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Default settings (no trusted proxy, default head limits), short timeouts."""
    with serve(tmp_path_factory.mktemp("plain"), header_timeout_s=TIMEOUT_S,
               body_idle_timeout_s=TIMEOUT_S, keep_alive_timeout_s=KEEP_ALIVE_S) as served:
        yield served


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Behind a trusted proxy on 127.0.0.1; everything else default."""
    with serve(tmp_path_factory.mktemp("proxied"), users=("mira",),
               trusted_proxies="127.0.0.1") as served:
        yield served


# --- helpers ---------------------------------------------------------------------------------
def sign_in(base: str, username: str, password: str, forwarded: str | None = None) -> httpx.Response:
    """One attempt through the real login form, on a fresh connection."""
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, page.text[:300]
        return client.post("/login", data={"username": username, "password": password,
                                           "csrf_token": token.group(1)}, follow_redirects=False)


def connect(served: Served, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_until_closed(sock: socket.socket, limit_s: float) -> tuple[bytes, bool, float]:
    """Everything the server sends within `limit_s`: (bytes, whether it closed, seconds)."""
    start, received = time.monotonic(), b""
    sock.settimeout(0.2)
    while time.monotonic() - start < limit_s:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return received, True, time.monotonic() - start
        if not chunk:
            return received, True, time.monotonic() - start
        received += chunk
    return received, False, time.monotonic() - start


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response with a Content-Length from a keep-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed mid-response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def parse(raw: bytes) -> tuple[int, dict[str, str], dict]:  # type: ignore[type-arg]
    """Status, headers and JSON body of the one response in `raw`."""
    assert raw.startswith(b"HTTP/1.1 "), raw[:200]
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, json.loads(body)


def send_head(served: Served, head: bytes) -> tuple[int, dict[str, str], dict, bool]:  # type: ignore[type-arg]
    """Send `head` while reading the answer (a refusal may come before the head is all sent)."""
    sock = connect(served)
    errors: list[OSError] = []

    def write() -> None:
        try:
            sock.sendall(head)
        except OSError as exc:  # the server closed early: expected for huge heads
            errors.append(exc)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        raw, closed, _ = read_until_closed(sock, 20)
    finally:
        writer.join(timeout=20)
        sock.close()
    status, headers, body = parse(raw)
    return status, headers, body, closed


def healthy(served: Served) -> bool:
    return httpx.get(f"{served.base}/healthz", timeout=10).status_code == 200


def test_forwarded_headers_are_trusted_only_from_configured_proxies() -> None:
    assert uvicorn_options(Settings())["proxy_headers"] is False
    options = uvicorn_options(Settings(trusted_proxies="127.0.0.1, 10.0.0.0/8"))  # type: ignore[arg-type]
    assert options["proxy_headers"] is True
    assert options["forwarded_allow_ips"] == ["127.0.0.1/32", "10.0.0.0/8"]
    with pytest.raises(ValidationError, match="not a network"):
        Settings(trusted_proxies="localhost")  # type: ignore[arg-type]


# --- item 1: forwarded headers and sign-in limits ------------------------------------------------
def until_refused(base: str, usernames, forwarded, password: str = "not the password",
                  most: int = 16) -> tuple[int, httpx.Response, float]:  # type: ignore[no-untyped-def]
    """Sign-in attempts until one gets 429 (or `most`): (attempts refused with 401 first, the
    last answer, seconds taken). `usernames` and `forwarded` map the attempt's number to
    its user name and X-Forwarded-For."""
    start = time.monotonic()
    for n in range(most):
        answer = sign_in(base, usernames(n), password, forwarded=forwarded(n))
        if answer.status_code != 401:
            return n, answer, time.monotonic() - start
    return most, answer, time.monotonic() - start


def within_limit(failed: int, seconds: float, per_min: int = 10) -> bool:
    """`failed` attempts before a 429 fit a bucket of `per_min` (plus its refill meanwhile)."""
    return per_min <= failed <= per_min + seconds * per_min / 60 + 1


def test_rotating_x_forwarded_for_does_not_escape_the_address_limit_by_default(plain: Served) -> None:
    failed, answer, seconds = until_refused(plain.base, lambda n: f"guess{n}",
                                            lambda n: f"203.0.113.{n}")
    assert answer.status_code == 429 and within_limit(failed, seconds), (failed, seconds)
    assert "from this address" in answer.text
    assert 1 <= int(answer.headers["retry-after"]) <= 7
    with plain.db.session() as session:
        actors = set(session.scalars(select(AuditEntry.actor).where(
            AuditEntry.action == "user.login_failed")))
    assert actors == {"anonymous@127.0.0.1"}  # the header named no one


def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(proxied: Served) -> None:
    rotated = [sign_in(proxied.base, f"rotated{n}", "not the password",
                       forwarded=f"198.51.100.{n}").status_code for n in range(12)]
    assert rotated == [401] * 12  # twelve clients behind the proxy, one attempt each
    failed, answer, seconds = until_refused(proxied.base, lambda n: f"same{n}",
                                            lambda n: "198.51.100.200")
    assert answer.status_code == 429 and within_limit(failed, seconds)  # one client: its own limit
    assert "from this address" in answer.text
    with proxied.db.session() as session:
        actors = set(session.scalars(select(AuditEntry.actor).where(
            AuditEntry.action == "user.login_failed")))
    assert {"anonymous@198.51.100.0", "anonymous@198.51.100.200"} <= actors


def test_failed_sign_ins_are_limited_per_account_across_addresses(proxied: Served) -> None:
    failed, refused, seconds = until_refused(proxied.base, lambda n: "MIRA" if n % 2 else "mira",
                                             lambda n: f"192.0.2.{n}")
    assert refused.status_code == 429 and within_limit(failed, seconds), (failed, seconds)
    assert "as this user" in refused.text
    # the right password is refused too while the bucket is empty (no guessing through it) ...
    blocked = sign_in(proxied.base, "mira", PASSWORD, forwarded="192.0.2.101")
    assert blocked.status_code == 429
    wait = int(blocked.headers["retry-after"])
    assert 1 <= wait <= 7  # ... for one token's time (60 s / 10), not for good
    time.sleep(wait + 0.5)
    assert sign_in(proxied.base, "mira", PASSWORD, forwarded="192.0.2.102").status_code == 303
    # a successful sign-in gives its token back
    assert sign_in(proxied.base, "mira", PASSWORD, forwarded="192.0.2.103").status_code == 303


# --- item 5: request-head limits ------------------------------------------------------------------
@pytest.mark.parametrize("size", [70_000, 8 * 1024 * 1024])
def test_a_huge_header_is_refused_with_431_and_the_connection_closed(plain: Served, size: int) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
    status, headers, body, closed = send_head(plain, head)
    assert status == 431 and headers["connection"] == "close" and closed
    assert body["source"] is None and body["error"]["code"] == "too_large"
    assert "65536 bytes" in body["error"]["message"]
    assert healthy(plain)


def test_too_many_headers_are_refused_with_431_and_the_connection_closed(plain: Served) -> None:
    lines = b"".join(b"X-Header-%d: v\r\n" % n for n in range(200))
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + lines + b"\r\n"
    status, headers, body, closed = send_head(plain, head)
    assert status == 431 and closed and body["error"]["code"] == "too_large"
    assert "at most 100 headers" in body["error"]["message"]
    assert healthy(plain)


def test_heads_within_the_limits_are_served(plain: Served) -> None:
    with connect(plain) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 60_000 + b"\r\n\r\n")
        assert read_response(sock)[0] == 200
        many = b"".join(b"X-Header-%d: v\r\n" % n for n in range(99))  # and Host: 100 headers
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        assert read_response(sock)[0] == 200
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-One-Too-Many: v\r\n" + many + b"\r\n")
        assert read_response(sock)[0] == 431


def _chunked(trailer: bytes) -> bytes:
    return (b"POST /v1/moderate/text HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n3\r\n 1}\r\n0\r\n" + trailer + b"\r\n")


def test_huge_chunked_trailers_are_refused_too(plain: Served) -> None:
    with connect(plain) as sock:  # a small trailer is fine ...
        sock.sendall(_chunked(b"X-Checksum: 1\r\n"))
        assert read_response(sock)[0] == 401
    status, _, body, closed = send_head(plain, _chunked(b"X-Big: " + b"a" * 1_000_000 + b"\r\n"))
    assert status == 431 and closed and body["error"]["code"] == "too_large"  # ... a huge one not
    assert healthy(plain)


def test_a_malformed_request_gets_the_json_error_shape(plain: Served) -> None:
    status, headers, body, closed = send_head(plain, b"NOT HTTP AT ALL\r\n\r\n")
    assert status == 400 and closed and body["error"]["code"] == "bad_request"
    assert headers["content-type"] == "application/json"


# --- item 6: slow and idle clients ----------------------------------------------------------------
def test_a_stalled_head_is_answered_408_and_closed(plain: Served) -> None:
    with connect(plain) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Half: ")
        raw, closed, seconds = read_until_closed(sock, 3 * TIMEOUT_S)
    assert closed, f"still connected after {seconds:.1f} s"
    status, headers, body = parse(raw)
    assert status == 408 and headers["connection"] == "close" and body["error"]["code"] == "timeout"


def test_a_head_trickling_in_is_closed_within_the_head_timeout(plain: Served) -> None:
    raw, closed, start = b"", False, time.monotonic()
    with connect(plain) as sock:
        for n in range(8):  # a line every half timeout: each gap is short, the whole head too slow
            try:
                sock.sendall(b"X-Line-%d: v\r\n" % n if n else b"GET /healthz HTTP/1.1\r\n")
            except OSError:
                break
            got, closed, _ = read_until_closed(sock, TIMEOUT_S / 2)
            raw += got
            if closed:
                break
        elapsed = time.monotonic() - start
    assert closed and elapsed < 3 * TIMEOUT_S, f"connected for {elapsed:.1f} s"
    assert parse(raw)[0] == 408


def test_a_connection_that_sends_nothing_is_closed(plain: Served) -> None:
    with connect(plain) as sock:
        raw, closed, seconds = read_until_closed(sock, 3 * TIMEOUT_S)
    assert closed and raw == b"", (raw, seconds)


def _post_head(length: int) -> bytes:
    return (b"POST /v1/moderate/text HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % length)


def test_a_body_trickling_slower_than_the_minimum_rate_is_answered_408(plain: Served) -> None:
    sock = connect(plain)
    sock.sendall(_post_head(100))
    stop = threading.Event()

    def trickle() -> None:  # one byte per half timeout: never idle that long, but far too slow
        for _ in range(20):
            if stop.wait(TIMEOUT_S / 2):
                return
            try:
                sock.send(b" ")
            except OSError:
                return

    writer = threading.Thread(target=trickle, daemon=True)
    writer.start()
    try:
        raw, closed, seconds = read_until_closed(sock, 3 * TIMEOUT_S)
    finally:
        stop.set()
        writer.join(timeout=5)
        sock.close()
    assert closed, f"still connected after {seconds:.1f} s"
    status, _, body = parse(raw)
    assert status == 408 and "too slowly" in body["error"]["message"]


def test_a_body_that_stops_is_answered_408(plain: Served) -> None:
    with connect(plain) as sock:
        sock.sendall(_post_head(200_000) + b" " * 100_000)  # fast, then nothing
        raw, closed, seconds = read_until_closed(sock, 3 * TIMEOUT_S)
    assert closed, f"still connected after {seconds:.1f} s"
    assert parse(raw)[0] == 408


def test_keep_alive_clients_and_steady_uploads_are_unaffected(plain: Served) -> None:
    with connect(plain) as sock:
        for _ in range(4):  # 4 requests over ~3 s, more than the head timeout in all
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(sock)[0] == 200
            time.sleep(TIMEOUT_S * 0.7)
        body = b'{"text": "' + b"x" * 29_980 + b'"}'
        sock.sendall(_post_head(len(body)))
        for start in range(0, len(body), 3_000):  # ~10 kB/s for ~3 s
            sock.sendall(body[start:start + 3_000])
            time.sleep(0.3)
        status, _, answer = read_response(sock)
        assert status == 401, answer  # read whole, then refused for want of credentials
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock)[0] == 200


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(plain: Served) -> None:
    with connect(plain) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(sock)[0] == 200
        raw, closed, seconds = read_until_closed(sock, 2 * KEEP_ALIVE_S)  # uvicorn's own: 5 s
    assert closed and raw == b"", f"still connected after {seconds:.1f} s"
    assert seconds > KEEP_ALIVE_S * 0.8

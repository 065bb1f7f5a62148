"""A real webhook receiver for tests: an HTTP server on 127.0.0.1 that records every POST and
answers from a script (status codes in order, then a default)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it arrived


@dataclass
class Receiver:
    url: str  # the callback URL: <base>/hook
    base: str
    script: list[int] = field(default_factory=list)  # statuses to answer first, in order
    default: int = 200
    delay_s: float = 0.0  # wait this long before answering
    location: str | None = None  # sent with 3xx answers
    received: list[Received] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} webhooks arrived"
            time.sleep(0.01)
        return self.received


@contextmanager
def webhook_receiver(script: list[int] | None = None, default: int = 200, delay_s: float = 0.0,
                     location: str | None = None) -> Iterator[Receiver]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with lock:
                receiver.received.append(Received(self.path, dict(self.headers.items()), body,
                                                  time.monotonic()))
                status = receiver.script.pop(0) if receiver.script else receiver.default
            time.sleep(receiver.delay_s)
            answer = b'{"ok": true}' if status < 300 else b"receiver says no" * 400
            try:
                self.send_response(status)
                if receiver.location and 300 <= status < 400:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):  # the sender gave up (timeout test)
                pass

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    base = f"http://127.0.0.1:{server.server_address[1]}"
    receiver = Receiver(url=f"{base}/hook", base=base, script=list(script or []), default=default,
                        delay_s=delay_s, location=location)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()

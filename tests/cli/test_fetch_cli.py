"""`contentguard check https://…`: the URL is fetched (SSRF rules and all) and moderated."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

EXE = [sys.executable, "-m", "contentguard.cli"]


def _jpeg() -> bytes:
    pixels = np.random.default_rng(7).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG")
    return buf.getvalue()


JPEG = _jpeg()
PAGES = {
    "/photo.jpg": (200, "image/jpeg", JPEG),
    "/gone.jpg": (404, "text/plain", b"no"),
    "/page": (200, "text/html", b"<html></html>"),
}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        status, ctype, body = PAGES.get(self.path, (404, "text/plain", b"no"))
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def check(*urls: str, allow: str | None) -> tuple[int, list[dict]]:
    env = {k: v for k, v in os.environ.items() if k != "CONTENTGUARD_FETCH_ALLOW_NETWORKS"}
    if allow is not None:
        env["CONTENTGUARD_FETCH_ALLOW_NETWORKS"] = allow
    proc = subprocess.run([*EXE, "check", "--json", *urls], capture_output=True, env=env, timeout=300)
    return proc.returncode, [json.loads(line) for line in proc.stdout.decode().splitlines()]


def test_check_fetches_and_moderates_urls(base: str) -> None:
    code, results = check(f"{base}/photo.jpg", f"{base}/gone.jpg", f"{base}/page", allow="127.0.0.0/8")
    assert code == 1  # two of the three failed
    photo, gone, page = results
    assert photo["source"] == f"{base}/photo.jpg"
    assert photo["decision"] in ("allow", "review", "block")
    assert (photo["media_type"], photo["width"], photo["height"]) == ("image/jpeg", 80, 60)
    assert gone["error"]["code"] == "fetch_failed" and gone["error"]["upstream_status"] == 404
    assert page["error"]["code"] == "unsupported_media" and "text/html" in page["error"]["message"]


def test_check_refuses_a_local_url_by_default(base: str) -> None:
    code, results = check(f"{base}/photo.jpg", allow=None)
    assert code == 1
    (blocked,) = results
    assert blocked["error"]["code"] == "blocked_url" and "loopback" in blocked["error"]["message"]

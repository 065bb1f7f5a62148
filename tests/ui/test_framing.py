"""Clickjacking (issue #13 item 11) in a real browser: a page of another origin (a tiny
http.server on another loopback port) puts the review, admin and index pages in iframes;
Chromium refuses to render them (X-Frame-Options DENY, CSP frame-ancestors 'none'), while a
frame of that origin's own page does load, so the test can tell a refused frame from an empty
one. Signed in, so the frames would otherwise show the real pages."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers.accounts import SERVED, session_for
from helpers.page_errors import watch_errors
from playwright.sync_api import Browser, expect

from contentguard.server.auth import SESSION_COOKIE

pytestmark = pytest.mark.browser

FRAMED = ("/review", "/admin/users", "/")


@pytest.fixture
def attacker(dummy_base_url: str) -> Iterator[str]:
    """Another origin serving a page that frames ours, and a page of its own to frame."""
    frames = "".join(f'<iframe id="f{i}" src="{dummy_base_url}{path}" width="600" height="300"></iframe>'
                     for i, path in enumerate(FRAMED))
    pages = {"/": f'<!doctype html><title>attacker</title>{frames}'
                  '<iframe id="own" src="/own"></iframe>',
             "/own": '<!doctype html><title>own</title><p id="own-text">framable</p>'}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = pages.get(self.path, "not here").encode()
            self.send_response(200 if self.path in pages else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="attacker-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_another_origin_cannot_frame_the_pages(browser: Browser, dummy_base_url: str, attacker: str) -> None:
    context = browser.new_context()
    try:
        token, _ = session_for(SERVED[dummy_base_url], "framing-target", "admin")
        context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": dummy_base_url}])
        page = context.new_page()
        refused: list[str] = []
        page.on("console", lambda message: refused.append(message.text)
                if "Content Security Policy" in message.text or "X-Frame-Options" in message.text else None)
        page.goto(attacker)
        own = page.frame_locator("#own")
        expect(own.locator("#own-text")).to_have_text("framable")  # frames do load here
        page.wait_for_load_state("load")
        children = [f for f in page.frames if f is not page.main_frame]
        ours = [f for f in children if not f.url.startswith(attacker)]
        assert len(ours) == len(FRAMED), [f.url for f in children]
        for frame in ours:  # Chromium swaps a refused frame for its error page
            assert frame.url.startswith("chrome-error://"), frame.url
            assert "ContentGuard" not in frame.content()
        for _ in range(100):  # the console reports may trail the load event
            if len(refused) >= len(FRAMED):
                break
            page.wait_for_timeout(100)
        assert len(refused) >= len(FRAMED), refused
        assert all("frame-ancestors 'none'" in text for text in refused), refused

        # The same pages open normally as the top page.
        top = context.new_page()
        top.goto(f"{dummy_base_url}/review")
        expect(top.locator("#review")).to_have_count(1)
    finally:
        context.close()


def test_the_page_policy_refuses_an_injected_inline_script(browser: Browser, dummy_base_url: str) -> None:
    """The login page's own script runs under the policy (it marks <html class="js">), an
    injected inline one is refused, and Chromium reports that on the console the way
    page_errors.watch_errors reads it (so every browser test fails on a refusal)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        refused: list[str] = []
        watch_errors(page, refused)
        page.goto(f"{dummy_base_url}/login")
        expect(page.locator("html.js")).to_have_count(1)
        assert refused == []
        page.evaluate("""() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.head.append(script);
        }""")
        for _ in range(50):
            if refused:
                break
            page.wait_for_timeout(100)
        assert page.evaluate("window.injected === undefined")
        assert len(refused) == 1 and "script-src 'self'" in refused[0], refused
    finally:
        context.close()

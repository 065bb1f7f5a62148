"""Browser fixtures: Debian's chromium driven by Playwright (never a downloaded browser) against
the real app, served by uvicorn on a free local port: on the real models (`serve`, `base_url`)
or on the dummy detectors (`dummy_serve`, `dummy_base_url`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from helpers.accounts import SERVED as DATABASES
from helpers.accounts import session_for
from helpers.apps import Models, app_over, serve_app
from helpers.page_errors import watch_errors
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from contentguard.moderation.image import Moderator
from contentguard.server.auth import SESSION_COOKIE
from contentguard.settings import Settings

CHROMIUM = Path(os.environ.get("CONTENTGUARD_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).parent / "artifacts"
DESKTOP = {"width": 1280, "height": 900}

expect.set_options(timeout=15_000)


def _serve_factory(models: Models, settings: Settings,
                   tmp_path_factory: pytest.TempPathFactory) -> Callable[..., AbstractContextManager[str]]:
    @contextmanager
    def make(moderator: Moderator | None = None, **overrides: object) -> Iterator[str]:
        overrides.setdefault("fetch_allow_networks", ["127.0.0.0/8"])
        overrides.setdefault("database_url", f"sqlite:///{tmp_path_factory.mktemp('db') / 'cg.db'}")
        with app_over(models, settings, moderator, **overrides) as app, serve_app(app) as url:
            yield url

    return make


@pytest.fixture(scope="session")
def serve(real_models: Models, settings: Settings,
          tmp_path_factory: pytest.TempPathFactory) -> Callable[..., AbstractContextManager[str]]:
    """`with serve(moderator=None, **setting_overrides) as base_url:` the real app on the real
    models, running, on its own fresh SQLite database. Local fetches are allowed so the URL flow
    (and webhooks) can use a server on 127.0.0.1."""
    return _serve_factory(real_models, settings, tmp_path_factory)


@pytest.fixture(scope="session")
def dummy_serve(dummy_models: Models, settings: Settings,
                tmp_path_factory: pytest.TempPathFactory) -> Callable[..., AbstractContextManager[str]]:
    """`serve` on the dummy detectors (helpers/dummy.py): for tests of the pages, not the models."""
    return _serve_factory(dummy_models, settings, tmp_path_factory)


@pytest.fixture(scope="session")
def base_url(serve: Callable[..., AbstractContextManager[str]]) -> Iterator[str]:
    """The app the real-model tests share (default policy and limits)."""
    with serve() as url:
        yield url


@pytest.fixture(scope="session")
def dummy_base_url(dummy_serve: Callable[..., AbstractContextManager[str]]) -> Iterator[str]:
    """The app the page tests share, on the dummy detectors (default policy and limits)."""
    with dummy_serve() as url:
        yield url


@pytest.fixture(scope="session")
def browser(need: Callable[[bool, str], None]) -> Iterator[Browser]:
    need(
        CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK),
        f"Debian chromium not found: apt-get install chromium (looked for {CHROMIUM}; "
        "CONTENTGUARD_CHROMIUM names another)",
    )
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


def sign_in(context: BrowserContext, url: str, username: str, role: str) -> None:
    """Give a browser context the session cookie of `username` (created with `role` if new) on
    the app serving `url` — the login form itself is tested in test_team_login."""
    base = next((b for b in DATABASES if url.startswith(b)), None)
    assert base is not None, f"{url} is not served by the `serve` fixture"
    token, _ = session_for(DATABASES[base], username, role)
    context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": base}])


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """`open_page(url, width=1280, height=900, user="admin", role="admin")`: a fresh context
    (so an empty sessionStorage), signed in as `user` (None: signed out), with the page loaded
    and its script running. An uncaught script error, or anything the page's CSP refused, fails
    the test."""
    contexts = []
    errors: list[str] = []

    def make(url: str, width: int = DESKTOP["width"], height: int = DESKTOP["height"],
             user: str | None = "admin", role: str = "admin") -> Page:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        if user is not None:
            sign_in(context, url, user, role)
        page = context.new_page()
        page.set_default_timeout(15_000)
        watch_errors(page, errors)
        page.goto(url)
        expect(page.locator("html.js")).to_have_count(1)  # app.js ran to its end
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


"""An admin's day in a real browser: sign in through the form, change the policy, make an API key
(seen once, working at once), add a moderator, read the audit log and its CSV, the dashboard;
moderators are kept out; a phone never scrolls sideways."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers.accounts import PASSWORD, SERVED, make_user
from helpers.page_errors import watch_errors
from playwright.sync_api import Browser, BrowserContext, Page, expect

from contentguard.moderation.policy import ActivePolicy

pytestmark = pytest.mark.browser
PAGES = ("dashboard", "policy", "keys", "users", "audit")
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture
def app_url(dummy_serve, dummy_moderator, dummy_text_moderator) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh app; the shared moderators get their policy back afterwards."""
    image, text = dummy_moderator.policy, dummy_text_moderator.policy
    try:
        with dummy_serve() as base:
            yield base
    finally:  # each its own policy again, as they were made
        dummy_moderator.active_policy = ActivePolicy(image)
        dummy_text_moderator.active_policy = ActivePolicy(text)


@pytest.fixture
def contexts(browser: Browser) -> Iterator[list[BrowserContext]]:
    made: list[BrowserContext] = []
    yield made
    for context in made:
        context.close()


def new_page(browser: Browser, contexts: list[BrowserContext], errors: list[str],
             width: int = 1280, height: int = 900, **options: object) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True,
                                  **options)  # type: ignore[arg-type]
    contexts.append(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    watch_errors(page, errors)
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations before revoking
    return page


def sign_in(page: Page, base: str, username: str, target: str) -> None:
    """Through the real /login form, starting from the page that asked for it."""
    page.goto(f"{base}{target}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page).to_have_url(f"{base}{target}")


def moderate(base: str, key: str) -> httpx.Response:
    return httpx.post(f"{base}/v1/moderate/text", json={"text": "see you at the station"},
                      headers={"Authorization": f"Bearer {key}"}, timeout=60)


def test_an_admin_does_their_work_in_the_browser(
    app_url: str, browser: Browser, contexts: list[BrowserContext], artifacts: Path
) -> None:
    base, errors = app_url, []
    make_user(SERVED[base], "ada", "admin")
    page = new_page(browser, contexts, errors)
    sign_in(page, base, "ada", "/admin/policy")

    # policy: a threshold change is a new version, shown as active with who made it
    expect(page.get_by_test_id("active-version")).to_have_text("default@2")
    page.get_by_test_id("review-spam").fill("0.45")
    page.get_by_test_id("policy-save").click()
    expect(page.get_by_test_id("flash")).to_contain_text("default@2+1 is now active")
    expect(page.get_by_test_id("active-version")).to_have_text("default@2+1")
    expect(page.get_by_test_id("review-spam")).to_have_value("0.45")
    history = page.get_by_test_id("policy-history")
    expect(history.locator("tbody tr")).to_have_count(2)
    expect(history.locator('tr[data-version="default@2+1"]')).to_contain_text("ada")
    page.screenshot(path=str(artifacts / "admin-policy.png"), full_page=True)

    # keys: the key is shown once and works against the API at once
    page.get_by_test_id("nav-keys").click()
    page.get_by_test_id("key-name").fill("browser client")
    page.get_by_test_id("scope-results").check()
    page.get_by_test_id("key-rate").fill("100")
    page.get_by_test_id("key-create").click()
    key = page.get_by_test_id("new-key").inner_text().strip()
    assert key.startswith("cg_")
    page.screenshot(path=str(artifacts / "admin-key-created.png"), full_page=True)
    answer = moderate(base, key)
    assert answer.status_code == 200, answer.text
    assert answer.json()["policy_version"] == "default@2+1"
    page.goto(f"{base}/admin/keys")
    expect(page.get_by_test_id("new-key-panel")).to_have_count(0)
    assert key not in page.content()
    row = page.get_by_test_id("keys").locator("tbody tr", has_text="browser client")
    expect(row).to_contain_text(key[:11])
    expect(row).to_contain_text("moderate, results")

    # the earlier policy version can be made active again
    page.get_by_test_id("nav-policy").click()
    page.locator('tr[data-version="default@2"]').get_by_role("button", name="Activate").click()
    expect(page.get_by_test_id("active-version")).to_have_text("default@2")
    assert moderate(base, key).json()["policy_version"] == "default@2"

    # revoking stops the key at once
    page.get_by_test_id("nav-keys").click()
    row = page.get_by_test_id("keys").locator("tbody tr", has_text="browser client")
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_test_id("flash")).to_contain_text("is revoked")
    assert moderate(base, key).status_code == 401

    # users: a new moderator
    page.get_by_test_id("nav-users").click()
    page.get_by_test_id("user-name").fill("ola")
    page.get_by_test_id("user-password").fill(PASSWORD)
    page.get_by_test_id("user-role").select_option("moderator")
    page.get_by_test_id("user-create").click()
    expect(page.get_by_test_id("flash")).to_have_text("Moderator ola created.")
    expect(page.locator('tr[data-username="ola"]')).to_contain_text("moderator")
    page.screenshot(path=str(artifacts / "admin-users.png"), full_page=True)

    # audit: every change above, filterable, and the CSV downloads
    page.get_by_test_id("nav-audit").click()
    entries = page.get_by_test_id("audit-entries")
    for action in ("policy.create", "policy.activate", "key.create", "key.revoke", "user.create"):
        expect(entries.locator(f'tr[data-action="{action}"]').first).to_be_visible()
    assert key not in page.content() and PASSWORD not in page.content()
    page.get_by_test_id("filter-action").fill("key.")
    page.get_by_test_id("filter-apply").click()
    expect(entries.locator("tbody tr")).to_have_count(2)
    page.screenshot(path=str(artifacts / "admin-audit.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_test_id("audit-csv").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    header = next(csv.reader(io.StringIO(text)))
    assert header[:4] == ["id", "at", "actor", "action"] and "key.create" in text and "key.revoke" in text
    assert "policy.create" not in text  # the filter applies to the download too

    # dashboard: charts drawn as inline SVG, with the decisions made above
    page.get_by_test_id("nav-dashboard").click()
    expect(page.locator("svg.chart-svg")).to_have_count(5)
    expect(page.get_by_test_id("total-decisions")).to_have_text("2")
    assert page.locator("svg.chart-svg rect").count() >= 1
    page.screenshot(path=str(artifacts / "admin-dashboard.png"), full_page=True)

    # the moderator made above is kept out of every admin page
    mod_page = new_page(browser, contexts, errors)
    sign_in(mod_page, base, "ola", "/admin/keys")
    for name in PAGES:
        response = mod_page.goto(f"{base}/admin/{name}")
        assert response is not None and response.status == 403
        expect(mod_page.get_by_test_id("forbidden")).to_contain_text("admin")
    expect(mod_page.get_by_test_id("nav-policy")).to_have_count(0)

    # a phone: nothing scrolls sideways on any admin page
    phone = new_page(browser, contexts, errors, 390, 844,
                     storage_state=page.context.storage_state())
    for name in PAGES:
        phone.goto(f"{base}/admin/{name}")
        expect(phone.locator("h1")).to_be_visible()
        assert phone.evaluate(NO_SIDEWAYS_SCROLL), f"/admin/{name} scrolls sideways at 390 px"
        phone.screenshot(path=str(artifacts / f"admin-{name}-phone.png"), full_page=True)
    assert not errors, f"uncaught errors in the page: {errors}"

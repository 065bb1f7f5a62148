"""The admins' webhook delivery log in a real browser: deliveries with their status and last
answer, filters, retrying a failed one (which the running service then delivers), and no
access for moderators."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from helpers.accounts import SERVED, make_key, session_for
from helpers.webhook_receiver import Receiver, webhook_receiver
from playwright.sync_api import Page, expect
from sqlalchemy import select

from contentguard.server.auth import SESSION_COOKIE
from contentguard.store import webhooks as outbox
from contentguard.store.tables import ApiKey, WebhookDelivery

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def served(dummy_serve: Callable[..., AbstractContextManager[str]]) -> Iterator[tuple[str, Receiver]]:
    """An app of its own (so no other test's deliveries show) and a receiver for its webhooks."""
    with webhook_receiver() as receiver, dummy_serve(webhook_backoff_s=0.05) as base:
        yield base, receiver


def seed(base: str, receiver: Receiver) -> tuple[int, int]:
    """A key with the receiver as callback, one delivered event and one failed; their ids."""
    db = SERVED[base]
    key = make_key(db, name="acme shop", callback_url=receiver.url)
    with db.session() as session:
        key_id = session.scalar(select(ApiKey.id).where(ApiKey.prefix == key[:11]))
        done = outbox.enqueue_event(session, key_id, "review.decided", {"result_id": "1" * 32})
        failed = outbox.enqueue_event(session, key_id, "moderation.completed", {"result_id": "2" * 32})
        assert done is not None and failed is not None
        outbox.record_attempt(session, done.id, status=200, error=None, max_attempts=3, backoff_s=1)
        outbox.record_attempt(session, failed.id, status=503, error="the callback answered HTTP 503: busy",
                              max_attempts=1, backoff_s=1)
        return done.id, failed.id


def status_of(base: str, delivery_id: int) -> str:
    with SERVED[base].session() as session:
        found = session.get(WebhookDelivery, delivery_id)
        assert found is not None
        return found.status


def row(page: Page, delivery_id: int):  # type: ignore[no-untyped-def]
    return page.locator(f'[data-testid="webhook-row"][data-id="{delivery_id}"]')


def test_admin_sees_deliveries_and_retries_a_failed_one(
    served: tuple[str, Receiver], open_page: Callable[..., Page], artifacts: Path
) -> None:
    base, receiver = served
    done, failed = seed(base, receiver)
    page = open_page(f"{base}/admin/webhooks")
    expect(page.get_by_role("heading", name="Webhook deliveries")).to_be_visible()
    expect(row(page, done).get_by_test_id("webhook-status")).to_have_text("delivered")
    expect(row(page, failed).get_by_test_id("webhook-status")).to_have_text("failed")
    expect(row(page, failed).get_by_test_id("webhook-error")).to_contain_text("HTTP 503")
    expect(row(page, failed)).to_contain_text("acme shop")
    expect(row(page, failed)).to_contain_text("moderation.completed")
    page.screenshot(path=str(artifacts / "webhooks.png"), full_page=True)

    page.get_by_test_id("filter-status").select_option("failed")
    page.get_by_test_id("filter-apply").click()
    expect(page).to_have_url(f"{base}/admin/webhooks?status=failed&key=&event=")
    expect(row(page, failed)).to_be_visible()
    expect(row(page, done)).to_have_count(0)

    row(page, failed).get_by_test_id("webhook-retry").click()
    expect(row(page, failed).get_by_test_id("webhook-status")).to_have_text("pending")
    expect(page.get_by_test_id("webhook-flash")).to_contain_text(f"Delivery {failed} is queued again")
    (got,) = receiver.wait_for(1)  # the running service delivered it
    assert got.headers["ContentGuard-Delivery"] == str(failed)
    deadline = time.monotonic() + 10
    while status_of(base, failed) != "delivered":  # the answer is recorded just after it arrives
        assert time.monotonic() < deadline, status_of(base, failed)
        time.sleep(0.02)

    page.goto(f"{base}/admin/webhooks?status=delivered")
    expect(row(page, failed).get_by_test_id("webhook-status")).to_have_text("delivered")
    expect(row(page, failed).get_by_test_id("webhook-attempts")).to_have_text("1")
    expect(row(page, failed).get_by_test_id("webhook-retry")).to_have_text("Send again")


def test_a_moderator_gets_403(served: tuple[str, Receiver], open_page: Callable[..., Page]) -> None:
    base, _ = served
    page = open_page(f"{base}/admin/webhooks", user="mia", role="moderator")
    expect(page.get_by_test_id("forbidden")).to_contain_text("admin")
    expect(page.get_by_test_id("webhook-table")).to_have_count(0)
    expect(page.get_by_test_id("nav-webhooks")).to_have_count(0)
    token, csrf = session_for(SERVED[base], "mia", "moderator")
    cookies = {SESSION_COOKIE: token}
    assert httpx.get(f"{base}/v1/admin/webhooks", cookies=cookies).status_code == 403
    retry = httpx.post(f"{base}/v1/admin/webhooks/1/retry", cookies=cookies, headers={"X-CSRF-Token": csrf})
    assert retry.status_code == 403 and retry.json()["error"]["code"] == "forbidden"
    client_key = make_key(SERVED[base])
    assert httpx.get(f"{base}/v1/admin/webhooks",
                     headers={"Authorization": f"Bearer {client_key}"}).status_code == 403

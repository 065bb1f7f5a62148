"""Webhook delivery: the outbox's store functions on SQLite and PostgreSQL, the real delivery task
posting to a real receiver on 127.0.0.1 (signature, retries with growing delays, giving up), and
the SSRF rules of callback URLs (internal addresses refused unless allowed, no redirects)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest
from helpers.webhook_receiver import webhook_receiver
from sqlalchemy import select

from contentguard.errors import BlockedUrl, Conflict, InvalidRequest, NotFound
from contentguard.net import callback
from contentguard.net import fetch as fetch_mod
from contentguard.service import webhooks
from contentguard.service.wakes import Wakes
from contentguard.settings import Settings
from contentguard.store import accounts, audit
from contentguard.store import webhooks as outbox
from contentguard.store.db import Database
from contentguard.store.tables import ApiKey, AuditEntry, WebhookDelivery, utcnow

LOCAL = ["127.0.0.0/8"]
T = TypeVar("T")


@pytest.fixture()
def cfg(settings: Settings) -> Settings:
    return settings.model_copy(update={
        "fetch_allow_networks": LOCAL, "webhook_backoff_s": 0.05, "webhook_max_attempts": 4,
        "webhook_timeout_s": 2.0,
    })


def new_key(db: Database, callback_url: str | None) -> tuple[int, str]:
    """(key id, webhook secret) of a new key with this callback URL."""
    with db.session() as session:
        row = accounts.create_api_key(session, "acme", ["moderate"], 60, actor="test",
                                      callback_url=callback_url).row
        assert row.webhook_secret
        return row.id, row.webhook_secret


def enqueue(db: Database, key_id: int, event: str = "moderation.completed",
            data: dict | None = None) -> int:
    with db.session() as session:
        delivery = outbox.enqueue_event(session, key_id, event, data or {"result_id": "ab" * 16})
        assert delivery is not None
        return delivery.id


def row(db: Database, delivery_id: int) -> WebhookDelivery:
    with db.session() as session:
        found = session.get(WebhookDelivery, delivery_id)
        assert found is not None
        return found


def run_worker(db: Database, settings: Settings, done: Callable[[], bool], timeout: float = 15.0) -> None:
    """The real delivery task, until `done()` (checked between naps)."""

    async def main() -> None:
        engine = SimpleNamespace(settings=settings, db=db, wakes=Wakes())  # what the task uses
        task = asyncio.create_task(webhooks.delivery_worker(engine))  # type: ignore[arg-type]
        deadline = time.monotonic() + timeout
        try:
            while not done():
                assert not task.done(), task
                assert time.monotonic() < deadline, "the delivery task did not finish in time"
                await asyncio.sleep(0.02)
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    in_thread(main())


def in_thread(coroutine: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` in a thread of its own: a session's Playwright (the UI tests) keeps an event
    loop running in the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def settled(db: Database, delivery_id: int) -> Callable[[], bool]:
    return lambda: row(db, delivery_id).status != "pending"


# --- the store (both databases) -------------------------------------------------------------------
def test_enqueue_needs_a_callback_and_a_live_key(db: Database) -> None:
    with_url, _ = new_key(db, "https://hooks.example.com/cg")
    without, _ = new_key(db, None)
    with db.session() as session:
        assert outbox.enqueue_event(session, without, "review.decided", {}) is None
        assert outbox.enqueue_event(session, None, "review.decided", {}) is None
        with pytest.raises(ValueError):
            outbox.enqueue_event(session, with_url, "no.such.event", {})
        made = outbox.enqueue_event(session, with_url, "review.decided", {"x": 1})
        assert made is not None and made.url == "https://hooks.example.com/cg"
        accounts.revoke_api_key(session, with_url, actor="test")
        assert outbox.enqueue_event(session, with_url, "review.decided", {}) is None


def test_claim_leases_and_backoff_doubles_until_failed(db: Database) -> None:
    key, secret = new_key(db, "https://hooks.example.com/cg")
    first = enqueue(db, key)
    now = utcnow()
    with db.session() as session:
        (claimed,) = outbox.claim_due(session, 10, lease_s=30, now=now)
        assert (claimed.id, claimed.secret, claimed.refusal, claimed.attempts) == (first, secret, None, 0)
        assert claimed.payload["data"] == {"result_id": "ab" * 16}
    with db.session() as session:  # leased: nobody else takes it meanwhile
        assert outbox.claim_due(session, 10, lease_s=30, now=now) == []
        assert outbox.next_due(session) == now + timedelta(seconds=30)
    waits = []
    for n in range(1, 4):
        with db.session() as session:
            got = outbox.record_attempt(session, first, status=500, error="HTTP 500", max_attempts=4,
                                        backoff_s=2.0, now=now)
            assert got is not None and got.status == "pending" and got.attempts == n
            waits.append((got.next_attempt_at - now).total_seconds())
    assert waits == [2.0, 4.0, 8.0]  # backoff * 2**(attempts-1)
    with db.session() as session:
        got = outbox.record_attempt(session, first, status=None, error="timeout: slow", max_attempts=4,
                                    backoff_s=2.0, now=now)
        assert got is not None
        assert (got.status, got.attempts, got.last_error) == ("failed", 4, "timeout: slow")
        assert got.last_status is None
        assert outbox.next_due(session) is None  # nothing pending any more


def test_delivered_and_permanent_failures_and_refusals(db: Database) -> None:
    key, _ = new_key(db, "https://hooks.example.com/cg")
    ok, blocked = enqueue(db, key), enqueue(db, key)
    with db.session() as session:
        got = outbox.record_attempt(session, ok, status=204, error=None, max_attempts=3, backoff_s=1)
        assert got is not None and got.status == "delivered" and got.delivered_at is not None
        got = outbox.record_attempt(session, blocked, status=None, error="blocked_url: no", max_attempts=3,
                                    backoff_s=1, permanent=True)
        assert got is not None and (got.status, got.attempts) == ("failed", 1)
        gone = outbox.record_attempt(session, 10**6, status=None, error="x", max_attempts=3, backoff_s=1)
        assert gone is None
    revoked = enqueue(db, key)
    with db.session() as session:
        accounts.revoke_api_key(session, key, actor="test")
    with db.session() as session:
        (claimed,) = outbox.claim_due(session, 10, lease_s=30)
        assert claimed.id == revoked and "revoked" in (claimed.refusal or "")


def test_listing_filters_counts_and_retry(db: Database) -> None:
    a, _ = new_key(db, "https://a.example.com/hook")
    b, _ = new_key(db, "https://b.example.com/hook")
    ids = [enqueue(db, a), enqueue(db, b, "review.decided"), enqueue(db, a, "appeal.resolved")]
    with db.session() as session:
        outbox.record_attempt(session, ids[0], status=500, error="HTTP 500", max_attempts=1, backoff_s=1)
        outbox.record_attempt(session, ids[1], status=200, error=None, max_attempts=1, backoff_s=1)
    with db.session() as session:
        assert [d.id for d in outbox.list_deliveries(session)] == ids[::-1]
        assert [d.id for d in outbox.list_deliveries(session, status="failed")] == [ids[0]]
        assert [d.id for d in outbox.list_deliveries(session, api_key_id=a)] == [ids[2], ids[0]]
        assert [d.id for d in outbox.list_deliveries(session, event="review.decided")] == [ids[1]]
        assert [d.id for d in outbox.list_deliveries(session, before=ids[2], limit=1)] == [ids[1]]
        assert outbox.status_counts(session) == {"pending": 1, "delivered": 1, "failed": 1}
        assert outbox.key_names(session)[a].startswith("acme (cg_")
        with pytest.raises(InvalidRequest):
            outbox.list_deliveries(session, status="lost")
        with pytest.raises(InvalidRequest):
            outbox.list_deliveries(session, event="x")
    with pytest.raises(Conflict), db.session() as session:
        outbox.retry(session, ids[2], actor="user:root")  # still pending
    with pytest.raises(NotFound), db.session() as session:
        outbox.retry(session, 10**6, actor="user:root")
    with db.session() as session:  # the key's URL changed since: the retry goes to the new one
        accounts.update_api_key(session, a, actor="test", callback_url="https://a2.example.com/hook")
    with db.session() as session:
        again = outbox.retry(session, ids[0], actor="user:root")
        assert (again.status, again.attempts, again.url) == ("pending", 0, "https://a2.example.com/hook")
    with db.session() as session:
        entry = session.scalars(audit.query(action="webhook.retry")).one()
        assert (entry.actor, entry.target_id) == ("user:root", str(ids[0]))
        assert entry.before == {"status": "failed", "attempts": 1, "url": "https://a.example.com/hook"}
        accounts.update_api_key(session, b, actor="test", callback_url="")
    with pytest.raises(Conflict), db.session() as session:
        outbox.retry(session, ids[1], actor="user:root")  # b has no callback URL any more
    with db.session() as session:
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "webhook.retry")) is not None


# --- real deliveries ------------------------------------------------------------------------------
def test_delivery_is_signed_as_documented(db: Database, cfg: Settings) -> None:
    with webhook_receiver() as receiver:
        key, secret = new_key(db, receiver.url)
        delivery = enqueue(db, key, data={"result_id": "cd" * 16, "decision": "allow"})
        before = int(time.time())
        run_worker(db, cfg, settled(db, delivery))
        (got,) = receiver.received
    assert row(db, delivery).status == "delivered"
    headers = {k.lower(): v for k, v in got.headers.items()}
    timestamp = headers["contentguard-timestamp"]
    assert before - 1 <= int(timestamp) <= time.time() + 1
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + got.body, hashlib.sha256).hexdigest()
    assert headers["contentguard-signature"] == f"v1={expected}"
    assert headers["contentguard-event"] == "moderation.completed"
    assert headers["contentguard-delivery"] == str(delivery)
    assert headers["content-type"] == "application/json"
    body = json.loads(got.body)
    assert body["id"] == delivery and body["event"] == "moderation.completed"
    assert body["data"] == {"result_id": "cd" * 16, "decision": "allow"}
    assert webhooks.verify(secret, timestamp, got.body, headers["contentguard-signature"])
    assert not webhooks.verify("another secret", timestamp, got.body, headers["contentguard-signature"])
    assert not webhooks.verify(secret, timestamp, got.body + b" ", headers["contentguard-signature"])
    assert not webhooks.verify(secret, str(int(timestamp) - 3600), got.body,
                               headers["contentguard-signature"])  # a replay of an old request


def test_retried_with_growing_delays_until_delivered(db: Database, cfg: Settings) -> None:
    backoff = 0.2
    with webhook_receiver(script=[500, 500]) as receiver:
        key, _ = new_key(db, receiver.url)
        delivery = enqueue(db, key)
        run_worker(db, cfg.model_copy(update={"webhook_backoff_s": backoff}), settled(db, delivery))
        times = [r.at for r in receiver.received]
        bodies = {r.body for r in receiver.received}
        ids = {r.headers["ContentGuard-Delivery"] for r in receiver.received}
    done = row(db, delivery)
    assert (done.status, done.attempts, done.last_status, done.last_error) == ("delivered", 3, 200, None)
    assert len(times) == 3 and len(bodies) == 1 and ids == {str(delivery)}  # the same event each time
    first_gap, second_gap = times[1] - times[0], times[2] - times[1]
    assert first_gap >= backoff * 0.9, first_gap
    assert second_gap >= 2 * backoff * 0.9, second_gap
    assert second_gap > first_gap


def test_gives_up_after_max_attempts(db: Database, cfg: Settings) -> None:
    with webhook_receiver(default=500) as receiver:
        key, _ = new_key(db, receiver.url)
        delivery = enqueue(db, key)
        run_worker(db, cfg.model_copy(update={"webhook_max_attempts": 3}), settled(db, delivery))
        assert len(receiver.received) == 3
    failed = row(db, delivery)
    assert (failed.status, failed.attempts, failed.last_status) == ("failed", 3, 500)
    assert (failed.last_error or "").startswith("the callback answered HTTP 500: receiver says no")
    assert len(failed.last_error or "") < 400  # the answer is cut short for the log


def test_internal_callback_refused_when_not_allowed(db: Database, cfg: Settings) -> None:
    with webhook_receiver() as receiver:
        key, _ = new_key(db, receiver.url)
        delivery = enqueue(db, key)
        run_worker(db, cfg.model_copy(update={"fetch_allow_networks": []}), settled(db, delivery))
        assert receiver.received == []  # never connected
    failed = row(db, delivery)
    assert (failed.status, failed.attempts, failed.last_status) == ("failed", 1, None)  # no retries
    assert failed.last_error and failed.last_error.startswith("blocked_url: 127.0.0.1 is a loopback address")
    assert "CONTENTGUARD_FETCH_ALLOW_NETWORKS" in failed.last_error


def test_redirects_are_not_followed(db: Database, cfg: Settings) -> None:
    with webhook_receiver(default=302) as receiver:
        receiver.location = f"{receiver.base}/elsewhere"
        key, _ = new_key(db, receiver.url)
        delivery = enqueue(db, key)
        run_worker(db, cfg.model_copy(update={"webhook_max_attempts": 1}), settled(db, delivery))
        assert [r.path for r in receiver.received] == ["/hook"]
    failed = row(db, delivery)
    assert failed.status == "failed" and failed.last_status == 302
    assert "do not follow redirects" in (failed.last_error or "")


def test_slow_receiver_times_out(db: Database, cfg: Settings) -> None:
    with webhook_receiver(delay_s=1.5) as receiver:
        key, _ = new_key(db, receiver.url)
        delivery = enqueue(db, key)
        quick = cfg.model_copy(update={"webhook_timeout_s": 0.3, "webhook_max_attempts": 1})
        run_worker(db, quick, settled(db, delivery))
    failed = row(db, delivery)
    assert failed.status == "failed" and (failed.last_error or "").startswith("timeout: ")


def test_revoked_key_events_fail_without_sending(db: Database, cfg: Settings) -> None:
    with webhook_receiver() as receiver:
        key, _ = new_key(db, receiver.url)
        delivery = enqueue(db, key)
        with db.session() as session:
            accounts.revoke_api_key(session, key, actor="test")
        run_worker(db, cfg, settled(db, delivery))
        assert receiver.received == []
    assert "revoked" in (row(db, delivery).last_error or "")


def test_pending_deliveries_of_a_previous_run_are_sent(db: Database, cfg: Settings) -> None:
    """A server killed with deliveries due (or claimed mid-delivery) sends them after a restart."""
    with webhook_receiver() as receiver:
        key, _ = new_key(db, receiver.url)
        due, leased = enqueue(db, key), enqueue(db, key)
        with db.session() as session:  # the dead process had claimed this one: its lease runs out
            session.get(WebhookDelivery, leased).next_attempt_at = utcnow() + timedelta(seconds=0.3)
        run_worker(db, cfg, lambda: settled(db, due)() and settled(db, leased)())
        assert sorted(int(r.headers["ContentGuard-Delivery"]) for r in receiver.received) == [due, leased]


# --- the SSRF rules of callback URLs --------------------------------------------------------------
def post(url: str, settings: Settings) -> callback.CallbackAnswer:
    return in_thread(callback.post_json(url, b"{}", {}, settings))


@pytest.mark.parametrize("url, why", [
    ("http://127.0.0.1:9/hook", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://10.1.2.3/hook", "private"),
    ("http://[::1]/hook", "loopback"),
    ("http://[::ffff:10.0.0.1]/hook", "private"),
    ("http://0.0.0.0/hook", "unspecified"),
])
def test_internal_addresses_are_refused(url: str, why: str, cfg: Settings) -> None:
    closed = cfg.model_copy(update={"fetch_allow_networks": []})
    with pytest.raises(BlockedUrl, match=why):
        post(url, closed)
    with pytest.raises(BlockedUrl, match=why):
        callback.check_callback_url(url, closed)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "http://user:pw@example.com/", "http://0x7f.1/",
                                 "not a url", "http:///nohost"])
def test_malformed_callback_urls_are_refused(url: str, cfg: Settings) -> None:
    with pytest.raises(BlockedUrl):
        callback.check_callback_url(url, cfg)


def test_a_name_resolving_to_a_private_address_is_refused(
    cfg: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def hostile(host: str, port: int) -> list:  # type: ignore[type-arg]
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("10.0.0.7")]

    monkeypatch.setattr(fetch_mod, "_resolve", hostile)
    closed = cfg.model_copy(update={"fetch_allow_networks": []})
    callback.check_callback_url("https://hooks.example.com/x", closed)  # a name: judged at delivery
    with pytest.raises(BlockedUrl, match="hooks.example.com resolves to 10.0.0.7, which is a private"):
        post("https://hooks.example.com/x", closed)


def test_a_name_is_dialled_at_the_checked_address(cfg: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The connection goes to the address we checked, not to a second lookup's answer."""
    with webhook_receiver(script=[201]) as receiver:
        port = int(receiver.base.rsplit(":", 1)[1])

        async def resolve(host: str, port: int) -> list:  # type: ignore[type-arg]
            assert host == "hooks.test"
            return [ipaddress.ip_address("127.0.0.1")]

        monkeypatch.setattr(fetch_mod, "_resolve", resolve)
        answer = post(f"http://hooks.test:{port}/hook", cfg)
        assert answer.ok and answer.status == 201
        assert receiver.received[0].headers["Host"] == f"hooks.test:{port}"


def test_keys_keep_their_secret_private(db: Database) -> None:
    key, secret = new_key(db, "https://hooks.example.com/cg")
    with db.session() as session:
        entry = session.scalars(audit.query(action="key.create")).first()
        assert entry is not None and secret not in json.dumps(entry.after)
        assert session.get(ApiKey, key).webhook_secret == secret

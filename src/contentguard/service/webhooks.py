"""Webhook signing and the delivery task that empties the outbox (store/webhooks.py).

Each request carries `ContentGuard-Timestamp` (unix seconds) and `ContentGuard-Signature:
v1=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed with the API key's webhook secret>`, so a
receiver can check both origin and freshness; see docs/webhooks.md. The delivery id
(`ContentGuard-Delivery`, also `id` in the body) stays the same on every retry, so receivers
can drop duplicates: delivery is at least once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from typing import Any

from contentguard.errors import ContentGuardError
from contentguard.net import callback
from contentguard.service.engine import Engine
from contentguard.service.wakes import nap
from contentguard.settings import Settings
from contentguard.store import webhooks as outbox
from contentguard.store.db import Database
from contentguard.store.tables import utcnow

log = logging.getLogger("contentguard.server")

SIGNATURE_HEADER = "ContentGuard-Signature"
TIMESTAMP_HEADER = "ContentGuard-Timestamp"
EVENT_HEADER = "ContentGuard-Event"
DELIVERY_HEADER = "ContentGuard-Delivery"
SCHEME = "v1"
POLL_S = 1.0  # the outbox is read at least this often (events written by other processes)
CONCURRENCY = 8  # deliveries in flight at once
WAKE = "webhooks"  # the name of the delivery task's wake-up (service/wakes.py)
LEASE_SLACK_S = 5.0  # a claimed delivery is due again after its timeout plus this


# --- signing ------------------------------------------------------------------------------------
def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `ContentGuard-Signature` value of `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def verify(secret: str, timestamp: str, body: bytes, signature: str, tolerance_s: float = 300.0,
           now: float | None = None) -> bool:
    """What a receiver does (docs/webhooks.md has the stand-alone version): the signature
    matches and the timestamp is within `tolerance_s` of now (no replays of old requests)."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature.strip())


def body_of(delivery: outbox.Claimed) -> bytes:
    """The request body: the event, its delivery id and time, and its data (compact JSON)."""
    document = {
        "id": delivery.id,
        "event": delivery.event,
        "created_at": delivery.created_at.isoformat(),
        "data": delivery.payload.get("data"),
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def headers_for(delivery: outbox.Claimed, secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.id),
    }


# --- one attempt --------------------------------------------------------------------------------
async def attempt(delivery: outbox.Claimed, settings: Settings) -> dict[str, Any]:
    """Send one delivery; the keyword arguments of `outbox.record_attempt` for its outcome."""
    if delivery.refusal or not delivery.secret:
        return {"status": None, "error": delivery.refusal or "no webhook secret", "permanent": True}
    body = body_of(delivery)
    headers = headers_for(delivery, delivery.secret, body, int(time.time()))
    try:
        answer = await callback.post_json(delivery.url, body, headers, settings)
    except ContentGuardError as exc:
        # a refused address will not become allowed by waiting: fail now, an admin may retry
        return {"status": None, "error": f"{exc.code}: {exc.message}", "permanent": exc.code == "blocked_url"}
    if answer.ok:
        return {"status": answer.status, "error": None}
    if 300 <= answer.status < 400:
        error = (f"the callback answered HTTP {answer.status} (to {answer.location or 'nowhere'}); "
                 "webhooks do not follow redirects: set the final URL as the key's callback")
    else:
        excerpt = " ".join(answer.excerpt.split())[:300]
        error = f"the callback answered HTTP {answer.status}" + (f": {excerpt}" if excerpt else "")
    return {"status": answer.status, "error": error}


async def deliver(db: Database, settings: Settings, delivery: outbox.Claimed) -> None:
    """Attempt one claimed delivery and record the outcome (delivered, retry later, failed)."""
    outcome = await attempt(delivery, settings)

    def record() -> None:
        with db.session() as session:
            outbox.record_attempt(
                session, delivery.id, max_attempts=settings.webhook_max_attempts,
                backoff_s=settings.webhook_backoff_s, **outcome,
            )

    await asyncio.to_thread(record)
    if outcome["error"]:
        log.info("webhook %d (%s) attempt %d failed: %s", delivery.id, delivery.event,
                 delivery.attempts + 1, outcome["error"])


# --- the task -----------------------------------------------------------------------------------
async def delivery_worker(engine: Engine) -> None:
    """Deliver whatever is due, up to CONCURRENCY at once; sleep until the next delivery is due,
    something new is queued (`engine.wakes.wake(WAKE)`), or POLL_S has passed. Pending
    deliveries of a previous run are due at once (or after their lease), so a restart resumes
    them. `engine` needs only `settings`, `db` and `wakes`."""
    settings: Settings = engine.settings
    db: Database = engine.db
    event = engine.wakes.event(WAKE)
    running: set[asyncio.Task[None]] = set()
    lease = settings.webhook_timeout_s + LEASE_SLACK_S

    def claim(free: int) -> tuple[list[outbox.Claimed], float]:
        with db.session() as session:
            claimed = outbox.claim_due(session, free, lease)
            due = outbox.next_due(session)
        wait = POLL_S if due is None else (due - utcnow()).total_seconds()
        return claimed, min(POLL_S, wait)

    def finished(task: asyncio.Task[None]) -> None:
        running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook delivery crashed", exc_info=task.exception())
        event.set()  # a slot is free

    try:
        while True:
            wait = POLL_S
            free = CONCURRENCY - len(running)
            try:
                if free > 0:
                    claimed, wait = await asyncio.to_thread(claim, free)
                    for delivery in claimed:
                        task = asyncio.create_task(deliver(db, settings, delivery))
                        running.add(task)
                        task.add_done_callback(finished)
                    if len(claimed) == free:  # full: a finishing delivery wakes us
                        wait = POLL_S
            except Exception:
                log.exception("webhook delivery task failed; retrying in %g s", POLL_S)
                wait = POLL_S
            await nap(event, wait)
    finally:
        for task in list(running):
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

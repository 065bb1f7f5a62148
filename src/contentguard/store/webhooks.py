"""Webhook outbox: events for a client's callback URL, written in the same transaction as the
change they report, delivered (signed, retried) by the service's delivery task.

The outbox is the only queue: a delivery lives in the database from the moment its change is
committed until it is delivered or given up, so a killed server loses none."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from contentguard.errors import Conflict, InvalidRequest, NotFound
from contentguard.store import audit
from contentguard.store.tables import ApiKey, WebhookDelivery, utcnow

EVENTS = ("moderation.completed", "review.decided", "appeal.resolved")


def enqueue_event(
    session: Session, api_key_id: int | None, event: str, payload: dict[str, Any]
) -> WebhookDelivery | None:
    """Queue `event` for the key's callback URL; nothing when the key has none (or is gone)."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    if api_key_id is None:
        return None
    key = session.get(ApiKey, api_key_id)
    if key is None or not key.callback_url or key.revoked_at is not None:
        return None
    delivery = WebhookDelivery(
        api_key_id=key.id, event=event, url=key.callback_url,
        payload={"event": event, "data": payload},
    )
    session.add(delivery)
    session.flush()
    return delivery


# --- delivery: claim, record, back off --------------------------------------------------------------
STATUSES = ("pending", "delivered", "failed")
MAX_BACKOFF_S = 6 * 3600.0  # however many attempts are configured, one wait is at most this


@dataclass(frozen=True)
class Claimed:
    """A delivery the caller now owns until `lease_s` has passed, with what signing needs.
    `refusal` says why it cannot be sent at all (key revoked, gone, without a secret)."""

    id: int
    event: str
    url: str
    payload: dict[str, Any]
    created_at: datetime
    attempts: int
    secret: str | None
    refusal: str | None


def claim_due(session: Session, limit: int, lease_s: float, now: datetime | None = None) -> list[Claimed]:
    """Take up to `limit` pending deliveries that are due, oldest first. Each is leased by moving
    its `next_attempt_at` past the lease with a compare-and-set, so two workers (or processes)
    never both take one, and a worker killed mid-delivery leaves it due again after the lease."""
    now = now or utcnow()
    rows = session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
    ).all()
    claimed = []
    for row in rows:
        taken = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == row.id, WebhookDelivery.status == "pending",
                   WebhookDelivery.next_attempt_at == row.next_attempt_at)
            .values(next_attempt_at=now + timedelta(seconds=lease_s))
            .execution_options(synchronize_session=False)
        ).rowcount
        if taken == 1:
            claimed.append(_claimed(session, row))
    return claimed


def _claimed(session: Session, row: WebhookDelivery) -> Claimed:
    key = session.get(ApiKey, row.api_key_id) if row.api_key_id is not None else None
    refusal = None
    if key is None:
        refusal = "the API key this event belongs to was deleted"
    elif key.revoked_at is not None:
        refusal = "the API key this event belongs to was revoked"
    elif not key.webhook_secret:
        refusal = "the API key has no webhook secret to sign with"
    return Claimed(
        id=row.id, event=row.event, url=row.url, payload=dict(row.payload), created_at=row.created_at,
        attempts=row.attempts, secret=key.webhook_secret if key else None, refusal=refusal,
    )


def record_attempt(
    session: Session,
    delivery_id: int,
    *,
    status: int | None,
    error: str | None,
    max_attempts: int,
    backoff_s: float,
    permanent: bool = False,
    now: datetime | None = None,
) -> WebhookDelivery | None:
    """Note one attempt: `error` None means delivered. Otherwise the next attempt waits
    `backoff_s * 2**(attempts-1)`; after `max_attempts` (or a `permanent` refusal) it has failed."""
    row = session.get(WebhookDelivery, delivery_id)
    if row is None:  # deleted meanwhile (its key's data purged): nothing to record
        return None
    now = now or utcnow()
    row.attempts += 1
    row.last_status = status
    row.last_error = None if error is None else error[:4000]
    if error is None:
        row.status = "delivered"
        row.delivered_at = now
    elif permanent or row.attempts >= max_attempts:
        row.status = "failed"
    else:
        wait = min(backoff_s * 2 ** (row.attempts - 1), MAX_BACKOFF_S)
        row.next_attempt_at = now + timedelta(seconds=wait)
    return row


def next_due(session: Session) -> datetime | None:
    """When the earliest pending delivery is due (so the worker sleeps just that long)."""
    return session.scalar(
        select(func.min(WebhookDelivery.next_attempt_at)).where(WebhookDelivery.status == "pending")
    )


# --- the admins' delivery log ---------------------------------------------------------------------
def list_deliveries(
    session: Session,
    *,
    status: str | None = None,
    api_key_id: int | None = None,
    event: str | None = None,
    before: int | None = None,
    limit: int = 50,
) -> list[WebhookDelivery]:
    """Newest first; `before` (a delivery id) pages back."""
    if status is not None and status not in STATUSES:
        raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}")
    if event is not None and event not in EVENTS:
        raise InvalidRequest(f"event must be one of {', '.join(EVENTS)}")
    stmt = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    if api_key_id is not None:
        stmt = stmt.where(WebhookDelivery.api_key_id == api_key_id)
    if event is not None:
        stmt = stmt.where(WebhookDelivery.event == event)
    if before is not None:
        stmt = stmt.where(WebhookDelivery.id < before)
    return list(session.scalars(stmt))


def status_counts(session: Session) -> dict[str, int]:
    found: dict[str, int] = {
        status: count for status, count in session.execute(
            select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status))
    }
    return {status: found.get(status, 0) for status in STATUSES}


def key_names(session: Session) -> dict[int, str]:
    """Every API key's id → "name (prefix…)", for showing and filtering deliveries by key."""
    return {k.id: f"{k.name} ({k.prefix}…)" for k in session.scalars(select(ApiKey).order_by(ApiKey.id))}


def retry(session: Session, delivery_id: int, actor: str) -> WebhookDelivery:
    """Send a failed (or delivered) event again, now, to the key's current callback URL, with
    the full number of attempts. Audited."""
    row = session.get(WebhookDelivery, delivery_id)
    if row is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    if row.status == "pending":
        raise Conflict(f"delivery {delivery_id} is already pending; it is retried on its own")
    key = session.get(ApiKey, row.api_key_id) if row.api_key_id is not None else None
    if key is None or key.revoked_at is not None or not key.callback_url:
        raise Conflict("this delivery's API key is revoked, deleted or has no callback URL any more")
    before = {"status": row.status, "attempts": row.attempts, "url": row.url}
    row.url = key.callback_url
    row.status = "pending"
    row.attempts = 0
    row.next_attempt_at = utcnow()
    row.delivered_at = None
    audit.record(session, actor, "webhook.retry", "webhook_delivery", row.id, before=before,
                 after={"status": "pending", "url": row.url})
    return row

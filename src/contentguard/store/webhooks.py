"""Webhook outbox: events for a client's callback URL, written in the same transaction as the
change they report, delivered (signed, retried) by the service's delivery task."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from contentguard.store.tables import ApiKey, WebhookDelivery

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

"""The review queue: decisions waiting for a human verdict, claimed under expiring leases."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from contentguard.store.tables import Appeal, ReviewItem, StoredDecision

PRIORITY = {"review": 0, "sample": -10, "appeal": 50, "escalation": 100}


def enqueue(session: Session, decision: StoredDecision, origin: str,
            priority: int | None = None) -> ReviewItem:
    """Put a stored decision in the queue (`origin`: review, sample, appeal)."""
    item = ReviewItem(
        decision_id=decision.id,
        origin=origin,
        priority=PRIORITY.get(origin, 0) if priority is None else priority,
        status="open",
    )
    session.add(item)
    session.flush()
    return item


def answered_appeal(session: Session, decision_id: str) -> bool:
    """Whether the decision's final verdict came from an appeal."""
    return session.scalar(
        select(Appeal.id).where(Appeal.decision_id == decision_id, Appeal.status != "open").limit(1)
    ) is not None

"""The review queue: decisions waiting for a human verdict, claimed under expiring leases.

A claim is a conditional UPDATE (`… WHERE status is open or the lease expired`) whose row count
says who won, so two moderators never hold one item, on SQLite and PostgreSQL alike (there the
candidates are also read `FOR UPDATE SKIP LOCKED`, so concurrent claimers pick different rows).
Leases live in the database: a killed session's claims simply expire and the items are open
again. Every change is written with its audit entry in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, update
from sqlalchemy.orm import Session

from contentguard.errors import Conflict, Forbidden, InvalidRequest, NotFound
from contentguard.store import audit, webhooks
from contentguard.store.tables import (
    Appeal,
    ReviewAction,
    ReviewItem,
    StoredDecision,
    User,
    utcnow,
)

PRIORITY = {"review": 0, "sample": -10, "appeal": 50, "escalation": 100}
VERDICTS = ("approve", "reject", "escalate")
HUMAN_DECISION = {"approve": "allow", "reject": "block"}
# Why an item is fine / what it violates (reject reasons follow the policy's category names).
APPROVE_REASONS = ("no_violation", "artistic_or_educational", "news_or_documentary", "other")
REJECT_REASONS = ("sexual_explicit", "sexual_suggestive", "nudity_exposed", "hate", "offensive",
                  "profanity", "spam", "violence", "other")
MAX_NOTE = 2000


@dataclass(frozen=True)
class Reviewer:
    """The person acting: their user id, their audit name ("user:alice"), whether admin."""

    user_id: int
    actor: str
    admin: bool = False


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


# --- reading the queue -----------------------------------------------------------------------
def _claimable(now: datetime) -> ColumnElement[bool]:
    """Open, or claimed under a lease that has run out."""
    return or_(
        ReviewItem.status == "open",
        and_(ReviewItem.status == "claimed", ReviewItem.lease_expires_at < now),
    )


def _held(now: datetime) -> ColumnElement[bool]:
    return and_(ReviewItem.status == "claimed", ReviewItem.lease_expires_at >= now)


def depth(session: Session) -> dict[str, int]:
    """Items waiting (`open`, of which `escalated`) and items under a live lease (`claimed`)."""
    now = utcnow()
    count = select(func.count()).select_from(ReviewItem)
    waiting = session.scalar(count.where(_claimable(now))) or 0
    escalated = session.scalar(count.where(_claimable(now), ReviewItem.escalated.is_(True))) or 0
    claimed = session.scalar(count.where(_held(now))) or 0
    return {"open": waiting, "escalated": escalated, "claimed": claimed}


def list_items(session: Session, status: str = "open", limit: int = 50,
               offset: int = 0) -> list[ReviewItem]:
    """`open` in claim order, `claimed` (live leases), `decided` newest first, or `all`."""
    now = utcnow()
    stmt = select(ReviewItem)
    if status == "open":
        stmt = stmt.where(_claimable(now)).order_by(*_claim_order())
    elif status == "claimed":
        stmt = stmt.where(_held(now)).order_by(ReviewItem.lease_expires_at)
    elif status == "decided":
        stmt = stmt.where(ReviewItem.status == "decided").order_by(
            ReviewItem.decided_at.desc(), ReviewItem.id.desc())
    elif status == "all":
        stmt = stmt.order_by(ReviewItem.id.desc())
    else:
        raise InvalidRequest("status must be one of open, claimed, decided, all")
    return list(session.scalars(stmt.limit(limit).offset(offset)))


def _claim_order() -> tuple[Any, ...]:
    return ReviewItem.priority.desc(), ReviewItem.created_at, ReviewItem.id


def get(session: Session, item_id: int) -> ReviewItem:
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFound(f"no review item {item_id}")
    return item


def usernames(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(wanted))).all())


def actions(session: Session, item_id: int) -> list[ReviewAction]:
    return list(session.scalars(select(ReviewAction).where(
        ReviewAction.review_item_id == item_id).order_by(ReviewAction.id)))


def appeal_for(session: Session, item_id: int) -> Appeal | None:
    """The appeal this item was queued (or re-prioritised) for, if any."""
    return session.scalar(select(Appeal).where(
        Appeal.review_item_id == item_id).order_by(Appeal.id.desc()).limit(1))


# --- claims ------------------------------------------------------------------------------------
def _state(item: ReviewItem) -> dict[str, Any]:
    return {
        "status": item.status,
        "claimed_by": item.claimed_by,
        "lease_expires_at": item.lease_expires_at.isoformat() if item.lease_expires_at else None,
        "priority": item.priority,
        "escalated": item.escalated,
    }


def _log(session: Session, item: ReviewItem, reviewer: Reviewer, action: str,
         before: dict[str, Any], reason: str | None = None, note: str | None = None) -> None:
    session.add(ReviewAction(review_item_id=item.id, user_id=reviewer.user_id, action=action,
                             reason_category=reason, note=note))
    after = _state(item) | ({"reason_category": reason} if reason else {})
    audit.record(session, reviewer.actor, f"review.{action}", "review_item", item.id,
                 before=before, after=after)


def _take(session: Session, item_id: int, reviewer: Reviewer, lease_s: float,
          now: datetime) -> ReviewItem | None:
    """Claim one item if it is still claimable: the UPDATE's row count decides the race."""
    before = session.get(ReviewItem, item_id)
    prior = _state(before) if before is not None else {}
    conditions = [ReviewItem.id == item_id, _claimable(now)]
    if not reviewer.admin:
        conditions.append(ReviewItem.escalated.is_(False))
    taken = session.execute(
        update(ReviewItem).where(*conditions).values(
            status="claimed", claimed_by=reviewer.user_id,
            lease_expires_at=now + timedelta(seconds=lease_s),
        ).execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        return None
    item = session.get(ReviewItem, item_id, populate_existing=True)
    assert item is not None
    _log(session, item, reviewer, "claim", prior)
    return item


def _renew(session: Session, item: ReviewItem, reviewer: Reviewer, lease_s: float) -> ReviewItem:
    before = _state(item)
    item.lease_expires_at = utcnow() + timedelta(seconds=lease_s)
    session.flush()
    audit.record(session, reviewer.actor, "review.renew", "review_item", item.id,
                 before=before, after=_state(item))
    return item


def held_by(session: Session, user_id: int) -> ReviewItem | None:
    """The item `user_id` holds under a live lease, if any."""
    return session.scalar(select(ReviewItem).where(
        _held(utcnow()), ReviewItem.claimed_by == user_id).order_by(ReviewItem.id).limit(1))


def claim_next(session: Session, reviewer: Reviewer, lease_s: float,
               exclude: Iterable[int] = ()) -> ReviewItem | None:
    """The next item (highest priority, then oldest) under a new lease, or None when nothing is
    waiting. A reviewer holds one item: one they hold already comes back with its lease renewed
    (unless excluded: then it is released). Escalated items go to admins only."""
    skip = set(exclude)
    held = held_by(session, reviewer.user_id)
    if held is not None:
        if held.id not in skip:
            return _renew(session, held, reviewer, lease_s)
        release(session, held.id, reviewer)
    # PostgreSQL: lock one candidate, skipping rows other claimers hold, so each gets its own.
    # SQLite has no row locks: read a few and let the conditional UPDATE pick the winner.
    batch = 1 if session.get_bind().dialect.name == "postgresql" else 8
    for _ in range(20):  # a round is lost only to claimers that took every candidate
        now = utcnow()
        stmt = select(ReviewItem.id).where(_claimable(now))
        if not reviewer.admin:
            stmt = stmt.where(ReviewItem.escalated.is_(False))
        if skip:
            stmt = stmt.where(ReviewItem.id.not_in(skip))
        candidates = session.scalars(
            stmt.order_by(*_claim_order()).limit(batch).with_for_update(skip_locked=True)
        ).all()
        if not candidates:
            return None
        for item_id in candidates:
            item = _take(session, item_id, reviewer, lease_s, now)
            if item is not None:
                return item
    return None


def claim(session: Session, item_id: int, reviewer: Reviewer, lease_s: float) -> ReviewItem:
    """Claim one given item (from the appeals list, say); 409 when someone else holds it."""
    item = get(session, item_id)
    if item.status == "decided":
        raise Conflict(f"review item {item_id} is decided already ({item.verdict})")
    if item.escalated and not reviewer.admin:
        raise Forbidden(f"review item {item_id} is escalated: an admin decides it")
    now = utcnow()
    if item.status == "claimed" and item.lease_expires_at and item.lease_expires_at >= now:
        if item.claimed_by == reviewer.user_id:
            return _renew(session, item, reviewer, lease_s)
        raise Conflict(f"review item {item_id} is claimed by {_holder(session, item)} until "
                       f"{item.lease_expires_at.isoformat(timespec='seconds')}")
    held = held_by(session, reviewer.user_id)
    if held is not None:
        release(session, held.id, reviewer)
    taken = _take(session, item_id, reviewer, lease_s, now)
    if taken is None:
        raise Conflict(f"review item {item_id} was just claimed by someone else")
    return taken


def _holder(session: Session, item: ReviewItem) -> str:
    return usernames(session, [item.claimed_by]).get(item.claimed_by or -1, "someone")


def _lost(session: Session, item_id: int, reviewer: Reviewer) -> Conflict:
    """Why `reviewer` cannot act on the item: say what happened to it."""
    item = session.get(ReviewItem, item_id, populate_existing=True)
    if item is None:
        return Conflict(f"review item {item_id} is gone")
    if item.status == "decided":
        return Conflict(f"review item {item_id} is decided already ({item.verdict})")
    if item.status == "claimed" and item.claimed_by != reviewer.user_id:
        return Conflict(f"review item {item_id} is claimed by {_holder(session, item)}")
    if item.status == "claimed":
        return Conflict(f"your lease on review item {item_id} expired; claim it again")
    return Conflict(f"review item {item_id} is not claimed by you; claim it first")


def _mine(reviewer: Reviewer, item_id: int, now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (ReviewItem.id == item_id, ReviewItem.status == "claimed",
            ReviewItem.claimed_by == reviewer.user_id, ReviewItem.lease_expires_at >= now)


def release(session: Session, item_id: int, reviewer: Reviewer) -> ReviewItem:
    """Give a claimed item back to the queue (skip it); only its holder can."""
    item = get(session, item_id)
    before = _state(item)
    done = session.execute(
        update(ReviewItem).where(*_mine(reviewer, item_id, utcnow())).values(
            status="open", claimed_by=None, lease_expires_at=None,
        ).execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        raise _lost(session, item_id, reviewer)
    item = session.get(ReviewItem, item_id, populate_existing=True)
    assert item is not None
    _log(session, item, reviewer, "release", before)
    return item


# --- verdicts --------------------------------------------------------------------------------------
def _check(verdict: str, reason: str | None, note: str | None) -> tuple[str | None, str | None]:
    if verdict not in VERDICTS:
        raise InvalidRequest(f"verdict must be one of {', '.join(VERDICTS)}")
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise InvalidRequest(f"a note has at most {MAX_NOTE} characters")
    reason = (reason or "").strip() or None
    allowed = {"approve": APPROVE_REASONS, "reject": REJECT_REASONS}.get(
        verdict, APPROVE_REASONS + REJECT_REASONS)
    if verdict != "escalate" and reason is None:
        raise InvalidRequest(f"a {verdict} needs a reason_category: one of {', '.join(allowed)}")
    if reason is not None and reason not in allowed:
        raise InvalidRequest(f"reason_category for {verdict} must be one of {', '.join(allowed)}")
    return reason, note


def decide(session: Session, item_id: int, reviewer: Reviewer, verdict: str,
           reason_category: str | None = None, note: str | None = None) -> ReviewItem:
    """Approve (→ allow), reject (→ block) or escalate an item its reviewer holds.

    A verdict becomes the decision's final human verdict (the machine's stays stored), answers
    the item's open appeal, and queues the client's webhooks. An escalation puts the item back
    in the queue, flagged and at escalation priority, for an admin."""
    reason, note = _check(verdict, reason_category, note)
    item = get(session, item_id)
    before = _state(item)
    now = utcnow()
    if verdict == "escalate":
        if item.escalated:
            raise Conflict(f"review item {item_id} is escalated already: approve or reject it")
        values: dict[str, Any] = {
            "status": "open", "claimed_by": None, "lease_expires_at": None, "escalated": True,
            "priority": max(item.priority, PRIORITY["escalation"]),
        }
    else:
        values = {"status": "decided", "lease_expires_at": None, "verdict": verdict,
                  "reason_category": reason, "note": note, "decided_by": reviewer.user_id,
                  "decided_at": now}
    done = session.execute(
        update(ReviewItem).where(*_mine(reviewer, item_id, now)).values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        raise _lost(session, item_id, reviewer)
    item = session.get(ReviewItem, item_id, populate_existing=True)
    assert item is not None
    _log(session, item, reviewer, verdict, before, reason, note)
    if verdict != "escalate":
        _apply_verdict(session, item, reviewer, verdict, reason, note, now)
    return item


def _apply_verdict(session: Session, item: ReviewItem, reviewer: Reviewer, verdict: str,
                   reason: str | None, note: str | None, now: datetime) -> None:
    """The decision's human columns, the appeal's outcome, the webhooks, their audit entries."""
    row = session.get(StoredDecision, item.decision_id)
    assert row is not None
    previous = row.human_decision or row.decision
    before = {"decision": previous, "human_decision": row.human_decision}
    row.human_decision = HUMAN_DECISION[verdict]
    row.human_reason = reason
    row.human_note = note
    row.human_by = reviewer.user_id
    row.human_at = now
    audit.record(session, reviewer.actor, "decision.verdict", "decision", row.id, before=before,
                 after={"decision": row.human_decision, "human_decision": row.human_decision,
                        "reason_category": reason, "review_item_id": item.id})
    appeal = session.scalar(select(Appeal).where(
        Appeal.review_item_id == item.id, Appeal.status == "open").limit(1))
    payload = {
        "result_id": row.id, "content_id": row.content_id, "decision": row.human_decision,
        "machine_decision": row.decision, "verdict": verdict, "reason_category": reason,
        "note": note, "reviewed_at": now.isoformat(), "appeal": appeal is not None,
    }
    webhooks.enqueue_event(session, row.api_key_id, "review.decided", payload)
    if appeal is not None:
        _resolve(session, appeal, row, previous, reviewer, reason, note, now)


def _resolve(session: Session, appeal: Appeal, row: StoredDecision, previous: str,
             reviewer: Reviewer, reason: str | None, note: str | None, now: datetime) -> None:
    """Upheld: the decision appealed against stands; overturned: the verdict changed it."""
    appeal.status = "upheld" if row.human_decision == previous else "overturned"
    appeal.resolved_at = now
    appeal.outcome_note = note
    session.flush()
    audit.record(session, reviewer.actor, "appeal.resolve", "appeal", appeal.id,
                 before={"status": "open", "decision": previous},
                 after={"status": appeal.status, "decision": row.human_decision})
    webhooks.enqueue_event(session, appeal.api_key_id or row.api_key_id, "appeal.resolved", {
        "appeal_id": appeal.id, "result_id": row.id, "status": appeal.status,
        "decision": row.human_decision, "previous_decision": previous,
        "reason_category": reason, "note": note, "resolved_at": now.isoformat(),
    })

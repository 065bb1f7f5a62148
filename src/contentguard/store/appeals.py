"""Appeals: a client platform contests a decided result; the item goes back to the review queue
at appeal priority, and the moderator's verdict on it resolves the appeal (see review.decide).

One appeal per result: a second one is refused (409), whether the first is open or answered.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from contentguard.errors import Conflict, InvalidRequest, NotFound
from contentguard.store import audit, decisions, review
from contentguard.store.tables import Appeal, ReviewItem, StoredDecision

STATUSES = ("open", "upheld", "overturned")
MAX_MESSAGE = 2000


def create(session: Session, result_id: str, api_key_id: int | None, message: str,
           actor: str) -> Appeal:
    """Appeal the result `result_id` (only one the key asked for: 404 otherwise)."""
    message = message.strip()
    if not message:
        raise InvalidRequest("an appeal needs a message (what the end user says)")
    if len(message) > MAX_MESSAGE:
        raise InvalidRequest(f"an appeal message has at most {MAX_MESSAGE} characters")
    row = decisions.find(session, result_id, api_key_id=api_key_id)
    if row is None or (api_key_id is not None and row.api_key_id != api_key_id):
        raise NotFound(f"no stored result with id {result_id}")
    # A no-op write on the decision serialises concurrent appeals of it (row lock on
    # PostgreSQL, the write lock on SQLite) before the check for an existing one.
    session.execute(update(StoredDecision).where(StoredDecision.id == row.id)
                    .values(id=StoredDecision.id).execution_options(synchronize_session=False))
    existing = session.scalar(select(Appeal).where(Appeal.decision_id == row.id).limit(1))
    if existing is not None:
        what = "is under appeal" if existing.status == "open" else f"was appealed ({existing.status})"
        raise Conflict(f"result {row.id} {what} already: appeal {existing.id}")
    session.refresh(row)
    if (row.human_decision or row.decision) == "review":
        raise Conflict(f"result {row.id} is still waiting for a moderator; appeal once it is decided")
    item = session.scalar(select(ReviewItem).where(
        ReviewItem.decision_id == row.id, ReviewItem.status != "decided").limit(1))
    if item is None:
        item = review.enqueue(session, row, "appeal")
    else:  # a pending quality-check sample becomes the appeal's item
        item.origin = "appeal"
        item.priority = max(item.priority, review.PRIORITY["appeal"])
    appeal = Appeal(decision_id=row.id, api_key_id=api_key_id, message=message, status="open",
                    review_item_id=item.id)
    session.add(appeal)
    session.flush()
    audit.record(session, actor, "appeal.create", "appeal", appeal.id,
                 after={"result_id": row.id, "review_item_id": item.id,
                        "decision": row.human_decision or row.decision})
    return appeal


def get(session: Session, appeal_id: int, api_key_id: int | None = None) -> Appeal:
    """One appeal; with `api_key_id`, only that key's own (404 for any other)."""
    appeal = session.get(Appeal, appeal_id)
    if appeal is None or (api_key_id is not None and appeal.api_key_id != api_key_id):
        raise NotFound(f"no appeal {appeal_id}")
    return appeal


def list_appeals(session: Session, status: str | None = None, limit: int = 50,
                 offset: int = 0) -> list[Appeal]:
    """Open appeals oldest first (the order they are worked); others newest first."""
    stmt = select(Appeal)
    if status is not None:
        if status not in STATUSES:
            raise InvalidRequest(f"status must be one of {', '.join(STATUSES)}")
        stmt = stmt.where(Appeal.status == status)
    if status == "open":
        stmt = stmt.order_by(Appeal.created_at, Appeal.id)
    else:
        stmt = stmt.order_by(Appeal.created_at.desc(), Appeal.id.desc())
    return list(session.scalars(stmt.limit(limit).offset(offset)))


def decision_of(session: Session, appeal: Appeal) -> StoredDecision:
    row = session.get(StoredDecision, appeal.decision_id)
    assert row is not None  # appeals are deleted with their decision
    return row

"""Stored decisions: every moderation result, who asked, the model and policy versions, and the
final human verdict, which overrides the machine's decision when read back (both are kept)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from contentguard.schemas import HumanVerdict, ModerationResult
from contentguard.store import review
from contentguard.store.tables import (
    AsyncJob,
    AuditEntry,
    StoredDecision,
    StoredMedia,
    User,
    WebhookDelivery,
    utcnow,
)


def new_result_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Requester:
    """Who asked for a moderation: an API key, a signed-in user (the web page), or nobody (CLI)."""

    api_key_id: int | None = None
    user_id: int | None = None


@dataclass(frozen=True)
class Retention:
    media_days: float
    sample_allow: float = 0.0
    sample_block: float = 0.0


def save(
    session: Session,
    result: ModerationResult,
    requester: Requester,
    retention: Retention,
    *,
    media: bytes | None = None,
    media_type: str | None = None,
    text: str | None = None,
    thumbnail: bytes | None = None,
    result_id: str | None = None,
    origin: str | None = "auto",
) -> StoredDecision:
    """Store `result` (its `result_id` is set here) and queue it for review when the policy says
    review, or when it falls in the quality-check sample. Media is kept only for queued items."""
    result.result_id = result_id or result.result_id or new_result_id()
    row = StoredDecision(
        id=result.result_id,
        content_id=result.id,
        kind=result.kind,
        source=result.source[:2048],
        api_key_id=requester.api_key_id,
        user_id=requester.user_id,
        decision=result.decision,
        label=result.label,
        confidence=result.confidence,
        categories=result.categories,
        result=result.model_dump(mode="json"),
        policy_version=result.policy_version,
        model_versions={m.name: m.version for m in result.models},
        duration_ms=result.duration_ms,
    )
    session.add(row)
    session.flush()
    if origin == "auto":
        origin = queue_origin(result.decision, retention)
    if origin is not None:
        if media is not None or text is not None:
            session.add(StoredMedia(
                decision_id=row.id,
                media_type=media_type or result.media_type,
                data=media,
                text=text,
                thumbnail=thumbnail,
                expires_at=utcnow() + timedelta(days=retention.media_days),
            ))
        review.enqueue(session, row, origin)
    return row


def queue_origin(decision: str, retention: Retention) -> str | None:
    """Why a new decision enters the review queue, if it does."""
    if decision == "review":
        return "review"
    rate = {"allow": retention.sample_allow, "block": retention.sample_block}.get(decision, 0.0)
    if rate and random.random() < rate:
        return "sample"
    return None


def find(session: Session, result_id: str, api_key_id: int | None = None) -> StoredDecision | None:
    """By result id (32 hex), or the newest decision on a content id (64 hex sha256); with
    `api_key_id`, only among the decisions that key asked for."""
    if len(result_id) == 64:
        stmt = select(StoredDecision).where(StoredDecision.content_id == result_id)
    else:
        stmt = select(StoredDecision).where(StoredDecision.id == result_id)
    if api_key_id is not None:
        stmt = stmt.where(StoredDecision.api_key_id == api_key_id)
    return session.scalar(
        stmt.order_by(StoredDecision.created_at.desc(), StoredDecision.id.desc()).limit(1)
    )


def as_result(session: Session, row: StoredDecision) -> ModerationResult:
    """The contract object as served: the human verdict, when there is one, decides."""
    result = ModerationResult.model_validate(row.result)
    result.result_id = row.id
    if row.human_decision is not None and row.human_at is not None:
        reviewer = session.get(User, row.human_by) if row.human_by else None
        result.machine_decision = result.decision
        result.decision = row.human_decision  # type: ignore[assignment]
        result.review = HumanVerdict(
            verdict="approve" if row.human_decision == "allow" else "reject",
            decision=row.human_decision,  # type: ignore[arg-type]
            reason_category=row.human_reason,
            note=row.human_note,
            reviewer=reviewer.username if reviewer else None,
            at=row.human_at,
            appeal=review.answered_appeal(session, row.id),
        )
    return result


def purge_expired(session: Session, retention_days: float) -> tuple[int, int]:
    """Delete decisions past retention (their reviews and media go with them) and media past
    its own retention (finished async jobs and settled webhook deliveries past retention too).
    Returns (decisions, media) deleted. The audit log is never purged."""
    now = utcnow()
    media = session.execute(delete(StoredMedia).where(StoredMedia.expires_at < now)).rowcount
    old = now - timedelta(days=retention_days)
    decisions = session.execute(
        delete(StoredDecision).where(StoredDecision.created_at < old)
    ).rowcount
    # finished async jobs and settled webhook deliveries go with the decisions of their age
    session.execute(delete(AsyncJob).where(AsyncJob.status != "pending", AsyncJob.created_at < old))
    session.execute(delete(WebhookDelivery).where(
        WebhookDelivery.status.in_(("delivered", "failed")), WebhookDelivery.created_at < old))
    if decisions or media:
        session.add(AuditEntry(actor="system", action="retention.purge", target_type="decision",
                               after={"decisions": decisions, "media": media}))
    return decisions or 0, media or 0

"""The review queue in the store, on SQLite and PostgreSQL: claim order, leases that expire,
concurrent claimers, verdicts (with their audit entries and the human decision served back),
escalation and appeals."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from helpers.accounts import make_key, make_user
from sqlalchemy import select, update

from contentguard.errors import Conflict, Forbidden, InvalidRequest, NotFound
from contentguard.schemas import ModerationResult
from contentguard.store import accounts, appeals, decisions, review
from contentguard.store.db import Database
from contentguard.store.decisions import Requester, Retention
from contentguard.store.tables import (
    Appeal,
    AuditEntry,
    ReviewAction,
    ReviewItem,
    StoredDecision,
    WebhookDelivery,
    utcnow,
)

LEASE = 60.0
KEEP = Retention(media_days=1)


def result(decision: str = "review", content: str = "a" * 64) -> ModerationResult:
    return ModerationResult(
        id=content, source="x.png", kind="image", media_type="image/png", decision=decision,
        label="neutral", confidence=0.9, scores={"neutral": 0.9}, categories={"sexual_explicit": 0.6},
        detections=[], reasons=[], frames=1, models=[], policy_version="default@2", duration_ms=3.0,
    )


def store(db: Database, decision: str = "review", n: int = 0, api_key_id: int | None = None,
          origin: str | None = "auto") -> str:
    with db.session() as session:
        row = decisions.save(session, result(decision, f"{n:064x}"), Requester(api_key_id=api_key_id),
                             KEEP, media=b"png bytes", origin=origin)
        return row.id


def person(db: Database, name: str, role: str = "moderator") -> review.Reviewer:
    return review.Reviewer(make_user(db, name, role), f"user:{name}", admin=role == "admin")


def claim(db: Database, who: review.Reviewer, **kw) -> int | None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        item = review.claim_next(session, who, LEASE, **kw)
        return None if item is None else item.id


def decide(db: Database, item_id: int, who: review.Reviewer, verdict: str,
           reason: str | None = None, note: str | None = None) -> None:
    with db.session() as session:
        review.decide(session, item_id, who, verdict, reason, note)


def item(db: Database, item_id: int) -> ReviewItem:
    with db.session() as session:
        return session.get(ReviewItem, item_id)


def key_id(db: Database, callback: str | None = "http://127.0.0.1:9/hook") -> int:
    key = make_key(db, callback_url=callback)
    with db.session() as session:
        return accounts.find_api_key(session, key).id


def test_claims_go_by_priority_then_age_with_a_lease(db: Database) -> None:
    alice, bob = person(db, "alice"), person(db, "bob")
    first, second = store(db, n=1), store(db, n=2)
    sampled = store(db, "allow", n=3, origin="sample")
    with db.session() as session:
        late = session.scalar(select(ReviewItem.id).where(ReviewItem.decision_id == second))
        session.execute(update(ReviewItem).where(ReviewItem.id == late).values(priority=5))
        assert review.depth(session) == {"open": 3, "escalated": 0, "claimed": 0}
    got = claim(db, alice)
    assert item(db, got).decision_id == second  # priority beats age
    held = item(db, got)
    assert held.status == "claimed" and held.claimed_by == alice.user_id
    assert timedelta(seconds=LEASE - 5) < held.lease_expires_at - utcnow() <= timedelta(seconds=LEASE)
    assert claim(db, alice) == got  # one item per moderator: the same one, renewed
    assert item(db, claim(db, bob)).decision_id == first  # then the oldest
    carol = person(db, "carol")
    assert item(db, claim(db, carol)).decision_id == sampled  # samples last
    assert claim(db, person(db, "dave")) is None
    with db.session() as session:
        assert review.depth(session) == {"open": 0, "escalated": 0, "claimed": 3}


def test_an_expired_lease_returns_the_item_and_its_holder_loses_it(db: Database) -> None:
    alice, bob = person(db, "alice"), person(db, "bob")
    store(db, n=1)
    got = claim(db, alice)
    assert claim(db, bob) is None  # held
    with db.session() as session:  # alice's browser died; the lease runs out
        session.execute(update(ReviewItem).where(ReviewItem.id == got)
                        .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
        assert review.depth(session)["open"] == 1
    assert claim(db, bob) == got
    with pytest.raises(Conflict, match="claimed by bob"):
        decide(db, got, alice, "approve", "no_violation")
    with pytest.raises(Conflict, match="claimed by bob"):
        with db.session() as session:
            review.release(session, got, alice)
    decide(db, got, bob, "reject", "sexual_explicit")
    assert item(db, got).verdict == "reject"


def test_own_expired_lease_cannot_decide(db: Database) -> None:
    alice = person(db, "alice")
    store(db, n=1)
    got = claim(db, alice)
    with db.session() as session:
        session.execute(update(ReviewItem).where(ReviewItem.id == got)
                        .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    with pytest.raises(Conflict, match="lease .* expired"):
        decide(db, got, alice, "approve", "no_violation")
    assert item(db, got).verdict is None


def test_concurrent_claimers_never_share_an_item(db: Database) -> None:
    """Moderators in threads claim and decide until the queue is empty: every item is claimed
    and decided exactly once, and nobody fails."""
    items, claimers = 16, 6
    for n in range(items):
        store(db, n=n)
    people = [person(db, f"mod{n}") for n in range(claimers)]
    first: list[int | None] = []
    decided: list[int] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(claimers)

    def work(who: review.Reviewer) -> None:
        try:
            barrier.wait()
            got = claim(db, who)
            first.append(got)
            while got is not None:
                decide(db, got, who, "approve", "no_violation")
                decided.append(got)
                got = claim(db, who)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    opening = [f for f in first if f is not None]
    assert len(opening) == len(set(opening)) >= 2  # first claims were all different items
    assert sorted(decided) == sorted(set(decided)) and len(decided) == items
    with db.session() as session:
        claims = session.scalars(select(ReviewAction).where(ReviewAction.action == "claim")).all()
        assert len(claims) == items  # one claim each: no double-claim was recorded
        assert review.depth(session) == {"open": 0, "escalated": 0, "claimed": 0}
        holders = {i.decided_by for i in session.scalars(select(ReviewItem))}
    assert len(holders) > 1  # the work was actually shared


def test_a_verdict_overrides_the_machine_and_is_audited(db: Database) -> None:
    alice = person(db, "alice")
    hook = key_id(db)
    result_id = store(db, n=1, api_key_id=hook)
    got = claim(db, alice)
    decide(db, got, alice, "approve", "artistic_or_educational", "a painting")
    with db.session() as session:
        row = session.get(StoredDecision, result_id)
        assert (row.decision, row.human_decision, row.human_reason) == ("review", "allow",
                                                                         "artistic_or_educational")
        served = decisions.as_result(session, row)
        assert served.decision == "allow" and served.machine_decision == "review"
        assert served.review.reviewer == "alice" and served.review.note == "a painting"
        assert served.review.appeal is False
        done = session.get(ReviewItem, got)
        assert (done.status, done.decided_by, done.lease_expires_at) == ("decided", alice.user_id, None)
        actions = [(e.actor, e.action, e.target_id) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("review.%") | AuditEntry.action.like(
                "decision.%")).order_by(AuditEntry.id))]
        assert actions == [("user:alice", "review.claim", str(got)),
                           ("user:alice", "review.approve", str(got)),
                           ("user:alice", "decision.verdict", result_id)]
        verdict = session.scalar(select(AuditEntry).where(AuditEntry.action == "decision.verdict"))
        assert verdict.before["decision"] == "review" and verdict.after["decision"] == "allow"
        hooks = session.scalars(select(WebhookDelivery)).all()
        assert [(h.event, h.payload["data"]["decision"]) for h in hooks] == [("review.decided", "allow")]
    with pytest.raises(Conflict, match="decided already"):
        decide(db, got, alice, "reject", "spam")


@pytest.mark.parametrize(("verdict", "reason", "message"), [
    ("approve", None, "needs a reason_category"),
    ("reject", "no_violation", "must be one of"),
    ("approve", "hate", "must be one of"),
    ("ban", "spam", "verdict must be"),
])
def test_bad_verdicts_are_refused_and_change_nothing(db: Database, verdict: str, reason: str | None,
                                                    message: str) -> None:
    alice = person(db, "alice")
    store(db, n=1)
    got = claim(db, alice)
    with pytest.raises(InvalidRequest, match=message):
        decide(db, got, alice, verdict, reason)
    with pytest.raises(InvalidRequest, match="at most"):
        decide(db, got, alice, "reject", "spam", "x" * (review.MAX_NOTE + 1))
    assert item(db, got).status == "claimed"


def test_escalated_items_go_to_admins_at_high_priority(db: Database) -> None:
    alice, bob, root = person(db, "alice"), person(db, "bob"), person(db, "root", "admin")
    store(db, n=1)
    store(db, n=2)
    got = claim(db, alice)
    decide(db, got, alice, "escalate", note="not sure: is it art?")
    up = item(db, got)
    assert (up.status, up.escalated, up.priority, up.claimed_by) == ("open", True, 100, None)
    assert claim(db, bob) != got  # moderators get the other one
    assert claim(db, alice) is None
    with db.session() as session:
        assert review.depth(session) == {"open": 1, "escalated": 1, "claimed": 1}
    with pytest.raises(Forbidden), db.session() as session:
        review.claim(session, got, alice, LEASE)
    assert claim(db, root) == got  # first for an admin
    with pytest.raises(Conflict, match="escalated already"):
        decide(db, got, root, "escalate")
    decide(db, got, root, "reject", "other", "decided by an admin")
    with db.session() as session:
        steps = [a.action for a in review.actions(session, got)]
    assert steps == ["claim", "escalate", "claim", "reject"]


def test_release_puts_the_item_back_and_skip_lists_are_honoured(db: Database) -> None:
    alice = person(db, "alice")
    store(db, n=1)
    store(db, n=2)
    first = claim(db, alice)
    with db.session() as session:
        review.release(session, first, alice)
    assert item(db, first).status == "open"
    second = claim(db, alice, exclude=[first])
    assert second != first
    # Excluding the held one releases it and moves on.
    assert claim(db, alice, exclude=[first, second]) is None
    assert item(db, second).status == "open"
    with db.session() as session:
        audit = [e.action for e in session.scalars(select(AuditEntry).where(
            AuditEntry.target_type == "review_item").order_by(AuditEntry.id))]
    assert audit == ["review.claim", "review.release", "review.claim", "review.release"]


def test_appeal_requeues_with_priority_and_the_verdict_resolves_it(db: Database) -> None:
    alice = person(db, "alice")
    client = key_id(db)
    blocked = store(db, "block", n=1, api_key_id=client)  # machine block: nothing queued
    store(db, n=2)  # an ordinary review item, older than the appeal
    with db.session() as session:
        appeal = appeals.create(session, blocked, client, "it is my own holiday photo", "key:1")
        appeal_id = appeal.id
        assert session.get(ReviewItem, appeal.review_item_id).priority == review.PRIORITY["appeal"]
    with pytest.raises(Conflict, match="under appeal"), db.session() as session:
        appeals.create(session, blocked, client, "again", "key:1")
    got = claim(db, alice)
    assert item(db, got).origin == "appeal"  # ahead of the older ordinary item
    decide(db, got, alice, "approve", "no_violation", "fine after all")
    with db.session() as session:
        done = session.get(Appeal, appeal_id)
        assert (done.status, done.outcome_note) == ("overturned", "fine after all")
        served = decisions.as_result(session, session.get(StoredDecision, blocked))
        assert (served.decision, served.machine_decision, served.review.appeal) == ("allow", "block", True)
        events = {h.event: h.payload["data"] for h in session.scalars(select(WebhookDelivery))}
        assert events["appeal.resolved"]["status"] == "overturned"
        assert events["appeal.resolved"]["previous_decision"] == "block"
        assert events["review.decided"]["appeal"] is True
        assert session.scalar(select(AuditEntry).where(AuditEntry.action == "appeal.resolve")) is not None
    with pytest.raises(Conflict, match="was appealed"), db.session() as session:
        appeals.create(session, blocked, client, "once more", "key:1")


def test_an_appeal_that_changes_nothing_is_upheld(db: Database) -> None:
    alice = person(db, "alice")
    client = key_id(db, callback=None)
    blocked = store(db, "block", n=1, api_key_id=client)
    with db.session() as session:
        appeals.create(session, blocked, client, "please", "key:1")
    got = claim(db, alice)
    decide(db, got, alice, "reject", "sexual_explicit")
    with db.session() as session:
        assert session.scalar(select(Appeal.status)) == "upheld"
        assert session.scalar(select(WebhookDelivery.id)) is None  # the key has no callback URL


def test_appeals_only_on_own_decided_results(db: Database) -> None:
    mine, other = key_id(db, None), key_id(db, None)
    pending = store(db, "review", n=1, api_key_id=mine)
    allowed = store(db, "allow", n=2, api_key_id=mine)
    with pytest.raises(NotFound), db.session() as session:
        appeals.create(session, allowed, other, "not yours", "key:2")
    with pytest.raises(Conflict, match="still waiting"), db.session() as session:
        appeals.create(session, pending, mine, "too early", "key:1")
    with pytest.raises(InvalidRequest), db.session() as session:
        appeals.create(session, allowed, mine, "   ", "key:1")
    with db.session() as session:
        appeal = appeals.create(session, allowed, mine, "should be blocked", "key:1")
        assert appeals.get(session, appeal.id, api_key_id=mine).id == appeal.id
        with pytest.raises(NotFound):
            appeals.get(session, appeal.id, api_key_id=other)


def test_a_pending_sample_becomes_the_appeal_item(db: Database) -> None:
    client = key_id(db, None)
    sampled = store(db, "allow", n=1, api_key_id=client, origin="sample")
    with db.session() as session:
        appeal = appeals.create(session, sampled, client, "this should not be allowed", "key:1")
        items = session.scalars(select(ReviewItem)).all()
    assert len(items) == 1 and items[0].id == appeal.review_item_id
    assert (items[0].origin, items[0].priority) == ("appeal", review.PRIORITY["appeal"])

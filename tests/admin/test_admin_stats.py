"""The dashboard's figures (store/stats) from known rows, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from helpers.accounts import make_user

from contentguard.store import stats
from contentguard.store.db import Database
from contentguard.store.tables import ReviewItem, StoredDecision

NOW = datetime(2025, 3, 10, 12, 30, tzinfo=UTC)


def decision(n: int, at: datetime, outcome: str, kind: str = "image", ms: float | None = 10.0,
             **categories: float) -> StoredDecision:
    return StoredDecision(
        id=f"{n:032x}", content_id=f"{n:064x}", kind=kind, source="x", created_at=at,
        decision=outcome, categories=categories, result={}, policy_version="default@2",
        duration_ms=ms,
    )


@pytest.fixture
def filled(db: Database) -> Database:
    reviewer = make_user(db, "rita")
    hour = timedelta(hours=1)
    with db.session() as session:
        session.add_all([
            decision(1, NOW - 30 * hour, "block", sexual_explicit=0.9),  # before the 24 h window
            decision(2, NOW - 2 * hour, "allow", ms=10.0, sexual_explicit=0.1),
            decision(3, NOW - 2 * hour, "review", ms=30.0, sexual_explicit=0.6),
            decision(4, NOW - 2 * hour + timedelta(minutes=20), "block", ms=50.0, sexual_explicit=0.95),
            decision(5, NOW, "allow", kind="text", ms=4.0, spam=0.2),
            decision(6, NOW - timedelta(minutes=10), "review", kind="text", ms=None, spam=0.7),
        ])
        session.flush()
        session.add_all([
            ReviewItem(decision_id=f"{1:032x}", origin="review", status="decided",
                       created_at=NOW - 30 * hour, decided_at=NOW - 29 * hour, decided_by=reviewer),
            ReviewItem(decision_id=f"{3:032x}", origin="review", status="decided",
                       created_at=NOW - 2 * hour, decided_at=NOW - hour, decided_by=reviewer),
            ReviewItem(decision_id=f"{6:032x}", origin="review", status="open",
                       created_at=NOW - timedelta(minutes=10)),
            ReviewItem(decision_id=f"{4:032x}", origin="sample", status="claimed",
                       created_at=NOW - 2 * hour),
        ])
    return db


def test_hourly_figures_count_what_was_stored(filled: Database) -> None:
    with filled.session() as session:
        figures = stats.collect(session, "24h", {"sexual_explicit": 0.5, "spam": 0.5}, now=NOW)
    assert len(figures.buckets) == 24
    assert figures.buckets[-1] == datetime(2025, 3, 10, 12, tzinfo=UTC)
    assert figures.buckets[0] == datetime(2025, 3, 9, 13, tzinfo=UTC)
    two_ago = figures.buckets.index(datetime(2025, 3, 10, 10, tzinfo=UTC))
    assert figures.decisions["allow"][two_ago] == 1
    assert figures.decisions["review"][two_ago] == 1
    assert figures.decisions["block"][two_ago] == 1
    assert figures.decisions["allow"][-1] == 1 and figures.decisions["review"][-1] == 1
    assert sum(map(sum, figures.decisions.values())) == 5  # the 30-hour-old one is outside
    assert figures.categories["sexual_explicit"][two_ago] == 2  # 0.6 and 0.95 reach 0.5
    assert figures.categories["spam"][-1] == 1
    # queue: one item open since before the window's end … two waiting 2 h ago, one decided 1 h ago
    assert figures.queue_depth[two_ago] == 2
    assert figures.queue_depth[two_ago + 1] == 1
    assert figures.queue_depth[-1] == 2
    assert figures.queue_now == {"open": 1, "claimed": 1}
    assert figures.reviewed[two_ago + 1] == 1 and sum(figures.reviewed) == 1
    assert figures.reviewers == [{"username": "rita", "decided": 1}]
    assert figures.latency["image"]["avg"][two_ago] == 30.0
    assert figures.latency["image"]["max"][two_ago] == 50.0
    assert figures.latency["text"]["avg"][-1] == 4.0
    assert figures.latency["image"]["avg"][0] is None
    assert figures.latency_overall["image"] == {"p50": 30.0, "p95": 50.0, "count": 3}
    as_json = figures.as_dict()
    assert as_json["buckets"][-1] == "2025-03-10T12:00:00+00:00"


def test_daily_figures_and_a_range_without_decisions(filled: Database) -> None:
    with filled.session() as session:
        week = stats.collect(session, "7d", {"sexual_explicit": 0.5}, now=NOW)
    assert len(week.buckets) == 7 and week.buckets[-1] == datetime(2025, 3, 10, tzinfo=UTC)
    assert week.decisions["block"][-2:] == [1, 1]  # yesterday's and today's
    assert sum(week.reviewed) == 2
    with filled.session() as session:
        later = stats.collect(session, "30d", None, now=NOW + timedelta(days=400))
    assert sum(map(sum, later.decisions.values())) == 0 and later.categories == {}
    assert later.latency == {} and later.queue_depth[-1] == 2

"""The admin dashboard's figures, read from stored rows so they survive restarts.

Grouping is done in SQL (one small row per time bucket, however many decisions there are);
only the bucket expression differs between SQLite and PostgreSQL, and both render it as the
same text, so the rest is portable. Buckets are UTC hours or days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal_column, select
from sqlalchemy.orm import Session

from contentguard.store.tables import ReviewItem, StoredDecision, User

DECISIONS = ("allow", "review", "block")
RANGES: dict[str, tuple[timedelta, str]] = {  # name → (span, bucket unit)
    "24h": (timedelta(hours=24), "hour"),
    "7d": (timedelta(days=7), "day"),
    "30d": (timedelta(days=30), "day"),
}
_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
_TEXT_FORMAT = "%Y-%m-%d %H:00:00"
_FORMATS = {  # bucket unit → (SQLite strftime, PostgreSQL to_char), both giving _TEXT_FORMAT
    "hour": ("%Y-%m-%d %H:00:00", "YYYY-MM-DD HH24:00:00"),
    "day": ("%Y-%m-%d 00:00:00", "YYYY-MM-DD 00:00:00"),
}
LATENCY_SAMPLE = 20_000  # most recent durations the percentiles are computed from


@dataclass
class Stats:
    """Series share `buckets` (bucket start times); every list has one value per bucket."""

    since: datetime
    until: datetime
    unit: str
    buckets: list[datetime]
    decisions: dict[str, list[int]]  # allow / review / block
    categories: dict[str, list[int]]  # decisions with the category at or over its threshold
    queue_depth: list[int]  # open + claimed items at each bucket's end
    queue_now: dict[str, int]  # open, claimed
    reviewed: list[int]  # items decided by people
    reviewers: list[dict[str, Any]]  # {"username", "decided"} most first
    latency: dict[str, dict[str, list[float | None]]]  # kind → {"avg", "max"} ms
    latency_overall: dict[str, dict[str, float | None]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(), "until": self.until.isoformat(), "unit": self.unit,
            "buckets": [b.isoformat() for b in self.buckets],
            "decisions": self.decisions, "categories": self.categories,
            "queue": {"now": self.queue_now, "depth": self.queue_depth},
            "throughput": {"reviewed": self.reviewed, "reviewers": self.reviewers},
            "latency_ms": {"series": self.latency, "overall": self.latency_overall},
        }


def floor(at: datetime, unit: str) -> datetime:
    at = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0) if unit == "day" else at


def _bucket(session: Session, column: Any, unit: str) -> ColumnElement[str]:
    sqlite_format, pg_format = _FORMATS[unit]
    dialect = session.get_bind().dialect.name
    # constants written into the SQL: PostgreSQL matches GROUP BY to SELECT by text, and two
    # bound parameters never match
    if dialect == "sqlite":
        return func.strftime(literal_column(f"'{sqlite_format}'"), column)
    if dialect == "postgresql":
        return func.to_char(func.timezone(literal_column("'UTC'"), column),
                            literal_column(f"'{pg_format}'"))
    raise NotImplementedError(f"dashboard figures are not written for {dialect}")


def _parse(text: str) -> datetime:
    return datetime.strptime(text, _TEXT_FORMAT).replace(tzinfo=UTC)


def collect(
    session: Session,
    range_name: str = "24h",
    thresholds: Mapping[str, float] | None = None,
    now: datetime | None = None,
) -> Stats:
    """The figures of the last `range_name` (24h, 7d, 30d) up to `now`. `thresholds`
    (category → score) say when a decision counts for a category: the active policy's lowest
    action threshold per category."""
    span, unit = RANGES[range_name]
    until = (now or datetime.now(UTC)).astimezone(UTC)
    first = floor(until - span, unit) + _STEP[unit]
    buckets = []
    at = first
    while at <= until:
        buckets.append(at)
        at += _STEP[unit]
    index = {b: n for n, b in enumerate(buckets)}
    since = buckets[0]

    def zeros() -> list[int]:
        return [0] * len(buckets)

    # decisions per outcome, and per category over its threshold
    d_bucket = _bucket(session, StoredDecision.created_at, unit).label("b")
    in_window = (StoredDecision.created_at >= since, StoredDecision.created_at <= until)
    decisions = {name: zeros() for name in DECISIONS}
    for b, decision, count in session.execute(
        select(d_bucket, StoredDecision.decision, func.count())
        .where(*in_window).group_by(d_bucket, StoredDecision.decision)
    ):
        if decision in decisions and _parse(b) in index:
            decisions[decision][index[_parse(b)]] += count

    categories = {name: zeros() for name in thresholds or {}}
    if thresholds:
        sums = [
            func.sum(case((StoredDecision.categories[name].as_float() >= limit, 1), else_=0))
            for name, limit in thresholds.items()
        ]
        for b, *counts in session.execute(
            select(d_bucket, *sums).where(*in_window).group_by(d_bucket)
        ):
            if _parse(b) in index:
                for name, count in zip(thresholds, counts, strict=True):
                    categories[name][index[_parse(b)]] += int(count or 0)

    # model latency per kind
    latency: dict[str, dict[str, list[float | None]]] = {}
    for b, kind, avg, peak in session.execute(
        select(d_bucket, StoredDecision.kind, func.avg(StoredDecision.duration_ms),
               func.max(StoredDecision.duration_ms))
        .where(*in_window, StoredDecision.duration_ms.is_not(None))
        .group_by(d_bucket, StoredDecision.kind)
    ):
        if _parse(b) not in index:
            continue
        series = latency.setdefault(kind, {"avg": [None] * len(buckets), "max": [None] * len(buckets)})
        series["avg"][index[_parse(b)]] = round(float(avg), 2)
        series["max"][index[_parse(b)]] = round(float(peak), 2)
    overall = {kind: _percentiles(session, kind, since, until) for kind in sorted(latency)}

    # the review queue: depth at each bucket's end = created before it − decided before it
    depth, queue_now = _queue(session, buckets, unit, until)

    # reviewer throughput
    r_bucket = _bucket(session, ReviewItem.decided_at, unit).label("b")
    decided_window = (ReviewItem.decided_at >= since, ReviewItem.decided_at <= until)
    reviewed = zeros()
    for b, count in session.execute(
        select(r_bucket, func.count()).where(*decided_window).group_by(r_bucket)
    ):
        if _parse(b) in index:
            reviewed[index[_parse(b)]] += count
    reviewers = [
        {"username": name or "(deleted user)", "decided": count}
        for name, count in session.execute(
            select(User.username, func.count(ReviewItem.id))
            .select_from(ReviewItem).outerjoin(User, User.id == ReviewItem.decided_by)
            .where(*decided_window).group_by(User.username)
            .order_by(func.count(ReviewItem.id).desc())
        )
    ]
    return Stats(since=since, until=until, unit=unit, buckets=buckets, decisions=decisions,
                 categories=categories, queue_depth=depth, queue_now=queue_now,
                 reviewed=reviewed, reviewers=reviewers, latency=latency,
                 latency_overall=overall)


def _queue(session: Session, buckets: list[datetime], unit: str,
           until: datetime) -> tuple[list[int], dict[str, int]]:
    since = buckets[0]
    index = {b: n for n, b in enumerate(buckets)}
    created_before = session.scalar(
        select(func.count()).select_from(ReviewItem).where(ReviewItem.created_at < since)) or 0
    decided_before = session.scalar(
        select(func.count()).select_from(ReviewItem).where(ReviewItem.decided_at < since)) or 0
    change = [0] * len(buckets)
    for column, sign in ((ReviewItem.created_at, 1), (ReviewItem.decided_at, -1)):
        b = _bucket(session, column, unit).label("b")
        for text, count in session.execute(
            select(b, func.count()).where(column >= since, column <= until).group_by(b)
        ):
            if _parse(text) in index:
                change[index[_parse(text)]] += sign * count
    depth, level = [], created_before - decided_before
    for delta in change:
        level += delta
        depth.append(max(level, 0))
    now = dict.fromkeys(("open", "claimed"), 0)
    for status, count in session.execute(
        select(ReviewItem.status, func.count()).where(ReviewItem.status.in_(tuple(now)))
        .group_by(ReviewItem.status)
    ):
        now[status] = count
    return depth, now


def _percentiles(session: Session, kind: str, since: datetime,
                 until: datetime) -> dict[str, float | None]:
    """p50 / p95 of the most recent durations (no portable percentile function in SQL)."""
    values = sorted(session.scalars(
        select(StoredDecision.duration_ms)
        .where(StoredDecision.kind == kind, StoredDecision.duration_ms.is_not(None),
               StoredDecision.created_at >= since, StoredDecision.created_at <= until)
        .order_by(StoredDecision.created_at.desc()).limit(LATENCY_SAMPLE)
    ))
    if not values:
        return {"p50": None, "p95": None, "count": 0}

    def at(q: float) -> float:
        return round(values[min(len(values) - 1, int(q * len(values)))], 2)

    return {"p50": at(0.5), "p95": at(0.95), "count": len(values)}

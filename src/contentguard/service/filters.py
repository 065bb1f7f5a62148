"""What a caller may give as a text filter or a date bound of a query (the audit log's, from
the API, the admin pages or a command): one definition, so no value reaches the database that
it cannot hold. Dates are those Python and both databases hold (years 1 to 9999); a valid
bound past what can be stored is clamped instead of overflowing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from contentguard.errors import InvalidRequest


def text_filter(value: str | None, name: str) -> str | None:
    """A text to match stored values against (None when empty). One with a NUL is refused
    (422): no stored text has one, and PostgreSQL cannot even compare it."""
    if value and "\x00" in value:
        raise InvalidRequest(f"{name}: a NUL character (\\u0000) is not allowed")
    return value or None


_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def parse_when(value: str | None, name: str, end: bool = False) -> datetime | None:
    """An ISO date or date-time as an aware UTC datetime (UTC when no zone is given); None
    when empty. A bare date as an `end` bound includes that whole day. A date that does not
    exist, or a year past 9999, is InvalidRequest (422); a valid time whose UTC equivalent
    falls outside years 1..9999 (0001-01-01T00:00+01:00, the end of 9999-12-31) is clamped to
    the first or last representable instant, which selects the same rows."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        if len(value) == 10:
            at = datetime.combine(date.fromisoformat(value), time(), UTC)
            return _plus_day(at) if end else at
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"{name}: {value[:40]!r} is not a date (YYYY-MM-DD) or an ISO date-time "
                             "with a year from 1 to 9999") from None
    if at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    try:
        return at.astimezone(UTC)
    except OverflowError:  # the zone's offset takes it past year 1 or 9999
        return _EARLIEST if at.year == 1 else _LATEST


def _plus_day(at: datetime) -> datetime:
    try:
        return at + timedelta(days=1)
    except OverflowError:  # the end of 9999-12-31
        return _LATEST

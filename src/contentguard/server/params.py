"""What a request may name as an id, an offset, a date or a text filter: one definition for
the API routes and the admin pages, so no value reaches the database that it cannot hold.

Row ids are `Integer` columns: int4 on PostgreSQL (a larger number is a DataError there), and
SQLite cannot even bind a Python int past 2^63 (OverflowError). An id outside 1..2^31-1 names
no row, so validation refuses it (422 `invalid_request`, the bounds in the OpenAPI document)
before any query is built. Dates are those Python and both databases hold (years 1 to 9999);
a valid bound past what can be stored is clamped instead of overflowing.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from pydantic import Field

from contentguard.errors import InvalidRequest

ROW_ID_MAX = 2**31 - 1  # the largest PostgreSQL `integer`
OFFSET_MAX = 1_000_000

RowId = Annotated[int, Field(ge=1, le=ROW_ID_MAX)]
"""A database row id, as a path or query parameter or a body field: 1 to 2^31-1."""

Offset = Annotated[int, Field(ge=0, le=OFFSET_MAX)]
"""How many rows a page skips."""


def row_id_of(value: str, name: str) -> int:
    """`value` as a row id, for the pages, which show a refused one in their own HTML rather
    than as the JSON a validation error gets; InvalidRequest (422) when it is not a whole
    number from 1 to 2^31-1 (ASCII digits only: `int()` also takes "١٢" and "1_0")."""
    value = value.strip()
    number = int(value) if value.isascii() and value.isdecimal() and len(value) <= 10 else 0
    if not 1 <= number <= ROW_ID_MAX:
        raise InvalidRequest(f"{name}: {value[:40]!r} is not an id (a whole number from 1 to {ROW_ID_MAX})")
    return number


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

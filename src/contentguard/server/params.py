"""What a request may name as an id or an offset: one definition for the API routes and the
admin pages, so no value reaches the database that it cannot hold (dates and text filters:
service/filters.py).

Row ids are `Integer` columns: int4 on PostgreSQL (a larger number is a DataError there), and
SQLite cannot even bind a Python int past 2^63 (OverflowError). An id outside 1..2^31-1 names
no row, so validation refuses it (422 `invalid_request`, the bounds in the OpenAPI document)
before any query is built.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from contentguard.errors import InvalidRequest
from contentguard.store.tables import ROW_ID_MAX

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

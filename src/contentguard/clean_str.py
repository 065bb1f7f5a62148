"""`CleanStr`: a string we can store and send back, for every field a client gives us.

JSON can spell what no database or UTF-8 encoder takes: a lone surrogate (`"\\ud800"`, half of
a UTF-16 pair) cannot be encoded as UTF-8, and PostgreSQL text columns cannot hold NUL
(`"\\u0000"`). Such a string is refused with the field's name and the character's position,
never silently changed: what the client sent is what gets moderated and stored.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, GetJsonSchemaHandler
from pydantic_core import CoreSchema, PydanticCustomError

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def problem(value: str) -> str | None:
    """Why `value` cannot be stored (the first bad character and its position), or None."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    char, at = found.group(), found.start()
    if char == "\x00":
        return f"contains a NUL character (U+0000) at position {at}; NUL cannot be stored, remove it"
    return (f"contains a lone surrogate (U+{ord(char):04X}) at position {at}; "
            "send valid UTF-16 surrogate pairs (or UTF-8)")


def _clean(value: object) -> object:
    why = problem(value) if isinstance(value, str) else None
    if why is not None:
        raise PydanticCustomError("unstorable_string", "{why}", {"why": why})
    return value


class _SaysNoNul:
    """The OpenAPI document says it too: a `pattern` without NUL (unless the field has a
    stricter pattern of its own). Lone surrogates have no portable JSON Schema spelling."""

    def __get_pydantic_json_schema__(self, core: CoreSchema, handler: GetJsonSchemaHandler) -> Any:
        schema = handler(core)
        schema.setdefault("pattern", NO_NUL_PATTERN)
        return schema


NO_NUL_PATTERN = "^[^\u0000]*$"
# before the str validation: a constrained str (max_length…) refuses a surrogate itself, vaguely
CleanStr = Annotated[str, BeforeValidator(_clean), _SaysNoNul()]
"""A `str` field that refuses lone surrogates and NUL (a 422 / 400 naming the field)."""

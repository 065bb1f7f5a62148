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
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

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


class _NoNulInSchema:
    """The OpenAPI document says it too (a `pattern`, unless the field has its own): JSON
    Schema strings are Unicode text, which has no lone surrogates."""

    @staticmethod
    def __get_pydantic_json_schema__(schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        out: dict[str, Any] = handler(schema)
        out.setdefault("pattern", "^[^\\u0000]*$")
        return out


# checked before the str validation: a constrained str (max_length…) refuses a surrogate
# itself, with a vaguer message
CleanStr = Annotated[str, BeforeValidator(_clean), _NoNulInSchema]
"""A `str` field that refuses lone surrogates and NUL (a 422 / 400 naming the field)."""

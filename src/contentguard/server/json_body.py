"""One safe decoding of JSON request bodies, for every route that takes JSON.

Python's `json` recurses once per level of nesting (about 1,000 levels raise RecursionError)
and converts digits to an int in time quadratic in their number (past 4,300 digits it raises
ValueError). Here the nesting depth is measured first, without recursion and in linear time,
and number literals longer than a limit are refused before conversion, so a hostile body is a
400 `bad_request` that says what is wrong, never a 500.

`inputs` decodes its JSON with it, and so does FastAPI's body parsing for Pydantic body models
(through `safe_request.SafeRoute`, the route class of every router).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from itertools import accumulate
from typing import Any

from contentguard.clean_str import problem
from contentguard.errors import BadRequest
from contentguard.settings import Settings

# A string literal up to its closing quote (or the end of the text, when unterminated): the
# possessive quantifiers keep this linear on any input.
_STRING = re.compile(r'"(?:[^"\\]++|\\.?)*+"?', re.DOTALL)
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _STEP)


def nests_deeper(text: str, limit: int) -> bool:
    """Whether arrays and objects in `text` nest deeper than `limit` (brackets inside strings
    do not count). Linear, in C iterators, and stops at the first bracket past the limit."""
    brackets = _STRING.sub("", text).encode("utf-8", "surrogatepass").translate(None, _NOT_BRACKETS)
    return any(map(limit.__lt__, accumulate(map(_STEP.__getitem__, brackets))))


class _Refused(Exception):
    """Raised from inside the parser's hooks; becomes the BadRequest `decode` raises."""


def _numbers(max_chars: int) -> tuple[Callable[[str], int], Callable[[str], float]]:
    def check(literal: str) -> str:
        if len(literal) > max_chars:
            raise _Refused(f"the JSON body has a number of {len(literal):,} characters; numbers may "
                           f"have at most {max_chars} (`max_json_number_chars`)")
        return literal

    return (lambda literal: int(check(literal))), (lambda literal: float(check(literal)))


def _constant(name: str) -> Any:
    raise _Refused(f"the body is not valid JSON: {name} is not a JSON value")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object, once its keys are clean (values are the models' CleanStr fields' to check,
    where the message can name the field)."""
    for key, _ in pairs:
        why = problem(key)
        if why is not None:
            raise _Refused(f"the JSON body's object key {json.dumps(key[:40])} {why}")
    return dict(pairs)


def decode(body: bytes, *, max_depth: int, max_number_chars: int) -> Any:
    """The JSON value of `body`, or BadRequest saying why there is none: not UTF-8 (or the
    UTF-16/32 JSON allows), not JSON, nested deeper than `max_depth`, a number literal longer
    than `max_number_chars`, NaN/Infinity, or an object key with a lone surrogate or NUL."""
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: byte {exc.start} is not {exc.encoding}") from None
    # fewer brackets than the limit cannot nest past it: most bodies (a batch of base64 images
    # too) skip the scan
    if text.count("[") + text.count("{") > max_depth and nests_deeper(text, max_depth):
        raise BadRequest(f"the JSON body nests deeper than {max_depth} levels of arrays and objects, "
                         "the limit (`max_json_depth`)")
    parse_int, parse_float = _numbers(max_number_chars)
    try:
        return json.loads(text, parse_int=parse_int, parse_float=parse_float, parse_constant=_constant,
                          object_pairs_hook=_object)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    except _Refused as exc:
        raise BadRequest(str(exc)) from None
    except (RecursionError, ValueError) as exc:  # not expected past the checks above; never a 500
        raise BadRequest(f"the JSON body cannot be decoded: {exc.__class__.__name__}") from None


def decode_for(body: bytes, settings: Settings) -> Any:
    """`decode` with the limits of `settings`."""
    return decode(body, max_depth=settings.max_json_depth, max_number_chars=settings.max_json_number_chars)

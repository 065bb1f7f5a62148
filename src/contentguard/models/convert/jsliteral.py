"""Read the object and string literals that nsfwjs bundles its models in (minified JS).

The bundles are browserify wrappers around `a.exports={...}` or `a.exports="base64"`. The
literal uses JS shorthand (`!0`/`!1`, unquoted keys, `.5`), so it is not JSON; this parser
accepts exactly the literal subset those bundles use and refuses anything else — it never
evaluates code.
"""

from __future__ import annotations

import re
from typing import Any

# `x.exports=` followed by a literal (the UMD header's `module.exports=e()` is skipped)
_EXPORTS = re.compile(r"\.exports\s*=\s*(?=[{\[\"'])")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n",
            "r": "\r", "t": "\t", "v": "\v", "0": "\0"}


class JsLiteralError(ValueError):
    """The bundle does not contain the literal we expect."""


def exported_literal(source: str) -> Any:
    """The value assigned to `module.exports` in a browserify bundle."""
    match = _EXPORTS.search(source)
    if match is None:
        raise JsLiteralError("no `exports=` assignment found in the bundle")
    value, _ = _Parser(source, match.end()).parse_value()
    return value


class _Parser:
    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos

    def _skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def _fail(self, what: str) -> JsLiteralError:
        snippet = self.text[self.pos : self.pos + 40]
        return JsLiteralError(f"{what} at offset {self.pos}: {snippet!r}")

    def parse_value(self) -> tuple[Any, int]:
        self._skip_ws()
        text, pos = self.text, self.pos
        if pos >= len(text):
            raise self._fail("unexpected end of input")
        ch = text[pos]
        if ch == "{":
            return self._object(), self.pos
        if ch == "[":
            return self._array(), self.pos
        if ch in "\"'":
            return self._string(), self.pos
        if text.startswith("!0", pos):
            self.pos += 2
            return True, self.pos
        if text.startswith("!1", pos):
            self.pos += 2
            return False, self.pos
        for word, value in (("true", True), ("false", False), ("null", None)):
            if text.startswith(word, pos) and not _IDENT.match(text, pos + len(word)):
                self.pos += len(word)
                return value, self.pos
        if text.startswith("void 0", pos):
            self.pos += 6
            return None, self.pos
        match = _NUMBER.match(text, pos)
        if match:
            self.pos = match.end()
            token = match.group()
            is_int = not any(c in token for c in ".eE")
            return (int(token) if is_int else float(token)), self.pos
        raise self._fail("unsupported token")

    def _object(self) -> dict[str, Any]:
        self.pos += 1
        out: dict[str, Any] = {}
        while True:
            self._skip_ws()
            if self.text[self.pos] == "}":
                self.pos += 1
                return out
            key = self._key()
            self._skip_ws()
            if self.text[self.pos] != ":":
                raise self._fail("expected ':'")
            self.pos += 1
            out[key], _ = self.parse_value()
            self._skip_ws()
            if self.text[self.pos] == ",":
                self.pos += 1
            elif self.text[self.pos] != "}":
                raise self._fail("expected ',' or '}'")

    def _key(self) -> str:
        ch = self.text[self.pos]
        if ch in "\"'":
            return self._string()
        match = _IDENT.match(self.text, self.pos) or _NUMBER.match(self.text, self.pos)
        if not match:
            raise self._fail("expected a key")
        self.pos = match.end()
        return match.group()

    def _array(self) -> list[Any]:
        self.pos += 1
        out: list[Any] = []
        while True:
            self._skip_ws()
            if self.text[self.pos] == "]":
                self.pos += 1
                return out
            value, _ = self.parse_value()
            out.append(value)
            self._skip_ws()
            if self.text[self.pos] == ",":
                self.pos += 1
            elif self.text[self.pos] != "]":
                raise self._fail("expected ',' or ']'")

    def _string(self) -> str:
        quote = self.text[self.pos]
        start = self.pos + 1
        end = self.text.find(quote, start)
        # fast path: no escapes (the multi-megabyte base64 shards)
        if end != -1 and "\\" not in self.text[start:end]:
            self.pos = end + 1
            return self.text[start:end]
        parts: list[str] = []
        i = start
        while i < len(self.text):
            ch = self.text[i]
            if ch == quote:
                self.pos = i + 1
                return "".join(parts)
            if ch == "\\":
                nxt = self.text[i + 1]
                if nxt == "u":
                    parts.append(chr(int(self.text[i + 2 : i + 6], 16)))
                    i += 6
                    continue
                if nxt == "x":
                    parts.append(chr(int(self.text[i + 2 : i + 4], 16)))
                    i += 4
                    continue
                parts.append(_ESCAPES.get(nxt, nxt))
                i += 2
                continue
            parts.append(ch)
            i += 1
        raise self._fail("unterminated string")

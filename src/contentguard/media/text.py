"""Undo the usual tricks for slipping a word past a text filter, before any text detector scores it.

`normalize(text)` returns the normalised, case-folded text plus, for each of its characters, the span
of the original text it came from, so a detector that flags a span of the normalised text can point
at the original. Normalisation never decides anything; it only makes "ѕh1t", "s h i t" and "ＳＨＩＴ"
look like "shit" to the scorer. The steps, their order and their limits: docs/text-normalisation.md.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate, groupby

__all__ = ["Normalized", "normalize", "normalize_many"]


@dataclass(frozen=True, slots=True)
class Normalized:
    """A normalised text; character `i` of `text` came from `original[starts[i]:ends[i]]`.

    Both `starts` and `ends` never decrease, so a span of `text` maps to one span of `original`.
    `elongated` lists the positions in `text` of the second letter of each run that was cut from
    3+ letters to 2 ("shiiiit" -> "shiit"); `squeezed()` cuts those runs to one letter.
    """

    original: str
    text: str
    starts: Sequence[int]  # a tuple, or a range when nothing moved
    ends: Sequence[int]
    elongated: tuple[int, ...] = ()

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of `original` that produced `text[start:end]` (an empty span maps to a point)."""
        if not 0 <= start <= end <= len(self.text):
            raise ValueError(f"span [{start}, {end}) is not within the normalised text of {len(self.text)}")
        if start < end:
            return self.starts[start], self.ends[end - 1]
        point = self.starts[start] if start < len(self.text) else (self.ends[-1] if self.text else 0)
        return point, point

    def original_text(self, start: int, end: int) -> str:
        """The original characters behind `text[start:end]`, for explanations."""
        lo, hi = self.original_span(start, end)
        return self.original[lo:hi]

    def squeezed(self) -> Normalized:
        """The same text with elongated runs cut to one letter ("shiit" -> "shit", "good" stays).

        Cutting to two keeps real double letters ("good", "too", "ass"); cutting to one recovers the
        word when the double was not real. A scorer should score both forms and keep the higher score.
        """
        if not self.elongated:
            return self
        ends = list(self.ends)
        for k in self.elongated:
            ends[k - 1] = ends[k]  # the surviving letter now covers the whole run
        drop = set(self.elongated)
        keep = [i for i in range(len(self.text)) if i not in drop]
        return Normalized(
            self.original,
            "".join(self.text[i] for i in keep),
            tuple(self.starts[i] for i in keep),
            tuple(ends[i] for i in keep),
        )

    def masked_words(self) -> list[tuple[int, int]]:
        """Spans of `text` holding words masked with `*` ("f*ck", "sh**"), left as they are for the scorer."""
        return [m.span() for m in _MASKED.finditer(self.text)]


def normalize(text: str) -> Normalized:
    """Normalise one text: see the module docstring and docs/text-normalisation.md."""
    n = len(text)
    if text.isascii():
        plain = text.isprintable() or not _ASCII_INVISIBLE.search(text)
    else:
        plain = not _ASCII_INVISIBLE.search(text) and all(map(_inert, _NON_ASCII.findall(text)))
    if plain:  # steps 1 to 4 would only case-fold it: skip them (a test checks this against them)
        draft = _Draft(text, text.lower() if text.isascii() else text.casefold(), range(n), range(1, n + 1))
        for step in _WORD_STEPS:
            draft = step(draft)
    else:
        draft = _normalized_draft(text)
    elongated = tuple(draft.elongated) if draft.elongated else ()
    return Normalized(text, draft.text, _frozen(draft.starts), _frozen(draft.ends), elongated)


def _normalized_draft(text: str) -> _Draft:
    """Every step in turn, with no shortcut."""
    draft = _Draft(text, text, range(len(text)), range(1, len(text) + 1))
    for step in STEPS:
        draft = step(draft)
    return draft


@lru_cache(maxsize=8192)
def _inert(c: str) -> bool:
    """Whether steps 1 to 4 leave the non-ASCII character `c` alone wherever it stands: punctuation,
    symbols (emoji, quotes) and private-use characters with no decomposition, no case and no script,
    that are not invisible (and, as neither marks nor Hangul jamo, compose with nothing under NFKC)."""
    category = unicodedata.category(c)
    return (
        (category[0] in "PS" or category == "Co")
        and not unicodedata.decomposition(c)
        and not unicodedata.combining(c)
        and c.casefold() == c == c.lower()
        and not c.isalnum()
        and not _INVISIBLE.match(c)
        and not _HAS_FOREIGN.match(c)
        and _strip_kind(c) is None
    )


def _frozen(offsets: Sequence[int]) -> Sequence[int]:
    return offsets if isinstance(offsets, range) else tuple(offsets)


def normalize_many(texts: Iterable[str]) -> list[Normalized]:
    """Normalise each text (the steps are per text; this is for symmetry with batch scorers)."""
    return [normalize(t) for t in texts]


# --------------------------------------------------------------------------------------------------
# The working state and how steps rebuild it


@dataclass(slots=True)
class _Draft:
    """The text between steps; character i came from source[starts[i]:ends[i]] (ranges until a step
    changes the length: most texts never need an offset list)."""

    source: str
    text: str
    starts: Sequence[int]
    ends: Sequence[int]
    elongated: list[int] = field(default_factory=list)

    def with_text(self, text: str) -> _Draft:
        """A one-for-one rewrite (same length, character i still from the same place)."""
        return _Draft(self.source, text, self.starts, self.ends, self.elongated)


class _Builder:
    """Assembles a step's output from kept and replaced pieces, carrying the offsets along."""

    __slots__ = ("parts", "starts", "ends")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []

    def keep(self, d: _Draft, i: int, j: int) -> None:
        """Copy d.text[i:j] unchanged."""
        if i < j:
            self.parts.append(d.text[i:j])
            self.starts += d.starts[i:j]
            self.ends += d.ends[i:j]

    def put(self, s: str, start: int, end: int) -> None:
        """Append `s`, every character of it produced by source[start:end]."""
        self.parts.append(s)
        self.starts += [start] * len(s)
        self.ends += [end] * len(s)

    def casefold(self, d: _Draft, i: int, j: int) -> None:
        """Copy d.text[i:j] case-folded (per character only where folding lengthens it: "ß" -> "ss")."""
        chunk = d.text[i:j]
        folded = chunk.casefold()
        if len(folded) == len(chunk):  # casefold never shrinks a character, so this is one-for-one
            self.parts.append(folded)
            self.starts += d.starts[i:j]
            self.ends += d.ends[i:j]
        else:
            for k in range(i, j):
                self.put(d.text[k].casefold(), d.starts[k], d.ends[k])

    def build(self, d: _Draft) -> _Draft:
        return _Draft(d.source, "".join(self.parts), self.starts, self.ends)

    @property
    def length(self) -> int:
        return len(self.starts)


# --------------------------------------------------------------------------------------------------
# Step 1: NFKC, one grapheme-ish cluster at a time so each output character knows its source


_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


def _joins_previous(c: str) -> bool:
    """Combining marks and Hangul vowel/final jamo compose with what precedes them under NFKC."""
    return (
        unicodedata.category(c)[0] == "M"
        or "\u1160" <= c <= "\u11ff"
        or "\u314f" <= c <= "\u3163"
        or "\uffc2" <= c <= "\uffdc"
    )


def _clusters(text: str) -> Iterable[tuple[int, int]]:
    start = 0
    for k in range(1, len(text)):
        if text[k].isascii() or not _joins_previous(text[k]):
            yield start, k
            start = k
    if text:
        yield start, len(text)


def _compatibility(d: _Draft) -> _Draft:
    """NFKC: fullwidth, mathematical, circled and superscript letters, ligatures, odd spaces.

    Only runs of non-ASCII characters (with the character before, which a mark may compose with) can
    change; those that do are normalised a cluster at a time.
    """
    text = d.text
    if text.isascii() or unicodedata.is_normalized("NFKC", text):
        return d
    b, pos = _Builder(), 0
    for m in _NON_ASCII_RUN.finditer(text):
        i, j = max(m.start() - 1, pos), m.end()
        if unicodedata.is_normalized("NFKC", text[i:j]):
            continue
        b.keep(d, pos, i)
        for ci, cj in _clusters(text[i:j]):
            b.put(_nfkc(text[i + ci : i + cj]), d.starts[i + ci], d.ends[i + cj - 1])
        pos = j
    b.keep(d, pos, len(text))
    return b.build(d)


_LONG_CLUSTER = 32  # a letter with more marks than this is put in canonical order by `_nfkc` itself


def _nfkc(cluster: str) -> str:
    """NFKC of one cluster, in time linear in its length.

    CPython puts the combining marks of a cluster in canonical order by insertion sort, quadratic
    in a run of marks out of order ("a" and 20,000 stacked marks of mixed classes: seconds). So a
    long cluster is decomposed character by character here and each run of marks sorted (stably, by
    combining class, as Unicode's canonical ordering says): that is exactly its NFKD, on which NFKC
    has nothing left to reorder and only composes.
    """
    if len(cluster) <= _LONG_CLUSTER:
        return unicodedata.normalize("NFKC", cluster)
    decomposed = "".join([unicodedata.normalize("NFKD", c) for c in cluster])
    ordered: list[str] = []
    for _, run in groupby(decomposed, key=lambda c: unicodedata.combining(c) == 0):
        ordered += sorted(run, key=unicodedata.combining)  # a run of starters stays as it is
    return unicodedata.normalize("NFKC", "".join(ordered))


# --------------------------------------------------------------------------------------------------
# Step 2: invisible characters


# Every Cc (but \t \n \r) and Cf character, plus the other default-ignorable code points: the combining
# grapheme joiner, Hangul fillers, Khmer inherent vowels, Mongolian variation selectors and variation
# selectors. A test checks the Cf part against unicodedata.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
    "\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u2800\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
_INVISIBLE_RUN = re.compile(f"{_INVISIBLE.pattern}+")
_ASCII_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # _INVISIBLE within ASCII
_SPACE_LIKE = frozenset("\x0b\x0c\x1c\x1d\x1e\x1f\x85\u2800")  # whitespace controls, braille blank
_JOINERS = frozenset("\u200c\u200d")
_TAG_BASE = "\U0001f3f4"  # black flag: tag characters after it spell a subdivision flag
_KEYCAP = "\u20e3"


def _alphabetic(c: str) -> bool:
    """Latin, Greek, Cyrillic, Armenian and IPA, where an invisible character can only be a trick."""
    o = ord(c)
    return (
        o < 0x0590
        or 0x1C80 <= o < 0x1CC0
        or 0x1D00 <= o < 0x2000
        or 0x2C60 <= o < 0x2C80
        or 0x2DE0 <= o < 0x2E00
        or 0xA640 <= o < 0xA6A0
        or 0xA720 <= o < 0xA800
        or 0xAB30 <= o < 0xAB70
        or 0xFF00 <= o < 0xFFF0
    )


class _BaseBefore:
    """Whether the nearest visible character before a position, looking through marks to their
    base, is `_complex`: asked left to right, each answer picks up where the previous one stopped,
    so "a" followed by 20,000 marks and joiners is walked through once, not once per joiner."""

    __slots__ = ("text", "_from", "_base")

    def __init__(self, text: str) -> None:
        self.text = text
        self._from, self._base = 0, -1  # before _from, the nearest base is at _base (-1: none)

    def complex(self, k: int) -> bool:
        text, p = self.text, k - 1
        if k < self._from:
            self._from, self._base = 0, -1
        while p >= self._from and (_INVISIBLE.match(text, p) or _is_mark(text[p])):
            p -= 1
        if p < self._from:
            p = self._base
        self._from, self._base = k, p
        return _complex(text, p)


def _complex(text: str, k: int) -> bool:
    """Whether text[k] (none when k is out of range) is in a script or emoji where joiners and
    selectors are legitimate: not a letter of an alphabet, not a space."""
    return 0 <= k < len(text) and not _alphabetic(text[k]) and not text[k].isspace()


def _is_mark(c: str) -> bool:
    return not c.isascii() and unicodedata.category(c)[0] == "M"


def _is_selector(c: str) -> bool:
    return "\ufe00" <= c <= "\ufe0f" or "\U000e0100" <= c <= "\U000e01ef"


def _is_tag(c: str) -> bool:
    return "\U000e0020" <= c <= "\U000e007f"


def _drop_invisible(d: _Draft) -> _Draft:
    """Remove zero-width, bidi, soft-hyphen and other invisible characters; odd whitespace becomes a space.

    ZWJ/ZWNJ between emoji or within Arabic/Indic text, variation selectors after emoji or CJK, and
    emoji flag tags are meaningful and stay; next to letters of an alphabet they only split a word.
    A run of invisible characters is read at once: what lies on either side is the same for all.
    """
    text = d.text
    if not _INVISIBLE.search(text):
        return d
    b, pos, before = _Builder(), 0, _BaseBefore(text)  # text[pos:] is not yet in b
    for m in _INVISIBLE_RUN.finditer(text):
        s, e = m.span()
        left = right = None  # whether the visible characters around the run are `_complex`
        tags = s > 0 and text[s - 1] == _TAG_BASE  # the run holds only tags after a black flag so far
        for k in range(s, e):
            c = text[k]
            tags = tags and _is_tag(c)
            if c in _JOINERS or _is_selector(c):
                if left is None:
                    left, right = before.complex(s), _complex(text, e)
                if (left and right) if c in _JOINERS else (left or text[k + 1 : k + 2] == _KEYCAP):
                    continue
            elif tags:
                continue
            b.keep(d, pos, k)
            pos = k + 1
            if c in _SPACE_LIKE:
                b.put(" ", d.starts[k], d.ends[k])
    if pos == 0:
        return d
    b.keep(d, pos, len(text))
    return b.build(d)


# --------------------------------------------------------------------------------------------------
# Step 3: case folding and Cyrillic/Greek/Armenian look-alikes


def _lookalike_table() -> dict[str, str]:
    """Non-Latin letters that render like a Latin letter, by the Latin letter (both cases where the
    capital is the look-alike: Greek capital ETA is an H, small eta an n)."""
    by_latin = {
        "a": "\N{CYRILLIC SMALL LETTER A}\N{CYRILLIC CAPITAL LETTER A}\N{GREEK SMALL LETTER ALPHA}"
        "\N{GREEK CAPITAL LETTER ALPHA}",
        "b": "\N{CYRILLIC SMALL LETTER VE}\N{CYRILLIC CAPITAL LETTER VE}\N{CYRILLIC SMALL LETTER SOFT SIGN}"
        "\N{GREEK SMALL LETTER BETA}\N{GREEK CAPITAL LETTER BETA}",
        "c": "\N{CYRILLIC SMALL LETTER ES}\N{CYRILLIC CAPITAL LETTER ES}\N{GREEK LUNATE SIGMA SYMBOL}"
        "\N{GREEK CAPITAL LUNATE SIGMA SYMBOL}\N{GREEK SMALL LETTER FINAL SIGMA}",
        "d": "\N{CYRILLIC SMALL LETTER KOMI DE}\N{CYRILLIC CAPITAL LETTER KOMI DE}",
        "e": "\N{CYRILLIC SMALL LETTER IE}\N{CYRILLIC CAPITAL LETTER IE}\N{GREEK SMALL LETTER EPSILON}"
        "\N{GREEK CAPITAL LETTER EPSILON}",
        "g": "\N{ARMENIAN SMALL LETTER CO}",
        "h": "\N{CYRILLIC SMALL LETTER SHHA}\N{CYRILLIC CAPITAL LETTER SHHA}\N{CYRILLIC SMALL LETTER EN}"
        "\N{CYRILLIC CAPITAL LETTER EN}\N{GREEK CAPITAL LETTER ETA}\N{ARMENIAN SMALL LETTER HO}",
        "i": "\N{CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I}"
        "\N{CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I}\N{GREEK SMALL LETTER IOTA}"
        "\N{GREEK CAPITAL LETTER IOTA}",
        "j": "\N{CYRILLIC SMALL LETTER JE}\N{CYRILLIC CAPITAL LETTER JE}\N{GREEK LETTER YOT}",
        "k": "\N{CYRILLIC SMALL LETTER KA}\N{CYRILLIC CAPITAL LETTER KA}\N{GREEK SMALL LETTER KAPPA}"
        "\N{GREEK CAPITAL LETTER KAPPA}",
        "l": "\N{CYRILLIC SMALL LETTER PALOCHKA}\N{CYRILLIC LETTER PALOCHKA}",
        "m": "\N{CYRILLIC SMALL LETTER EM}\N{CYRILLIC CAPITAL LETTER EM}\N{GREEK CAPITAL LETTER MU}",
        "n": "\N{CYRILLIC SMALL LETTER PE}\N{GREEK SMALL LETTER ETA}\N{GREEK CAPITAL LETTER NU}"
        "\N{ARMENIAN SMALL LETTER VO}",
        "o": "\N{CYRILLIC SMALL LETTER O}\N{CYRILLIC CAPITAL LETTER O}\N{GREEK SMALL LETTER OMICRON}"
        "\N{GREEK CAPITAL LETTER OMICRON}\N{ARMENIAN SMALL LETTER OH}\N{ARMENIAN CAPITAL LETTER OH}",
        "p": "\N{CYRILLIC SMALL LETTER ER}\N{CYRILLIC CAPITAL LETTER ER}\N{GREEK SMALL LETTER RHO}"
        "\N{GREEK CAPITAL LETTER RHO}",
        "q": "\N{CYRILLIC SMALL LETTER QA}\N{CYRILLIC CAPITAL LETTER QA}\N{ARMENIAN SMALL LETTER ZA}",
        "r": "\N{CYRILLIC SMALL LETTER GHE}",
        "s": "\N{CYRILLIC SMALL LETTER DZE}\N{CYRILLIC CAPITAL LETTER DZE}",
        "t": "\N{CYRILLIC SMALL LETTER TE}\N{CYRILLIC CAPITAL LETTER TE}\N{GREEK SMALL LETTER TAU}"
        "\N{GREEK CAPITAL LETTER TAU}",
        "u": "\N{GREEK SMALL LETTER UPSILON}\N{GREEK SMALL LETTER MU}\N{ARMENIAN SMALL LETTER SEH}"
        "\N{ARMENIAN CAPITAL LETTER SEH}",
        "v": "\N{GREEK SMALL LETTER NU}",
        "w": "\N{CYRILLIC SMALL LETTER WE}\N{CYRILLIC CAPITAL LETTER WE}\N{GREEK SMALL LETTER OMEGA}",
        "x": "\N{CYRILLIC SMALL LETTER HA}\N{CYRILLIC CAPITAL LETTER HA}\N{GREEK SMALL LETTER CHI}"
        "\N{GREEK CAPITAL LETTER CHI}",
        "y": "\N{CYRILLIC SMALL LETTER U}\N{CYRILLIC CAPITAL LETTER U}\N{CYRILLIC SMALL LETTER STRAIGHT U}"
        "\N{CYRILLIC CAPITAL LETTER STRAIGHT U}\N{GREEK SMALL LETTER GAMMA}\N{GREEK CAPITAL LETTER UPSILON}",
        "z": "\N{GREEK CAPITAL LETTER ZETA}",
    }
    return {c: latin for latin, chars in by_latin.items() for c in chars}


LOOKALIKES = _lookalike_table()

_LATIN, _FOREIGN, _OTHER = 1, 2, 3
_FOREIGN_SCRIPTS = ("CYRILLIC", "GREEK", "ARMENIAN")
_LATIN_LETTER = re.compile("[A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]")
_HAS_FOREIGN = re.compile("[\u0370-\u058f\u1c80-\u1c8f\u1f00-\u1fff\u2de0-\u2dff\ua640-\ua69f]")


@lru_cache(maxsize=8192)
def _script(c: str) -> int | None:
    """_LATIN, _FOREIGN (a script with Latin look-alikes) or _OTHER for a letter; None otherwise."""
    if not c.isalpha():
        return None
    if c.isascii():
        return _LATIN
    name = unicodedata.name(c, "")
    if name.startswith("LATIN"):
        return _LATIN
    return _FOREIGN if name.startswith(_FOREIGN_SCRIPTS) else _OTHER


@lru_cache(maxsize=8192)
def _lookalike(c: str) -> str | None:
    """The Latin letter `c` renders like (accents kept for step 4 to strip), or None."""
    if c in LOOKALIKES:
        return LOOKALIKES[c]
    decomposed = unicodedata.normalize("NFD", c)
    if len(decomposed) > 1 and decomposed[0] in LOOKALIKES:
        return LOOKALIKES[decomposed[0]] + decomposed[1:]
    return None


def _lookalike_words(text: str) -> list[tuple[int, int]]:
    """Spans of the words to spell in Latin: every non-Latin letter in them must have a Latin
    look-alike, and the word must be at least half Latin already ("ѕhіt"), or be mixed ("іdіоt") in a
    text not mostly in the other script, or lie in a text mostly Latin ("you are a ѕех addict").
    So Russian or Greek text stays as it is, and so does an all-Cyrillic word on its own."""
    if not _HAS_FOREIGN.search(text):
        return []
    words = []  # (start, end, Latin letters, foreign letters) of the words that could be converted
    for i, j in _foreign_words(text):
        scripts = [(_script(c), c) for c in text[i:j]]
        foreign = sum(s == _FOREIGN for s, _ in scripts)
        if foreign and all(s == _LATIN or (s == _FOREIGN and _lookalike(c)) for s, c in scripts if s):
            words.append((i, j, sum(s == _LATIN for s, _ in scripts), foreign))
    if all(latin >= foreign for _, _, latin, foreign in words):
        return [(i, j) for i, j, _, _ in words]
    latin_total = len(_LATIN_LETTER.findall(text))
    foreign_total = sum(_script(c) == _FOREIGN for c in _HAS_FOREIGN.findall(text))
    # A converted word makes its neighbours' context more Latin (its letters move from the foreign
    # total to the Latin one), so the rule is applied until it settles. A word's rule holds from
    # some number of moved letters on (`_letters_to_move`) and keeps holding as more move, so one
    # pass over the words in that order settles it: re-reading every word after each change was
    # quadratic in the words.
    order = sorted((_letters_to_move(latin, foreign, latin_total, foreign_total), i, j, foreign)
                   for i, j, latin, foreign in words)
    chosen, moved = [], 0
    for need, i, j, foreign in order:
        if need > moved:
            break
        chosen.append((i, j))
        moved += foreign
    return sorted(chosen)


def _spell_latin(latin: int, foreign: int, latin_total: int, foreign_total: int) -> bool:
    """The rule for one word of `latin` and `foreign` letters in a text of those totals."""
    latin_elsewhere, foreign_elsewhere = latin_total - latin, foreign_total - foreign
    return (
        latin >= foreign
        or latin_elsewhere > foreign_elsewhere
        or (latin > 0 and latin_elsewhere >= foreign_elsewhere)
    )


def _letters_to_move(latin: int, foreign: int, latin_total: int, foreign_total: int) -> int:
    """The fewest letters other words must move from the foreign total to the Latin one for
    `_spell_latin` to hold for this word (moving m letters adds 2m to the Latin lead elsewhere)."""
    if latin >= foreign:
        return 0
    lead = (latin_total - latin) - (foreign_total - foreign)
    # it holds when lead + 2m > 0, or lead + 2m >= 0 for a word with a Latin letter
    return max(0, -(lead // 2) if latin > 0 else -((lead - 1) // 2))


def _foreign_words(text: str) -> Iterable[tuple[int, int]]:
    """Spans of the words (letters, digits and marks) holding a Greek, Cyrillic or Armenian character."""
    end = 0
    for m in _HAS_FOREIGN.finditer(text):
        if m.start() < end:
            continue
        start, end = m.start(), m.end()
        while start > 0 and _in_word(text[start - 1]):
            start -= 1
        while end < len(text) and _in_word(text[end]):
            end += 1
        yield start, end


def _in_word(c: str) -> bool:
    return c.isalnum() or _is_mark(c)


def _fold(d: _Draft) -> _Draft:
    """Case-fold, and spell mixed-script words in Latin. One pass: a look-alike depends on case."""
    if d.text.isascii():
        return d.with_text(d.text.lower())
    spans = _lookalike_words(d.text)
    if not spans:
        folded = d.text.casefold()
        if len(folded) == len(d.text):  # casefold never shrinks, so this means one-for-one
            return d.with_text(folded)
    b, pos = _Builder(), 0
    for i, j in spans:
        b.casefold(d, pos, i)
        for k in range(i, j):
            b.put(_lookalike(d.text[k]) or d.text[k].casefold(), d.starts[k], d.ends[k])
        pos = j
    b.casefold(d, pos, len(d.text))
    return b.build(d)


# --------------------------------------------------------------------------------------------------
# Step 4: accents and other marks on Latin letters; Latin letter variants


_VARIANT_NAME = re.compile(r"LATIN (?:SMALL |CAPITAL )?LETTER (?:SMALL CAPITAL |DOTLESS |SCRIPT )?([A-Z])\b")
_VARIANT_EXTRA = {"\N{LATIN SMALL LETTER ALPHA}": "a", "\N{LATIN SMALL LETTER IOTA}": "i"}
_MARK, _PLAIN = 1, 2
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


@lru_cache(maxsize=8192)
def _strip_kind(c: str) -> tuple[int, str] | None:
    """(_MARK, "") for a combining mark; (_PLAIN, letters) for an accented or variant Latin letter.
    Variation selectors are marks too, but step 2 already removed those that were not meaningful."""
    if unicodedata.category(c)[0] == "M":
        return None if _is_selector(c) else (_MARK, "")
    if _script(c) != _LATIN:
        return None
    bare = "".join(ch for ch in unicodedata.normalize("NFD", c) if not unicodedata.combining(ch))
    if len(bare) == 1 and not bare.isascii():
        named = _VARIANT_NAME.match(unicodedata.name(bare, ""))
        bare = named.group(1).lower() if named else _VARIANT_EXTRA.get(bare, bare)
    return (_PLAIN, bare) if bare != c else None


def _base_of(text: str, k: int, known: int = -1, known_base: str | None = None) -> str | None:
    """The character a combining mark at k sits on (skipping the marks between), None at the start.

    `known` is an earlier mark whose base is `known_base`: the walk back stops there, so the marks
    of a run of 20,000 are each walked over once, not once per mark after them.
    """
    k -= 1
    while k >= 0 and (_strip_kind(text[k]) or (0, ""))[0] == _MARK:
        if k == known:
            return known_base
        k -= 1
    return text[k] if k >= 0 else None


def _strips(c: str, base: str | None) -> bool:
    """Marks go when they sit on Latin or ASCII (zalgo, accents); elsewhere they are spelling."""
    if base is None:
        return False
    if c == _KEYCAP:
        return base.isalpha()
    return base.isascii() or _script(base) == _LATIN


def _strip_marks(d: _Draft) -> _Draft:
    """Drop accents, overlays and stacked zalgo marks from Latin letters; "ø", "ł", "ᴀ" become o, l, a."""
    if d.text.isascii():
        return d
    b, pos = _Builder(), 0
    mark, base = -1, None  # the last mark seen and the character it sits on
    for m in _NON_ASCII.finditer(d.text):
        k = m.start()
        if (kind := _strip_kind(m.group())) is None:
            continue
        if kind[0] == _MARK:
            mark, base = k, _base_of(d.text, k, mark, base)
            if not _strips(m.group(), base):
                continue
        b.keep(d, pos, k)
        if kind[0] == _MARK and b.ends:
            b.ends[-1] = d.ends[k]  # the letter keeps its marks in the original span
        else:
            b.put(kind[1], d.starts[k], d.ends[k])
        pos = k + 1
    if pos == 0:
        return d
    b.keep(d, pos, len(d.text))
    return b.build(d)


# --------------------------------------------------------------------------------------------------
# Identifiers that the remaining steps leave alone


# "@name" or "#tag" starting a word (or glued to a retweet's "RT"); hashtags glue words and use digits
# as words ("#vote5sos", "#sorry4thewait"), so reading them as leetspeak does more harm than good
_TAG = re.compile(r"[@#]\w+")
_ADDRESS_MARK = re.compile(r"[@/]|www\.")
_NON_SPACE = re.compile(r"\S*")
_EMAIL = re.compile(r"\w@[\w-]+\.\w")


class _Spans:
    """Spans of a text that can be asked whether they overlap [i, j) in log time (a text may hold
    thousands of mentions and as many words to check against them)."""

    __slots__ = ("starts", "reach")

    def __init__(self, spans: Iterable[tuple[int, int]] = ()) -> None:
        ordered = sorted(spans)
        self.starts = [s for s, _ in ordered]
        self.reach = list(accumulate((e for _, e in ordered), max))  # furthest end of the first k

    def overlap(self, i: int, j: int) -> bool:
        """Whether a span starting before j ends after i."""
        k = bisect_left(self.starts, j)
        return k > 0 and self.reach[k - 1] > i


def _protected(text: str, hashtags: bool = True) -> _Spans:
    """Spans of @mentions, #hashtags (unless told not to), URLs and e-mail addresses."""
    if "@" not in text and "#" not in text and "/" not in text and "www." not in text:
        return _Spans()
    tags = [m.span() for m in _TAG.finditer(text) if hashtags or m.group()[0] == "@"]
    spans = [(i, j) for i, j in tags if _tag_at(text, i)]
    return _Spans(spans + [(i, j) for i, j in _address_chunks(text) if _is_address(text[i:j])])


def _address_chunks(text: str) -> list[tuple[int, int]]:
    r"""Spans of the whitespace-separated chunks holding "@" or "/" or starting with "www." (as
    `(?<!\S)(?:\S*?[@/]\S*|www\.\S*)` finds them, but from those marks rather than every position)."""
    spans: list[tuple[int, int]] = []
    end = 0
    for m in _ADDRESS_MARK.finditer(text):
        k = m.start()
        if k < end:
            continue
        start = k
        if m.group() == "www.":
            if k and not text[k - 1].isspace():
                continue  # inside a chunk: it counts only if the chunk has "@" or "/", found next
        else:
            while start and not text[start - 1].isspace():
                start -= 1
        end = _NON_SPACE.match(text, k).end()
        spans.append((start, end))
    return spans


def _tag_at(text: str, k: int) -> bool:
    """Whether the "@" or "#" at k starts a word, or follows a retweet's "RT" ("RT@name")."""
    before = text[k - 1] if k else " "
    retweet = k >= 2 and text[k - 2 : k] == "rt" and (k == 2 or not text[k - 3].isalnum())
    return retweet or not (before.isalnum() or before in "_@#")


def _is_address(chunk: str) -> bool:
    if "/" in chunk and ("://" in chunk or "." in chunk.split("/", 1)[0]):
        return True  # a URL, or a domain and a path
    return chunk.startswith("www.") or _EMAIL.search(chunk) is not None


# --------------------------------------------------------------------------------------------------
# Step 5: letters split by spaces or punctuation


_UNIT = r"[a-z0-9@$!|+]"
_SEPARATORS = ".-_*~/\\,:;·•"
_SPLIT = re.compile(
    rf"(?<![^\W_]|['’]){_UNIT}"
    rf"(?P<sep>[ \t]+| ?[{re.escape(_SEPARATORS)}] ?){_UNIT}(?:(?P=sep){_UNIT})+"
    r"(?![^\W_]|['’])"
)
# Cheap necessary conditions for a _SPLIT match (which is slow to look for, as it starts with a
# look-behind): three units separated by separator characters, the first not inside a word, found
# from the separator after it (separators are rarer than letters) or at the start of the text
_SEPARATOR_CHAR = rf"[ \t{re.escape(_SEPARATORS)}]"
_MAY_SPLIT = re.compile(
    rf"{_SEPARATOR_CHAR}(?<=[^a-z0-9'’]{_UNIT}{_SEPARATOR_CHAR}){_SEPARATOR_CHAR}*{_UNIT}"
    rf"{_SEPARATOR_CHAR}+{_UNIT}"
)
_MAY_SPLIT_AT_START = re.compile(rf"{_UNIT}{_SEPARATOR_CHAR}+{_UNIT}{_SEPARATOR_CHAR}+{_UNIT}")


def _spelled_out(d: _Draft) -> Iterable[tuple[int, int, Sequence[int]]]:
    """(start, end, positions of the characters) of each run of characters spelled out one by one
    that should be glued: the longest such run from the leftmost start. A run that should not be may
    begin or end one that should ("$ i d i o t", "i d i o t 2 3 4"), so the search goes on inside it
    (up to 40 characters: more would make it quadratic)."""
    k = 0
    while (m := _SPLIT.search(d.text, k)) is not None:
        step = len(m.group("sep")) + 1  # each unit is one character, each separator the same
        units = range(m.start(), m.end(), step)
        letters = list(accumulate(map(str.isalpha, d.text[m.start() : m.end() : step])))  # in the first n
        ends = range(len(units), 2, -1) if len(units) <= 40 else [len(units)]
        n = next((n for n in ends if _glue(d, units[:n], letters[n - 1])), 0) if letters[-1] > 1 else 0
        if n:
            k = units[n - 1] + 1
            yield m.start(), k, units[:n]
        else:
            k = m.start() + 1 if len(units) <= 40 else m.end()


def _glue(d: _Draft, units: Sequence[int], letters: int) -> bool:
    """Glue 2+ letters when they outnumber the digits and symbols ("1 2 3" stays). Three lower-case
    letters separated by spaces are more often text-speak ("u r a", "a b c") than a spelled-out word,
    so of those only "A S S" is glued. (`letters` of the units are letters.)"""
    if letters < 2 or 2 * letters <= len(units):
        return False
    return len(units) > 3 or not d.text[units[0] + 1].isspace() or all(_typed_upper(d, k) for k in units)


def _typed_upper(d: _Draft, k: int) -> bool:
    return d.source[d.starts[k] : d.ends[k]].isupper()


def _article_apart(d: _Draft, units: Sequence[int]) -> bool:
    """Whether a leading "a"/"I" is a word of its own: its case differs from the spelled-out word's,
    as in "a S H I T" or "I h a t e". (All-lower "a s h i t" is ambiguous and gets glued.)"""
    if len(units) < 4 or d.text[units[0]] not in "ai":
        return False
    cases = [_typed_upper(d, k) for k in units]
    return len(set(cases[1:])) == 1 and cases[0] != cases[1]


def _rejoin(d: _Draft) -> _Draft:
    """Glue "f u c k", "f.u.c.k", "f-u-c-k", "f_u_c_k", "f*u*c*k": 3+ single characters, same separator."""
    text = d.text
    if not (_MAY_SPLIT.search(text) or _MAY_SPLIT_AT_START.match(text)) or not _SPLIT.search(text):
        return d
    protected = _protected(d.text)
    b, pos = _Builder(), 0
    for start, end, units in _spelled_out(d):
        if protected.overlap(start, end):
            continue
        b.keep(d, pos, start)
        if _article_apart(d, units):
            b.keep(d, units[0], units[1])  # the article and the separator after it
            units = units[1:]
        for k in units:
            b.keep(d, k, k + 1)
        pos = end
    if pos == 0:
        return d
    b.keep(d, pos, len(d.text))
    return b.build(d)


# --------------------------------------------------------------------------------------------------
# Step 6: leetspeak


LEET = str.maketrans("013457@$!|+", "oieastasiit")
# Where a letter touches a leet character: the tokens worth a look grow from there
_LEET_EDGE = re.compile(r"[a-z][0-9@$!|+]|[0-9@$!|+][a-z]")
# A cheap necessary condition for a token to read as leetspeak (`_reads_as_letters`): leet characters
# between letters ("sh1t"), "$" before a letter ("$hit") or "$$" after one ("a$$"). It starts with a
# leet character, which most texts have few of.
_MAY_LEET = re.compile(r"[0-9@$!|+](?:(?<=[a-z].)[0-9@$!|+]*[a-z]|(?<=\$)[a-z]|(?<=[a-z]\$)\$)")
_TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789@$!|+")
_TOKEN_TAIL = re.compile(r"[a-z0-9@$!|+]*")
_RUNS = re.compile(r"[a-z]+|[^a-z]+")
_ELONGATION = re.compile(r"(.)\1+")
_CURRENCY = re.compile(r"\$\d")
_LETTERLESS_DIGIT = re.compile("[2689]")
_PUNCTUATION = frozenset("!|+")


def _unleet_token(token: str) -> str | None:
    """The token with its leet characters read as letters, or None when it is not leetspeak.

    It is when it is 3+ characters long, has no digit without a letter reading (2 6 8 9) and no "$5",
    and a run of its leet characters reads as letters (`_reads_as_letters`); then all of them are.
    """
    tail = token.find("!", len(token.rstrip("!1")))  # the exclamation at its end ("wow!", "no!!1")
    core = token[:tail] if tail >= 0 else token
    if len(core) < 3 or _LETTERLESS_DIGIT.search(core) or _CURRENCY.search(core):
        return None
    runs = _RUNS.findall(core)
    if not any(_reads_as_letters(runs, k) for k in range(len(runs)) if not runs[k][0].isalpha()):
        return None
    return core.translate(LEET) + token[len(core) :]


def _reads_as_letters(runs: list[str], k: int) -> bool:
    """Whether runs[k], a run of non-letters, stands for letters.

    Between two runs of letters it does when one of them is at most 2 letters long ("sh1t", "b!tch",
    "a$$hole", "1d10t"), so "word4word" and "bitch@jane" stay two words. "!", "|" and "+" are
    punctuation too: only a lone "!" or "|" inside a short word counts ("d!ck" but not "nice!!cant",
    "player!he" or "y=mx+b"; "+" is read as t only when something else shows the word is leet).
    At the start only "$" does ("$hit"), at the end only "$$" ("a$$", but "US$"): edge digits are
    numbers ("1st", "4chan", "mp3", "win7") and edge "!", "|", "+" are punctuation.
    """
    run = runs[k]
    if run[0].isalpha():
        return False
    if 0 < k < len(runs) - 1:
        before, after = runs[k - 1], runs[k + 1]
        if _PUNCTUATION.issuperset(run):
            if run not in ("!", "|"):
                return False
            short, long = sorted((_letter_count(before), _letter_count(after)))
            return short <= 2 and long <= 5
        # (a run's letter count is at most its length: count only when that is not enough)
        return len(before) <= 2 or len(after) <= 2 or min(_letter_count(before), _letter_count(after)) <= 2
    if k == 0:
        return run == "$" and len(runs) > 1
    return len(run) >= 2 and set(run) == {"$"}


def _letter_count(run: str) -> int:
    """The length of a run of letters with elongated letters counted once ("bbb" is 1)."""
    return len(_ELONGATION.sub(r"\1", run))


def _leet_tokens(text: str, edges: re.Pattern[str] = _LEET_EDGE) -> Iterable[tuple[int, int]]:
    """Spans of the words made of ASCII letters and leet characters that hold both (not part of a
    longer word, and not a contraction: "don't" is no token); only those holding a match of `edges`
    (letters and leet characters side by side, in a match), which `_unleet` narrows to `_MAY_LEET`."""
    end = 0
    for m in edges.finditer(text):
        if m.start() < end:
            continue
        start = m.start()
        while start > 0 and text[start - 1] in _TOKEN_CHARS:
            start -= 1
        end = _TOKEN_TAIL.match(text, m.start()).end()
        if not (_joined(text, start - 1) or _joined(text, end)):
            yield start, end


def _joined(text: str, k: int) -> bool:
    return 0 <= k < len(text) and (text[k].isalnum() or text[k] in "'’")


def _unleet(d: _Draft) -> _Draft:
    """Read leetspeak inside words: "sh1t", "$h!t", "b!tch", "1d10t" (one-for-one, so offsets hold)."""
    if not _MAY_LEET.search(d.text):
        return d
    protected = None
    parts, pos = [], 0
    for i, j in _leet_tokens(d.text, _MAY_LEET):  # the other tokens do not read as leetspeak
        if (plain := _unleet_token(d.text[i:j])) is None:
            continue
        if protected is None:
            protected = _protected(d.text)
        if protected.overlap(i, j):
            continue
        parts += [d.text[pos:i], plain]
        pos = j
    if not parts:
        return d
    parts.append(d.text[pos:])
    return d.with_text("".join(parts))


# --------------------------------------------------------------------------------------------------
# Step 7: elongated letters


_RUN = re.compile(r"([a-z])\1{2,}")
_MAY_RUN = re.compile(r"([a-z])\1\1")  # the same without the repetition, which is slow to set up


def _in_longer_word(text: str, i: int, j: int) -> bool:
    return (i > 0 and text[i - 1].isalpha()) or (j < len(text) and text[j].isalpha())


def _squeeze(d: _Draft) -> _Draft:
    """Cut runs of 3+ equal letters inside a word to 2, remembering them for `Normalized.squeezed()`.

    A word that is only the run ("xxx", "zzz", "iii") is left alone: there it is the word.
    """
    if (first := _MAY_RUN.search(d.text)) is None:
        return d
    matches = [m for m in _RUN.finditer(d.text, first.start()) if _in_longer_word(d.text, *m.span())]
    if not matches:
        return d
    protected = _protected(d.text, hashtags=False)  # "#gaaaay" is still a word
    b, pos, elongated = _Builder(), 0, []
    for m in matches:
        s, e = m.span()
        if protected.overlap(s, e):
            continue
        b.keep(d, pos, s + 1)
        elongated.append(b.length)
        b.put(d.text[s], d.starts[s + 1], d.ends[e - 1])
        pos = e
    if not elongated:
        return d
    b.keep(d, pos, len(d.text))
    out = b.build(d)
    out.elongated = elongated
    return out


# --------------------------------------------------------------------------------------------------
# Masked words are left for the scorer, but can be listed: "f*ck", "sh**" (not "*emphasis*")


_MASKED = re.compile(r"(?<![\w*])[a-z]+(?:\*+[a-z]+)+(?![\w*])|(?<![\w*])[a-z]+\*{2,}(?![\w*])")

# The order matters, see docs/text-normalisation.md
STEPS: tuple[Callable[[_Draft], _Draft], ...] = (
    _compatibility,
    _drop_invisible,
    _fold,
    _strip_marks,
    _rejoin,
    _unleet,
    _squeeze,
)
# What is left once steps 1 to 4 could only case-fold the text (`normalize` skips them then)
_WORD_STEPS = STEPS[4:]

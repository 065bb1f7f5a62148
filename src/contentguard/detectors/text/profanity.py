"""alt-profanity-check's offensive-language model (TF-IDF + 5 calibrated linear SVMs) in NumPy.

Reproduces `profanity_check.predict_prob` from the arrays `models pull` exported
(`contentguard.models.sources.profanity`), without scikit-learn, SciPy or pickles. A whole batch
is tokenised in one pass over the joined texts (bytes.translate + split for ASCII, the regex for
the rest) and scored with a few array operations over all its tokens at once; scikit-learn
spends most of its time in Python code per token and per text.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable
from itertools import accumulate, repeat
from pathlib import Path

import numpy as np

from contentguard.errors import ModelIntegrityError
from contentguard.models.sources.profanity import ARRAYS, FORMAT, TOKEN_PATTERN

# Joins a batch: \x00 is neither a word character nor cased nor case-ignorable, so tokens, word
# boundaries and str.lower()'s final-sigma rule stop at it exactly as at the end of a text. The
# word between is how tokens are assigned to texts; a text containing it is handled on its own.
_SEP_WORD = "cgsepx"
_SEP = f"\x00{_SEP_WORD}\x00"
_SEP_ID = -2
_MISSING = -1
# scikit-learn's `(?u)\b\w\w+\b` finds the same tokens as `\w\w+` (a greedy run of word characters
# is always whole), which Python's regex engine scans about 1.5x faster.
_WORDS = re.compile(r"\w\w+")
# For ASCII, \w is [A-Za-z0-9_]: lowercase those, blank every other byte.
_ASCII_TABLE = bytes(
    b if chr(b).isalnum() or b == ord("_") else ord(" ") for b in bytes(range(128)).lower()
) + b" " * 128

ProfaneTerm = tuple[str, int, int, float]


class ProfanityModel:
    """P(offensive) per text, and which words pushed it up."""

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        config = json.loads(arrays["config"].tobytes().decode("utf-8"))
        _check_config(config)
        terms = arrays["terms"].tobytes().decode("utf-8").split("\n")
        self.config = config
        self.terms = terms
        self.vocabulary = {term: i for i, term in enumerate(terms)}
        self._lookup = {**self.vocabulary, _SEP_WORD: _SEP_ID}
        self._lookup_bytes = {term.encode(): i for term, i in self._lookup.items() if term.isascii()}
        self.idf = arrays["idf"]
        self.coef = arrays["coef"]  # (folds, terms)
        self._coef_t = np.ascontiguousarray(self.coef.T)  # (terms, folds): one gather per batch
        self.intercept = arrays["intercept"]
        self.sigmoid_a = arrays["sigmoid_a"]
        self.sigmoid_b = arrays["sigmoid_b"]
        self.mean_coef = self.coef.mean(axis=0)

    @classmethod
    def load(cls, path: Path | str) -> ProfanityModel:
        with np.load(path, allow_pickle=False) as npz:
            missing = set(ARRAYS) - set(npz.files)
            if missing:
                raise ModelIntegrityError(f"{path}: not a profanity model (missing {sorted(missing)})")
            return cls({name: npz[name] for name in ARRAYS})

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """P(offensive) for each text (float64, shape (n,)), as `profanity_check.predict_prob`."""
        n = len(texts)
        if n == 0:
            return np.zeros(0)
        ids, docs = self._token_ids(texts)
        margins = self._margins(ids, docs, n)
        with np.errstate(over="ignore"):  # exp overflow -> inf -> probability 0, as expit gives
            fold_p = 1.0 / (1.0 + np.exp(margins * self.sigmoid_a + self.sigmoid_b))
        return fold_p.mean(axis=1)

    def _token_ids(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vocabulary ids of the known tokens and the index of the text each came from.

        ASCII texts (most of them) take a bytes path: one translate() lowercases and blanks every
        non-word byte, split() cuts the tokens; the others go through the regex.
        """
        is_ascii = np.fromiter(map(str.isascii, texts), dtype=bool, count=len(texts))
        ids, docs = [], []
        for mask, tokenize, lookup in (
            (is_ascii, _ascii_tokens, self._lookup_bytes),
            (~is_ascii, _unicode_tokens, self._lookup),
        ):
            index = np.flatnonzero(mask)
            if len(index):
                part_ids, part_docs = _joined_ids([texts[i] for i in index], tokenize, lookup)
                ids.append(part_ids)
                docs.append(index[part_docs])
        return np.concatenate(ids), np.concatenate(docs)

    def _margins(self, ids: np.ndarray, docs: np.ndarray, n: int) -> np.ndarray:
        """Each fold's SVM decision value per text: l2-normalised tf-idf · coef + intercept.

        Follows scikit-learn's order of operations (count × idf, divided by the row norm, then
        the dot product) so results agree to the last bits, not just approximately.
        """
        keys = np.sort(docs * len(self.terms) + ids)
        first = np.flatnonzero(np.diff(keys, prepend=-1))
        counts = np.diff(first, append=len(keys))
        doc, term = np.divmod(keys[first], len(self.terms))
        tfidf = counts * self.idf[term]
        norms = np.sqrt(np.bincount(doc, tfidf * tfidf, minlength=n))
        norms[norms == 0.0] = 1.0
        values = tfidf / norms[doc]
        contrib = values[:, None] * self._coef_t[term]
        margins = np.empty((n, self.coef.shape[0]))
        for k in range(self.coef.shape[0]):
            margins[:, k] = np.bincount(doc, contrib[:, k], minlength=n)
        return margins + self.intercept

    def profane_terms(self, text: str) -> list[ProfaneTerm]:
        """Words of `text` that raise its score: (term, start, end, weight), in text order.

        `weight` is one occurrence's share of the mean fold margin (idf × mean SVM coefficient ÷
        the text's tf-idf norm); a term's occurrences add up to its tf-idf × coefficient. Only
        positive weights are returned. `start:end` index the original `text`, even where
        lowercasing changes lengths (e.g. "İ").
        """
        lowered = text.lower()
        found = [(m, self.vocabulary.get(m.group())) for m in _WORDS.finditer(lowered)]
        found = [(m, i) for m, i in found if i is not None]
        if not found:
            return []
        ids = np.array([i for _, i in found])
        unique, counts = np.unique(ids, return_counts=True)
        norm = float(np.sqrt(np.sum((counts * self.idf[unique]) ** 2)))
        to_original = _offset_map(text, lowered)
        out = []
        for match, i in found:
            weight = float(self.idf[i] * self.mean_coef[i] / norm)
            if weight > 0:
                start, end = to_original(match.start(), match.end())
                out.append((match.group(), start, end, weight))
        return out


def _unicode_tokens(text: str) -> list[str]:
    return _WORDS.findall(text.lower())


def _ascii_tokens(text: str) -> list[bytes]:
    """`_WORDS.findall(text.lower())` for ASCII text, plus 1-character words (never in the vocabulary)."""
    return text.encode("ascii").translate(_ASCII_TABLE).split()


def _joined_ids(
    texts: list[str], tokenize: Callable[[str], list], lookup: dict
) -> tuple[np.ndarray, np.ndarray]:
    """Known-token ids and text indices for a batch tokenised in one pass over the joined texts."""
    ids = _ids(lookup, tokenize(_SEP.join(texts)))
    seps = ids == _SEP_ID
    if int(seps.sum()) == len(texts) - 1:
        docs = np.cumsum(seps)
    else:  # some text contains the separator word: tokenise text by text
        per_text = [tokenize(text) for text in texts]
        ids = _ids(lookup, [token for tokens in per_text for token in tokens])
        docs = np.repeat(np.arange(len(texts)), [len(tokens) for tokens in per_text])
    known = ids >= 0
    return ids[known], docs[known]


def _ids(lookup: dict, tokens: list) -> np.ndarray:
    return np.fromiter(map(lookup.get, tokens, repeat(_MISSING)), dtype=np.int64, count=len(tokens))


def _offset_map(text: str, lowered: str) -> Callable[[int, int], tuple[int, int]]:
    """Maps a span of `text.lower()` back to `text` (each character lowers to one or more)."""
    if len(lowered) == len(text):
        return lambda start, end: (start, end)
    ends = list(accumulate(len(ch.lower()) for ch in text))  # end of each original char, lowered

    def to_original(start: int, end: int) -> tuple[int, int]:
        return bisect.bisect_right(ends, start), bisect.bisect_left(ends, end) + 1

    return to_original


def _check_config(config: dict) -> None:
    """Refuse a file exported for a different tokenizer or classifier than this code implements."""
    vectorizer, classifier = config.get("vectorizer", {}), config.get("classifier", {})
    if (
        config.get("format") != FORMAT
        or vectorizer.get("lowercase") is not True
        or vectorizer.get("token_pattern") != TOKEN_PATTERN
        or vectorizer.get("ngram_range") != [1, 1]
        or vectorizer.get("norm") != "l2"
        or vectorizer.get("tf") != "raw counts"
        or classifier.get("method") != "sigmoid"
    ):
        raise ModelIntegrityError(f"unsupported profanity model file (format {config.get('format')!r})")

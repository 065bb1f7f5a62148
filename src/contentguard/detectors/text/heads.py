"""The trained text heads at serving time: pure NumPy, no scikit-learn, no pickles.

A head is a multinomial logistic regression over one feature vector per text, shipped as
`<task>.npz` (the weights, `allow_pickle=False`) with `<task>.json` next to it (the model card:
classes, the feature recipe, data source and licence, split rule, figures). `contentguard
train-text` writes both (`text/training.py`). The feature vector, in order:

1. `embedding` — the 384-d all-MiniLM-L6-v2 embedding of `normalize(text).text` (unit length);
2. `profanity` (when the card lists it) — profanity-check's P(offensive), the higher of the
   normalised text's and its `squeezed()` form's, as the profanity detector computes it;
3. `lexical` (when the card lists it) — a hashed bag of words of `normalize(text).text`:
   `\\w+` tokens with runs of 3+ digits replaced by their length ("£100" → "D3", a phone number
   → "D11"), plus adjacent-token bigrams; each hashed with CRC-32 into 2**bits buckets, weighted
   log(1 + count) × idf and L2-normalised. A few thousand buckets, built per text in Python;
4. `chars` (when the card lists it) — hashed character n-grams (`CHAR_NGRAMS`) of each
   whitespace-separated word of `normalize(text).text`, padded with one space each side, weighted
   and normalised the same way as `lexical`, with its own idf. They catch what neither words nor
   the embedding see: spellings, codes and fragments ("txt", "2nite", "150p", "www.").

`Head.features(...)` builds exactly that vector from what serving has anyway (the embedding, the
profanity probability, the normalised text), so the detector cannot drift from training;
`Head.probabilities(...)`, what serving calls, gives the same numbers without materialising the
hashed blocks.
Probabilities are calibrated (temperature and per-class bias fitted on out-of-fold predictions and
folded into the weights); `decide()` applies the card's operating point.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from contentguard.errors import ModelIntegrityError

FORMAT = "contentguard-text-head/1"
PACKAGED_DIR = Path(__file__).parent / "heads"
EMBEDDING_DIMS = 384

CHAR_NGRAMS = (1, 4)  # the `chars` block's gram lengths, spaces included
_CACHED_WORD_CHARS = 40  # longer words are hashed every time, so the cache stays small

_WORD = re.compile(r"\w+")
_DIGITS = re.compile(r"\d{3,}")


def lexical_tokens(text: str) -> list[str]:
    """Unigrams and bigrams of a normalised text, digit runs of 3+ replaced by their length."""
    words = [_DIGITS.sub(lambda m: f"D{min(len(m.group()), 12)}", w) for w in _WORD.findall(text)]
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


def char_tokens(text: str) -> list[str]:
    """Character n-grams (`CHAR_NGRAMS`) of each whitespace-separated word, padded with a space
    each side so that beginnings and ends of words are grams of their own (" txt" ≠ "txt ")."""
    lo, hi = CHAR_NGRAMS
    grams = []
    for word in text.split():
        padded = f" {word} "
        for n in range(lo, min(hi, len(padded)) + 1):
            grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


HASHED_BLOCKS: dict[str, Callable[[str], list[str]]] = {"lexical": lexical_tokens, "chars": char_tokens}


def _hash_all(tokens: Sequence[str], bits: int) -> np.ndarray:
    mask = (1 << bits) - 1
    hashes = (zlib.crc32(t.encode("utf-8")) & mask for t in tokens)
    return np.fromiter(hashes, dtype=np.int64, count=len(tokens))


@lru_cache(maxsize=1 << 15)
def _word_char_buckets(word: str, bits: int) -> np.ndarray:
    """The buckets of one word's character grams; cached, as words repeat across texts and across
    the leave-one-word-out variants that evidence scores."""
    return _hash_all(char_tokens(word), bits)


def hashed_counts(text: str, bits: int, block: str = "lexical") -> tuple[np.ndarray, np.ndarray]:
    """(bucket, count) pairs of one text's hashed tokens of `block`, buckets ascending."""
    if block == "chars":  # grams never cross words, so a text's grams are its words' grams
        parts = [
            _word_char_buckets(w, bits) if len(w) <= _CACHED_WORD_CHARS else _hash_all(char_tokens(w), bits)
            for w in text.split()
        ]
    else:
        parts = [_hash_all(HASHED_BLOCKS[block](text), bits)]
    every = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    buckets, counts = np.unique(every, return_counts=True)
    return buckets, counts.astype(np.float64)


def hashed_rows(
    texts: Sequence[str], bits: int, idf: np.ndarray, block: str = "lexical"
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per text, (buckets, weights): log(1 + count) × idf, L2-normalised (empty text: no entries)."""
    rows = []
    for text in texts:
        buckets, counts = hashed_counts(text, bits, block)
        weights = np.log1p(counts) * idf[buckets]
        norm = float(np.sqrt(weights @ weights))
        rows.append((buckets, weights / norm if norm > 0 else weights))
    return rows


@dataclass(frozen=True)
class FeatureSpec:
    """Which blocks the feature vector has, in the fixed order embedding, profanity, lexical, chars."""

    profanity: bool = False
    lexical_bits: int = 0  # 0: no lexical block
    char_bits: int = 0  # 0: no chars block

    def bits(self, block: str) -> int:
        return self.lexical_bits if block == "lexical" else self.char_bits

    @property
    def hashed(self) -> tuple[str, ...]:
        """The hashed blocks this spec has, in feature order."""
        return tuple(block for block in HASHED_BLOCKS if self.bits(block))

    @property
    def dims(self) -> int:
        return EMBEDDING_DIMS + int(self.profanity) + sum(1 << self.bits(block) for block in self.hashed)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"profanity": self.profanity, "lexical_bits": self.lexical_bits}
        if self.char_bits:
            out |= {"char_bits": self.char_bits, "char_ngrams": list(CHAR_NGRAMS)}
        return out | {"dims": self.dims}

    @classmethod
    def from_json(cls, data: dict) -> FeatureSpec:
        spec = cls(profanity=bool(data["profanity"]), lexical_bits=int(data["lexical_bits"]),
                   char_bits=int(data.get("char_bits", 0)))
        if spec.dims != int(data.get("dims", spec.dims)):
            raise ModelIntegrityError(f"feature spec {data} is inconsistent")
        if spec.char_bits and tuple(data.get("char_ngrams", ())) != CHAR_NGRAMS:
            raise ModelIntegrityError(f"head wants character {data.get('char_ngrams')}-grams; "
                                      f"this version builds {list(CHAR_NGRAMS)}")
        return spec


def build_features(
    spec: FeatureSpec,
    embeddings: np.ndarray,
    profanity: np.ndarray | None = None,
    texts: Sequence[str] | None = None,
    idfs: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """The dense feature matrix [n, spec.dims] (float32) the head's weights expect; `idfs` has
    one idf vector per hashed block of the spec."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    if embeddings.ndim != 2 or embeddings.shape[1] != EMBEDDING_DIMS:
        raise ValueError(f"embeddings must be [n, {EMBEDDING_DIMS}], got {embeddings.shape}")
    n = len(embeddings)
    blocks = [embeddings]
    if spec.profanity:
        if profanity is None or len(profanity) != n:
            raise ValueError("this head needs the profanity probability of each text")
        blocks.append(np.asarray(profanity, dtype=np.float32).reshape(n, 1))
    for width, rows in hashed_blocks(spec, n, texts, idfs):
        hashed = np.zeros((n, width), dtype=np.float32)
        for row, (buckets, weights) in enumerate(rows):
            hashed[row, buckets] = weights
        blocks.append(hashed)
    return np.hstack(blocks)


def hashed_blocks(
    spec: FeatureSpec, n: int, texts: Sequence[str] | None, idfs: dict[str, np.ndarray] | None
) -> Iterator[tuple[int, list[tuple[np.ndarray, np.ndarray]]]]:
    """Per hashed block of `spec`, in feature order: its width and each of the `n` texts'
    (buckets, weights). Refuses when the texts or an idf are missing."""
    for block in spec.hashed:
        if texts is None or len(texts) != n or not idfs or block not in idfs:
            raise ValueError(f"this head needs the normalised texts (for its {block} features)")
        bits = spec.bits(block)
        yield 1 << bits, hashed_rows(texts, bits, idfs[block], block)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Head:
    """A trained head: `predict_proba(head.features(...))` → [n, len(classes)] probabilities."""

    classes: list[str]
    spec: FeatureSpec
    coef: np.ndarray  # [dims, classes], calibration folded in
    intercept: np.ndarray  # [classes]
    idf: np.ndarray | None = None  # [2**lexical_bits] when the spec has a lexical block
    char_idf: np.ndarray | None = None  # [2**char_bits] when the spec has a chars block
    decision_weights: np.ndarray | None = None  # operating point: label = argmax(p × weights)
    card: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        k = len(self.classes)
        if self.coef.shape != (self.spec.dims, k) or self.intercept.shape != (k,):
            raise ModelIntegrityError(
                f"head weights {self.coef.shape}/{self.intercept.shape} do not fit {self.spec.dims} "
                f"features and {k} classes"
            )
        for block, idf in self.idfs.items():
            if idf is None or idf.shape != (1 << self.spec.bits(block),):
                raise ModelIntegrityError(f"head has a {block} block but no idf of the right size")

    @property
    def idfs(self) -> dict[str, np.ndarray]:
        """The idf vector of each hashed block of the spec."""
        own = {"lexical": self.idf, "chars": self.char_idf}
        return {block: own[block] for block in self.spec.hashed}

    # --- serving -------------------------------------------------------------------------------

    def features(
        self,
        embeddings: np.ndarray,
        profanity: np.ndarray | None = None,
        texts: Sequence[str] | None = None,
    ) -> np.ndarray:
        """Feature matrix from the embeddings, profanity probabilities and normalised texts
        (only the inputs the card's feature spec lists are needed)."""
        return build_features(self.spec, embeddings, profanity, texts, self.idfs)

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities [n, len(classes)], rows summing to 1 (float64)."""
        features = np.asarray(features, dtype=np.float32)
        if features.ndim != 2 or features.shape[1] != self.spec.dims:
            raise ValueError(f"features must be [n, {self.spec.dims}], got {features.shape}")
        logits = features.astype(np.float64) @ self.coef.astype(np.float64) + self.intercept
        return softmax(logits)

    def probabilities(
        self,
        embeddings: np.ndarray,
        profanity: np.ndarray | None = None,
        texts: Sequence[str] | None = None,
    ) -> np.ndarray:
        """`predict_proba(features(...))` without building the hashed blocks densely (tens of
        thousands of columns): each text's few non-zero buckets pick their rows of the weights.
        This is what serving calls."""
        dense_spec = FeatureSpec(profanity=self.spec.profanity)
        dense = build_features(dense_spec, embeddings, profanity).astype(np.float64)
        logits = dense @ self.coef[: dense_spec.dims].astype(np.float64) + self.intercept
        offset = dense_spec.dims
        for width, rows in hashed_blocks(self.spec, len(logits), texts, self.idfs):
            for row, (buckets, weights) in enumerate(rows):
                logits[row] += weights @ self.coef[offset + buckets].astype(np.float64)
            offset += width
        return softmax(logits)

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Class index per row at the card's operating point (plain argmax when it has none)."""
        weights = self.decision_weights if self.decision_weights is not None else np.ones(len(self.classes))
        return np.argmax(np.asarray(probs) * weights, axis=1)

    # --- files ---------------------------------------------------------------------------------

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"coef": self.coef.astype(np.float32), "intercept": self.intercept.astype(np.float64)}
        if self.idf is not None:
            out["idf"] = self.idf.astype(np.float32)
        if self.char_idf is not None:
            out["char_idf"] = self.char_idf.astype(np.float32)
        return out

    def save(self, npz_path: Path, card: dict) -> dict:
        """Write `<name>.npz` and the card `<name>.json` (given card fields + head config and the
        npz's sha256, checked on load). Returns the card written."""
        npz_path = Path(npz_path)
        npz_path.parent.mkdir(parents=True, exist_ok=True)
        with npz_path.open("wb") as f:
            np.savez_compressed(f, **self.arrays())
        full = {
            **card,
            "format": FORMAT,
            "classes": list(self.classes),
            "features": self.spec.to_json(),
            "operating_point": (
                None
                if self.decision_weights is None
                else dict(zip(self.classes, map(float, self.decision_weights), strict=True))
            ),
            "weights_file": npz_path.name,
            "weights_sha256": hashlib.sha256(npz_path.read_bytes()).hexdigest(),
        }
        text = json.dumps(full, indent=2, ensure_ascii=False) + "\n"
        card_path(npz_path).write_text(text, encoding="utf-8")
        return full

    @classmethod
    def load(cls, path: Path | str) -> Head:
        """Load `<name>.npz` + `<name>.json`; refuses a card that does not match its weights."""
        npz_path = Path(path)
        if npz_path.suffix != ".npz":
            npz_path = npz_path.with_suffix(".npz")
        try:
            card = json.loads(card_path(npz_path).read_text(encoding="utf-8"))
            data = npz_path.read_bytes()
        except (OSError, ValueError) as exc:
            raise ModelIntegrityError(f"{npz_path}: cannot read the head or its card ({exc})") from exc
        if card.get("format") != FORMAT:
            raise ModelIntegrityError(f"{npz_path}: unsupported head format {card.get('format')!r}")
        if hashlib.sha256(data).hexdigest() != card.get("weights_sha256"):
            raise ModelIntegrityError(f"{npz_path}: weights do not match the sha256 on the card")
        with np.load(npz_path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
        point = card.get("operating_point")
        return cls(
            classes=list(card["classes"]),
            spec=FeatureSpec.from_json(card["features"]),
            coef=arrays["coef"],
            intercept=arrays["intercept"],
            idf=arrays.get("idf"),
            char_idf=arrays.get("char_idf"),
            decision_weights=None if point is None else np.array([point[c] for c in card["classes"]]),
            card=card,
        )


def card_path(npz_path: Path) -> Path:
    return Path(npz_path).with_suffix(".json")


def packaged(task: str) -> Head:
    """The head shipped with the package for `task` ("hate" or "spam")."""
    return Head.load(PACKAGED_DIR / f"{task}.npz")

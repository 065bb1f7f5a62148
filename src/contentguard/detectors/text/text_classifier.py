"""`text-classifier`: heads trained on all-MiniLM-L6-v2 embeddings (hate / offensive / neither,
spam / ham), run on ONNX Runtime and NumPy — no torch.

Evidence is leave-one-word-out: the flagged chunk is scored again without each of its words
(at most `text_evidence_words` of them, the longest distinct ones first) in one encoder batch,
and the words whose removal lowers the category's log-odds most are the evidence (weight =
that drop in log-odds).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from contentguard.detectors.base import Signals, TextDetector, evidence_from
from contentguard.detectors.text import heads
from contentguard.detectors.text.encoder import SentenceEncoder
from contentguard.detectors.text.profanity import ProfanityModel
from contentguard.media.text import Normalized
from contentguard.models.store import ModelStore
from contentguard.schemas import Evidence
from contentguard.settings import Settings

TASKS = ("hate", "spam")
_WORD = re.compile(r"\S+")
_VARIANT_CACHE_SIZE = 64  # recent texts' leave-one-word-out scores (a text flagged twice: once)


class TextClassifier(TextDetector):
    """Class probabilities of both heads: hate, offensive, neither, spam, ham."""

    name: ClassVar[str] = "text-classifier"

    def __init__(self, settings: Settings, store: ModelStore | None = None) -> None:
        super().__init__(settings)
        store = store or ModelStore(settings)
        self.encoder = SentenceEncoder(settings)
        self.heads = {task: heads.packaged(task) for task in TASKS}
        needs_profanity = any(h.spec.profanity for h in self.heads.values())
        self.profanity = ProfanityModel.load(store.ensure("profanity-check")) if needs_profanity else None
        shas = [f"{t}-{h.card.get('weights_sha256', '?')[:8]}" for t, h in self.heads.items()]
        self._version = "+".join([self.encoder.model, *shas])
        self._variant_cache: dict[tuple[str, int], dict[str, np.ndarray]] = {}
        self._cache_lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return "minilm-l6-v2-heads"

    @property
    def version(self) -> str:
        return self._version

    # --- scoring -----------------------------------------------------------------------------
    def _probabilities(self, texts: list[str], squeezed: list[str]) -> dict[str, np.ndarray]:
        """Per task, [n, classes] probabilities of normalised texts (and their squeezed forms)."""
        embeddings = self.encoder.encode(texts)
        profanity = None
        if self.profanity is not None:
            both = self.profanity.predict_proba(texts + squeezed)
            profanity = np.maximum(both[: len(texts)], both[len(texts) :])
        return {
            task: head.probabilities(embeddings, profanity, texts)
            for task, head in self.heads.items()
        }

    def predict(self, batch: Sequence[Normalized]) -> list[Signals]:
        if not batch:
            return []
        probs = self._probabilities([n.text for n in batch], [n.squeezed().text for n in batch])
        out = []
        for i in range(len(batch)):
            scores: dict[str, float] = {}
            for task, head in self.heads.items():
                row = probs[task][i]
                scores.update({c: round(float(p), 6) for c, p in zip(head.classes, row, strict=True)})
            out.append(Signals(scores=scores))
        return out

    # --- explanations --------------------------------------------------------------------------
    def evidence(self, item: Normalized, classes: Sequence[str], limit: int = 8) -> list[Evidence]:
        """The words whose removal lowers the log-odds of `classes` (summed) most."""
        task = next((t for t, h in self.heads.items() if set(classes) & set(h.classes)), None)
        budget = self.settings.text_evidence_words
        spans = [m.span() for m in _WORD.finditer(item.text)]
        if task is None or budget == 0 or not spans:
            return []
        by_word: dict[str, list[tuple[int, int]]] = {}
        for start, end in spans:
            by_word.setdefault(item.text[start:end], []).append((start, end))
        words = sorted(by_word, key=len, reverse=True)[:budget]
        head = self.heads[task]
        cols = [head.classes.index(c) for c in classes if c in head.classes]
        key = (item.text, budget)
        with self._cache_lock:
            every_task = self._variant_cache.get(key)
        if every_task is None:  # one encoder batch serves every category flagged on this text
            variants = [_without(item.text, by_word[w]) for w in words]
            squeezed = [item.squeezed().text] + variants  # the variants are scored as written
            every_task = self._probabilities([item.text] + variants, squeezed)
            with self._cache_lock:
                while len(self._variant_cache) >= _VARIANT_CACHE_SIZE:
                    self._variant_cache.pop(next(iter(self._variant_cache)))
                self._variant_cache[key] = every_task
        probs = every_task[task][:, cols].sum(axis=1)
        # Log-odds, so a word still counts when the score is saturated near 1 (spam).
        odds = np.log(np.clip(probs, 1e-9, 1 - 1e-9) / np.clip(1 - probs, 1e-9, 1))
        drops = odds[0] - odds[1:]
        ranked = sorted(zip(words, drops, strict=True), key=lambda wd: -wd[1])
        found = []
        for word, drop in ranked[:limit]:
            if drop <= 0.1:  # removing it barely changes the score: not evidence
                break
            found += [evidence_from(item, s, e, float(drop)) for s, e in by_word[word]]
        return found[:limit]


def _without(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with the given spans removed (each occurrence of one word)."""
    out, last = [], 0
    for start, end in spans:
        out.append(text[last:start])
        last = end
    out.append(text[last:])
    return " ".join("".join(out).split())

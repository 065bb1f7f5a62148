"""`profanity`: the offensive-language model of `alt-profanity-check`, ported to NumPy.

It scores the normalised text and its squeezed form ("shiit" → "shit") and keeps the higher,
so elongation can't hide a word and real double letters ("good") are still read as written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from contentguard.detectors.base import Signals, TextDetector, evidence_from
from contentguard.detectors.text.profanity import ProfanityModel
from contentguard.media.text import Normalized
from contentguard.models.sources import profanity
from contentguard.models.store import ModelStore
from contentguard.schemas import Evidence
from contentguard.settings import Settings

MODEL = "profanity-check"


class ProfanityDetector(TextDetector):
    """One score, `profanity`: P(offensive) by the TF-IDF + linear SVM model."""

    name: ClassVar[str] = "profanity"

    def __init__(self, settings: Settings, store: ModelStore | None = None) -> None:
        super().__init__(settings)
        self.model = ProfanityModel.load((store or ModelStore(settings)).ensure(MODEL))

    @property
    def model_name(self) -> str:
        return MODEL

    @property
    def version(self) -> str:
        return f"{profanity.PACKAGE}-{profanity.VERSION}"

    def predict(self, batch: Sequence[Normalized]) -> list[Signals]:
        if not batch:
            return []
        squeezed = [item.squeezed() for item in batch]
        probs = self.model.predict_proba([n.text for n in batch] + [n.text for n in squeezed])
        best = np.maximum(probs[: len(batch)], probs[len(batch) :])
        return [Signals(scores={"profanity": round(float(p), 6)}) for p in best]

    def evidence(self, item: Normalized, classes: Sequence[str], limit: int = 8) -> list[Evidence]:
        """The words that raise the score, located in the original text (both forms read)."""
        found: dict[tuple[int, int], Evidence] = {}
        for form in (item, item.squeezed()):
            for _, start, end, weight in self.model.profane_terms(form.text):
                ev = evidence_from(form, start, end, weight)
                if (ev.start, ev.end) not in found or found[(ev.start, ev.end)].weight < ev.weight:
                    found[(ev.start, ev.end)] = ev
        ranked = sorted(found.values(), key=lambda e: -e.weight)
        # Words that barely move the score ("day") are not evidence.
        return [e for e in ranked if e.weight >= 0.25 * ranked[0].weight][:limit] if ranked else []

"""The detector interface: a name, a version, the kinds it accepts, and `predict(batch)`.

Image detectors split the work into pre-process (per item, thread-safe, run in a pool),
run (the only batched step) and post-process, the shape that gets throughput on CPUs.
Text detectors take a batch of normalised texts (evasion undone, offsets kept) and can point
at the spans of the original text that drove a score.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from contentguard.media.text import Normalized, normalize
from contentguard.media.types import Frame
from contentguard.schemas import Detection, Evidence
from contentguard.settings import Settings


@dataclass
class Signals:
    """What one detector says about one item: class scores and/or regions."""

    scores: dict[str, float] = field(default_factory=dict)
    detections: list[Detection] = field(default_factory=list)


@dataclass
class Prepared:
    """A pre-processed item: the model input row and what post-processing needs to undo it."""

    tensor: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)


class Detector(ABC):
    """Base of every detector; subclasses set `name`, `kinds` and `model_name`."""

    name: ClassVar[str]
    kinds: ClassVar[frozenset[str]]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @property
    @abstractmethod
    def model_name(self) -> str:
        """The model this detector runs, as named in results and in the model store."""

    @property
    @abstractmethod
    def version(self) -> str:
        """The model's version string, recorded with every result."""

    @abstractmethod
    def predict(self, batch: Sequence[Any]) -> list[Signals]:
        """Signals for each item of `batch`, in order."""


class ImageDetector(Detector):
    """An image detector in three steps; only `run` sees a batch."""

    kinds: ClassVar[frozenset[str]] = frozenset({"image"})
    #: largest batch one model run takes (None: `settings.batch_size`)
    max_batch: ClassVar[int | None] = None

    @abstractmethod
    def preprocess(self, frame: Frame) -> Prepared:
        """Turn one frame into one model input row (thread-safe, no model call)."""

    @abstractmethod
    def run(self, inputs: np.ndarray) -> np.ndarray:
        """Run the model on a stacked batch; returns one output row per input row."""

    @abstractmethod
    def postprocess(self, output: np.ndarray, prepared: Prepared, frame: Frame) -> Signals:
        """Turn one output row into signals, in original-image coordinates."""

    def warm_up(self) -> None:
        """One run on a blank frame, so ONNX Runtime's first-run set-up is not billed to a
        real item (and a broken model fails at start, not on the first upload)."""
        self.predict([Frame(np.zeros((32, 32, 3), np.uint8))])

    def predict(self, batch: Sequence[Frame]) -> list[Signals]:
        prepared = [self.preprocess(frame) for frame in batch]
        return self.predict_prepared(prepared, batch)

    def predict_prepared(self, prepared: Sequence[Prepared], frames: Sequence[Frame]) -> list[Signals]:
        """Run already pre-processed items in chunks of the configured batch size."""
        out: list[Signals] = []
        size = min(self.settings.batch_size, self.max_batch or self.settings.batch_size)
        for start in range(0, len(prepared), size):
            chunk = prepared[start : start + size]
            outputs = self.run(np.stack([p.tensor for p in chunk]))
            for row, prep, frame in zip(outputs, chunk, frames[start : start + size], strict=True):
                out.append(self.postprocess(row, prep, frame))
        return out


class TextDetector(Detector):
    """A text detector: always batched over normalised texts."""

    kinds: ClassVar[frozenset[str]] = frozenset({"text"})

    @abstractmethod
    def predict(self, batch: Sequence[Normalized]) -> list[Signals]:
        """Scores for each normalised text of `batch`, in order (one model run per batch)."""

    def evidence(self, item: Normalized, classes: Sequence[str], limit: int = 8) -> list[Evidence]:
        """Spans of `item.original` that drove the scores of `classes`, strongest first."""
        return []

    def warm_up(self) -> None:
        """One small batch, so first-run set-up is not billed to a real text."""
        self.predict([normalize("warm up"), normalize("")])


def evidence_from(item: Normalized, start: int, end: int, weight: float) -> Evidence:
    """Evidence for `item.text[start:end]`, located in the original text."""
    lo, hi = item.original_span(start, end)
    return Evidence(text=item.original[lo:hi], start=lo, end=hi, weight=round(weight, 6))


def warm_up_all(detectors: Sequence[Detector], log: logging.Logger) -> dict[str, str]:
    """Warm each detector up; a failure is logged and returned (by name), not raised, so the
    others keep serving and items say which model is broken."""
    errors: dict[str, str] = {}
    for det in detectors:
        try:
            det.warm_up()  # type: ignore[attr-defined]
        except Exception as exc:
            errors[det.name] = f"{exc.__class__.__name__}: {exc}"
            log.warning("detector %s failed its warm-up run: %s", det.name, exc)
    return errors

"""Dummy detectors for the fast test tier: the plugin API (`detectors/base.py`) over pixel
colours and a word list, so API, UI, job, webhook and review tests need no pulled models.

Policy: the built-in default. Each dummy takes the `name` of a built-in detector and reports
that detector's classes or labels, so the default policy, and every test policy written for
the real models (`samples.REVIEW_ALL_POLICY`, ...), applies to them unchanged, and image
results keep their five classifier scores and their label. Their `model_name`s start with
`dummy-`, so every result says what produced it. They are handed to the moderators
(`detectors=`, as a plugin's instances would be), never registered in the entry-point group.

Images. A colour *dominates* a pixel by how far its channel is above the other two (0..1):
  nsfw-classifier  the dominance of the frame's mean colour: porn = red, drawing = green,
                   sexy = blue, neutral = the rest, hentai = 0 (they sum to 1)
  nudity-detector  one box around the strongly red pixels (red 64 over green and blue),
                   FEMALE_BREAST_EXPOSED, and one around the strongly blue ones, FACE_FEMALE;
                   a box's score is the red (blue) dominance summed over it / its area
Under the default policy: a red image is blocked (sexual_explicit and nudity_exposed), a
blue one goes to review (sexual_suggestive, and a "face"), a red square on white is a region
the classifier does not confirm (review), grey and `samples.image_bytes` are allowed.

Texts: words of the normalised text (so the real normaliser's evasion handling applies):
  profanity        PROFANE words, 0.9 each (default policy: review at 0.85)
  text-classifier  HATEFUL 0.9 (block at 0.8), OFFENSIVE 0.75 (review at 0.7), SPAMMY 0.3
                   each (two review, three block)
A class's score is the sum over its words, at most 1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from contentguard.detectors.base import ImageDetector, Prepared, Signals, TextDetector, evidence_from
from contentguard.media.text import Normalized
from contentguard.media.types import Frame
from contentguard.moderation.image import Moderator
from contentguard.moderation.policy import Policy
from contentguard.moderation.text import TextModerator
from contentguard.schemas import Detection, Evidence
from contentguard.settings import Settings

STRONG = 64 / 255  # a pixel is strongly red (blue) when red (blue) is this far over the others
MIN_SHARE = 0.005  # a region needs this share of the frame's pixels
SIDE = 512  # colours are read on a grid of at most this many pixels a side
#: (label, channel) of each region the region detector looks for, in its tensor's order
REGIONS = (("FEMALE_BREAST_EXPOSED", 0), ("FACE_FEMALE", 2))
CLASSES = ("drawing", "hentai", "neutral", "porn", "sexy")


def dominance(rgb: np.ndarray) -> np.ndarray:
    """Per channel, how far it is above the other two channels, in 0..1 (`rgb` in 0..255)."""
    out = np.empty(rgb.shape, np.float32)
    for c in range(3):
        others = np.maximum(rgb[..., (c + 1) % 3], rgb[..., (c + 2) % 3])
        out[..., c] = np.clip(rgb[..., c] - others, 0, None) / 255
    return out


def colour_stats(frame: Frame) -> np.ndarray:
    """The dominance of the mean colour (3 values), then per region (score, x0, y0, x1, y1) as
    fractions of the frame: the one tensor both dummy image detectors read."""
    step = max(1, math.ceil(max(frame.height, frame.width) / SIDE))
    grid = frame.pixels[::step, ::step].astype(np.float32)
    height, width = frame.height, frame.width
    out = [*dominance(grid.reshape(-1, 3).mean(axis=0))]
    per_pixel = dominance(grid)
    for _, channel in REGIONS:
        d = per_pixel[..., channel]
        mask = d > STRONG
        if mask.sum() < MIN_SHARE * mask.size:
            out += [0.0] * 5
            continue
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        score = float(d[y0:y1, x0:x1].sum()) / ((y1 - y0) * (x1 - x0))
        out += [score, x0 * step / width, y0 * step / height,
                min(1.0, x1 * step / width), min(1.0, y1 * step / height)]
    return np.asarray(out, np.float32)


class DummyImageDetector(ImageDetector):
    """The `nsfw-classifier` slot: nsfwjs's five classes from the mean colour."""

    name: ClassVar[str] = "nsfw-classifier"

    @property
    def model_name(self) -> str:
        return "dummy-colour-classifier"

    @property
    def version(self) -> str:
        return "dummy-1"

    def preprocess(self, frame: Frame) -> Prepared:
        return Prepared(colour_stats(frame))

    def run(self, inputs: np.ndarray) -> np.ndarray:
        red, green, blue = inputs[:, 0], inputs[:, 1], inputs[:, 2]
        neutral = 1.0 - red - green - blue  # one colour at most dominates the mean
        return np.stack([green, np.zeros_like(red), neutral, red, blue], axis=1)

    def postprocess(self, output: np.ndarray, prepared: Prepared, frame: Frame) -> Signals:
        return Signals(scores={c: round(float(v), 6) for c, v in zip(CLASSES, output, strict=True)})


class DummyRegionDetector(ImageDetector):
    """The `nudity-detector` slot: a box around the strongly red pixels and one around the
    strongly blue ones (REGIONS), in original-image pixels."""

    name: ClassVar[str] = "nudity-detector"

    @property
    def model_name(self) -> str:
        return "dummy-colour-regions"

    @property
    def version(self) -> str:
        return "dummy-1"

    def preprocess(self, frame: Frame) -> Prepared:
        return Prepared(colour_stats(frame))

    def run(self, inputs: np.ndarray) -> np.ndarray:
        return inputs[:, 3:]

    def postprocess(self, output: np.ndarray, prepared: Prepared, frame: Frame) -> Signals:
        width, height = frame.width * frame.scale, frame.height * frame.scale
        scores: dict[str, float] = {}
        detections: list[Detection] = []
        for i, (label, _) in enumerate(REGIONS):
            score, x0, y0, x1, y1 = (float(v) for v in output[5 * i: 5 * i + 5])
            scores[label] = round(min(1.0, score), 6)
            if score > 0:
                x, y = round(x0 * width), round(y0 * height)
                box = [x, y, round(x1 * width) - x, round(y1 * height) - y]
                detections.append(Detection(label=label, score=scores[label], box=box, frame=frame.index))
        detections.sort(key=lambda d: -d.score)
        return Signals(scores=scores, detections=detections)


_WORD = re.compile(r"\w+")
OFFENSIVE = ("idiot", "stupid", "moron", "loser")
HATEFUL = ("vermin", "subhuman")
SPAMMY = ("winner", "prize", "cash", "claim", "free", "call", "urgent", "txt")
PROFANE = ("damn", "shit", "fuck", "fucking", "crap", "bastard")


class DummyTextDetector(TextDetector):
    """The `text-classifier` slot: its five classes from a word list (WORDS: word → (class,
    weight)); `neither` and `ham` are what the other classes of their head leave."""

    name: ClassVar[str] = "text-classifier"
    WORDS: ClassVar[dict[str, tuple[str, float]]] = {
        **dict.fromkeys(HATEFUL, ("hate", 0.9)),
        **dict.fromkeys(OFFENSIVE, ("offensive", 0.75)),
        **dict.fromkeys(SPAMMY, ("spam", 0.3)),
    }

    @property
    def model_name(self) -> str:
        return "dummy-word-list"

    @property
    def version(self) -> str:
        return "dummy-1"

    def _hits(self, item: Normalized) -> list[tuple[str, float, int, int]]:
        """(class, weight, start, end) of each listed word in the normalised text."""
        found = []
        for match in _WORD.finditer(item.text):
            entry = self.WORDS.get(match.group())
            if entry is not None:
                found.append((*entry, *match.span()))
        return found

    def scores(self, totals: dict[str, float]) -> dict[str, float]:
        hate, offensive, spam = (totals.get(c, 0.0) for c in ("hate", "offensive", "spam"))
        return {"hate": hate, "offensive": offensive, "neither": max(0.0, 1.0 - hate - offensive),
                "spam": spam, "ham": 1.0 - spam}

    def predict(self, batch: Sequence[Normalized]) -> list[Signals]:
        out = []
        for item in batch:
            totals: dict[str, float] = {}
            for cls, weight, _, _ in self._hits(item):
                totals[cls] = min(1.0, totals.get(cls, 0.0) + weight)
            out.append(Signals(scores={k: round(v, 6) for k, v in self.scores(totals).items()}))
        return out

    def evidence(self, item: Normalized, classes: Sequence[str], limit: int = 8) -> list[Evidence]:
        hits = sorted((h for h in self._hits(item) if h[0] in classes), key=lambda h: -h[1])
        return [evidence_from(item, start, end, weight) for _, weight, start, end in hits[:limit]]


class DummyProfanityDetector(DummyTextDetector):
    """The `profanity` slot: one class, `profanity`, from PROFANE."""

    name: ClassVar[str] = "profanity"
    WORDS: ClassVar[dict[str, tuple[str, float]]] = dict.fromkeys(PROFANE, ("profanity", 0.9))

    @property
    def model_name(self) -> str:
        return "dummy-profane-words"

    def scores(self, totals: dict[str, float]) -> dict[str, float]:
        return {"profanity": totals.get("profanity", 0.0)}


def image_detectors(settings: Settings) -> list[ImageDetector]:
    return [DummyImageDetector(settings), DummyRegionDetector(settings)]


def text_detectors(settings: Settings) -> list[TextDetector]:
    return [DummyProfanityDetector(settings), DummyTextDetector(settings)]


def moderator(settings: Settings, policy: Policy | None = None) -> Moderator:
    """A real image moderator over the dummies (the settings' policy unless one is given)."""
    return Moderator(settings, policy, detectors=image_detectors(settings))


def text_moderator(settings: Settings, policy: Policy | None = None) -> TextModerator:
    """A real text moderator over the dummies (the settings' policy unless one is given)."""
    return TextModerator(settings, policy, detectors=text_detectors(settings))

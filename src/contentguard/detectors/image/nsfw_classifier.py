"""The GantMan NSFW classifier (from nsfwjs), run on ONNX Runtime.

Pre-processing is nsfwjs's own: RGB / 255, then `resizeBilinear(alignCorners=true)` to the
model's input size (no antialiasing) unless the frame already has that size.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from contentguard.detectors.base import ImageDetector, Prepared, Signals
from contentguard.detectors.image.resize import resize_bilinear
from contentguard.detectors.onnx_session import create_session
from contentguard.media.types import Frame
from contentguard.models.sources import nsfwjs
from contentguard.models.store import ModelStore
from contentguard.settings import Settings

CLASSES = nsfwjs.CLASSES


class NsfwClassifier(ImageDetector):
    """Five class probabilities: drawing, hentai, neutral, porn, sexy."""

    name: ClassVar[str] = "nsfw-classifier"

    def __init__(self, settings: Settings, store: ModelStore | None = None) -> None:
        super().__init__(settings)
        self._model_name = f"nsfw-{settings.nsfw_variant.replace('_', '-')}"
        path = (store or ModelStore(settings)).ensure(self._model_name)
        self.session = create_session(path, settings)
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        self.input_size = int(model_input.shape[1])

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def version(self) -> str:
        return f"nsfwjs-{nsfwjs.VERSION}"

    def preprocess(self, frame: Frame) -> Prepared:
        size = self.input_size
        pixels = frame.pixels
        if pixels.shape[0] == size and pixels.shape[1] == size:
            tensor = pixels.astype(np.float32) / np.float32(255)
        else:
            tensor = resize_bilinear(pixels, size, size, align_corners=True, divide_by=255.0)
        return Prepared(tensor)

    def run(self, inputs: np.ndarray) -> np.ndarray:
        (probabilities,) = self.session.run(None, {self.input_name: inputs})
        return probabilities

    def postprocess(self, output: np.ndarray, prepared: Prepared, frame: Frame) -> Signals:
        return Signals(scores={c: float(p) for c, p in zip(CLASSES, output, strict=True)})

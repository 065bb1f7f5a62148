"""Detector fixtures built from synthetic images (no shared data needed).

The models come from the model store's default directory, so they are pulled once per machine.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from contentguard.detectors.image.nudity_detector import NudityDetector
from contentguard.settings import Settings


@pytest.fixture(scope="session")
def nudity_detector(settings: Settings) -> NudityDetector:
    return NudityDetector(settings)


class LooseNudityDetector(NudityDetector):
    """The real model with thresholds near zero, so any image yields many detections."""

    CANDIDATE_SCORE = 0.001
    MIN_SCORE = 0.001
    IOU = 0.7


@pytest.fixture(scope="session")
def loose_detector(settings: Settings) -> NudityDetector:
    return LooseNudityDetector(settings.model_copy(update={"batch_size": 2}))


def cartoon_face(width: int = 480, height: int = 360) -> np.ndarray:
    """A drawn face with hair, eyes, nose, mouth and shoulders on a blue background."""
    image = Image.new("RGB", (width, height), (70, 110, 160))
    draw = ImageDraw.Draw(image)
    cx, cy = width // 2, height // 2
    draw.ellipse([cx - 60, cy - 80, cx + 60, cy + 80], fill=(224, 172, 140))
    draw.ellipse([cx - 75, cy - 100, cx + 75, cy - 40], fill=(60, 40, 20))
    for side in (-1, 1):
        ex = cx + side * 25
        draw.ellipse([ex - 10, cy - 25, ex + 10, cy - 12], fill=(255, 255, 255))
        draw.ellipse([ex - 4, cy - 23, ex + 4, cy - 14], fill=(40, 30, 20))
    draw.polygon([(cx, cy - 5), (cx - 10, cy + 25), (cx + 10, cy + 25)], fill=(200, 140, 110))
    draw.ellipse([cx - 25, cy + 40, cx + 25, cy + 55], fill=(170, 60, 60))
    draw.rectangle([cx - 30, cy + 80, cx + 30, cy + 120], fill=(224, 172, 140))
    draw.rectangle([cx - 150, cy + 115, cx + 150, height], fill=(30, 60, 120))
    return np.asarray(image.filter(ImageFilter.GaussianBlur(2)))


@pytest.fixture(scope="session")
def synthetic_images() -> dict[str, np.ndarray]:
    """A few RGB images of different shapes: wide, tall, square, tiny, smooth and noisy."""
    rng = np.random.default_rng(1234)
    yy, xx = np.mgrid[0:300, 0:200]
    gradient = np.stack([xx * 255 // 199, yy * 255 // 299, (xx + yy) * 255 // 498], axis=-1)
    return {
        "face_wide": cartoon_face(480, 360),
        "face_tall": cartoon_face(360, 520),
        "gradient_tall": gradient.astype(np.uint8),
        "noise_square": rng.integers(0, 256, (256, 256, 3), dtype=np.uint8),
        "tiny": rng.integers(0, 256, (7, 13, 3), dtype=np.uint8),
        "large_wide": np.asarray(
            Image.fromarray(cartoon_face(480, 360)).resize((1700, 1275), Image.BILINEAR)
        ),
    }

"""Our ONNX port of the GantMan classifier against nsfwjs itself.

`nsfwjs_reference.json` was written by `tests/parity/make_reference.py`, which runs the real
nsfwjs 4.4.0 in Node (tools/nsfwjs-reference) on lossless inputs; each record carries the
sha256 of the pixels nsfwjs saw, so we check we feed the port exactly the same pixels.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers.parity_inputs import parity_images, pixel_sha256, to_224

from contentguard.detectors.image.nsfw_classifier import CLASSES, NsfwClassifier
from contentguard.media.types import Frame
from contentguard.settings import Settings

REFERENCE = json.loads((Path(__file__).parent / "nsfwjs_reference.json").read_text())
TOLERANCE = {"mobilenet_v2_224": 1e-4, "mobilenet_v2_full": 1e-3, "inception_v3_full": 1e-3}


@pytest.fixture(scope="module")
def images(data_dir: Path) -> dict[str, np.ndarray]:
    return dict(parity_images(data_dir))


def _max_difference(run: str, variant: str, images: dict[str, np.ndarray]) -> float:
    reference = REFERENCE[run]
    assert reference["classes"] == list(CLASSES)
    classifier = NsfwClassifier(Settings(nsfw_variant=variant))
    worst = 0.0
    for record in reference["results"]:
        rgb = images[record["file"]]
        if run.endswith("_224"):
            rgb = to_224(rgb)
        assert pixel_sha256(rgb) == record["sha256"], (
            f"{record['file']}: the pixels differ from those nsfwjs saw; re-run "
            "tests/parity/make_reference.py"
        )
        (signals,) = classifier.predict([Frame(rgb)])
        ours = np.array([signals.scores[c] for c in CLASSES])
        worst = max(worst, float(np.abs(ours - np.array(record["probabilities"])).max()))
    return worst


@pytest.mark.parametrize(
    ("run", "variant"),
    [
        ("mobilenet_v2_224", "mobilenet_v2"),
        ("mobilenet_v2_full", "mobilenet_v2"),
        ("inception_v3_full", "inception_v3"),
    ],
)
def test_port_matches_nsfwjs(run: str, variant: str, images: dict[str, np.ndarray]) -> None:
    worst = _max_difference(run, variant, images)
    print(f"{run}: max |Δp| = {worst:.2e} over {len(REFERENCE[run]['results'])} images")
    assert worst <= TOLERANCE[run]


def test_reference_covers_photos_and_drawings() -> None:
    files = [r["file"] for r in REFERENCE["mobilenet_v2_full"]["results"]]
    assert sum(f.startswith("photos/") for f in files) >= 10
    assert sum(f.startswith("drawings/") for f in files) >= 5

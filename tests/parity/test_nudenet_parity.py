"""Our NudeNet 320n port against `nudenet.NudeDetector().detect()` (nudenet 3.4.2) itself.

The reference is imported here only (never on the serving path); without it the tests skip
with a message (`pip install nudenet==3.4.2`, part of the dev extra) and fail under CI=true.
The real-photo tests need the shared data (`data_dir`); the synthetic-output test does not.

What is compared, per photo of `data_dir/images/photos` that OpenCV can read:

* the decoders: our media layer (`contentguard.media.decode`, Pillow, EXIF orientation
  applied) against `cv2.imread`; the only expected difference is orientation metadata OpenCV
  ignores (WebP/PNG EXIF);
  for those images the reference is run on our decoded pixels (as a BGR array) instead of
  the path, so the detector comparison stays pixel-for-pixel;
* the model input: bit-exact with NudeNet's `_read_image` blob;
* the detections: same labels, matched boxes IoU ≥ 0.9, scores within 0.03 (observed: equal).

The JPEG fast path (`decode(..., reduce_to=320)`, DCT-scaled decoding of large JPEGs) is
compared too, but only printed: it changes the pixels the model sees, hence the scores.

On these neutral sample photos NudeNet finds few regions, mostly faces (and a few false
positives on textures), so `test_decoding_matches_nudenet_on_synthetic_outputs` also drives
NudeNet's own post-processing and ours with thousands of made-up candidate boxes.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from contentguard.detectors.base import Prepared
from contentguard.detectors.image.nms import iou_xywh
from contentguard.detectors.image.nudity_detector import LABELS, NudityDetector
from contentguard.media.decode import decode
from contentguard.media.types import Frame
from contentguard.settings import Settings

NUDENET_VERSION = "3.4.2"
CV2_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
PEOPLE = ("skimage_astronaut.png", "skimage_camera.png", "pillow_hopper.")
#: faces the reference finds on the people images; pins the channel order and thresholds
EXPECTED_FACES = {"skimage_astronaut.png": "FACE_FEMALE", "skimage_camera.png": "FACE_MALE"}
MIN_IOU = 0.9
MAX_SCORE_DELTA = 0.03


@pytest.fixture(scope="module")
def nudenet(need: Any) -> Any:
    need(
        importlib.util.find_spec("nudenet") is not None,
        f"the reference NudeNet is not installed: pip install nudenet=={NUDENET_VERSION}",
    )
    installed = importlib.metadata.version("nudenet")
    need(
        installed == NUDENET_VERSION,
        f"nudenet {installed} is installed, the parity is with {NUDENET_VERSION}: "
        f"pip install nudenet=={NUDENET_VERSION}",
    )
    import nudenet
    import nudenet.nudenet

    return nudenet


@pytest.fixture(scope="module")
def reference(nudenet: Any) -> Any:
    return nudenet.NudeDetector()


@pytest.fixture(scope="module")
def ours(settings: Settings) -> NudityDetector:
    return NudityDetector(settings)


def _decode(path: Path, settings: Settings, reduce_to: int | None = None) -> Frame:
    """The first frame as the service decodes it (upright RGB; full size unless `reduce_to`)."""
    return next(decode(path.read_bytes(), settings, reduce_to=reduce_to).frames())


def _dihedral(image: np.ndarray) -> list[np.ndarray]:
    """The 8 rotations/flips (every EXIF orientation) of an image."""
    turns = [np.rot90(image, k) for k in range(4)]
    return turns + [t[:, ::-1] for t in turns]


@dataclass
class Photo:
    name: str
    path: Path
    rgb: np.ndarray  # what we decode (Pillow)
    decoders_agree: bool  # cv2.imread gives the same pixels

    @property
    def reference_input(self) -> str | np.ndarray:
        """The path when OpenCV decodes it as we do, else our pixels as a BGR array."""
        return str(self.path) if self.decoders_agree else np.ascontiguousarray(self.rgb[..., ::-1])


@pytest.fixture(scope="module")
def photos(data_dir: Path, nudenet: Any, settings: Settings, need: Any) -> list[Photo]:
    import cv2

    found: list[Photo] = []
    for path in sorted((data_dir / "images" / "photos").iterdir()):
        if path.suffix.lower() not in CV2_SUFFIXES:
            continue
        bgr = cv2.imread(str(path))
        if bgr is None:
            continue
        rgb = _decode(path, settings).pixels
        agree = bgr.shape == rgb.shape and np.array_equal(bgr[..., ::-1], rgb)
        found.append(Photo(path.name, path, rgb, agree))
    need(len(found) >= 20, f"expected at least 20 photos OpenCV can read, found {len(found)}")
    return found


def _report(capsys: pytest.CaptureFixture[str], lines: list[str]) -> None:
    with capsys.disabled():
        print("\n" + "\n".join(lines))


# --------------------------------------------------------------------------------------------
# Real photos
# --------------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_decoders_differ_only_in_orientation(photos: list[Photo], capsys: pytest.CaptureFixture[str]) -> None:
    import cv2

    differing = [p for p in photos if not p.decoders_agree]
    for photo in differing:
        bgr = cv2.imread(str(photo.path))
        assert any(
            t.shape == photo.rgb.shape and np.array_equal(t, photo.rgb) for t in _dihedral(bgr[..., ::-1])
        ), f"{photo.name}: Pillow and OpenCV decode different pixels, not just orientations"
    _report(
        capsys,
        [
            f"nudenet parity: {len(photos)} photos; cv2.imread ignores the orientation of "
            f"{len(differing)}: {', '.join(p.name for p in differing) or '-'} "
            "(the reference gets our upright pixels for those)"
        ],
    )


@pytest.mark.realdata
def test_model_input_is_bit_exact(photos: list[Photo], nudenet: Any, ours: NudityDetector) -> None:
    for photo in photos:
        blob = nudenet.nudenet._read_image(photo.reference_input, ours.input_size)[0]
        tensor = ours.preprocess(Frame(photo.rgb)).tensor
        np.testing.assert_array_equal(tensor[None], blob, err_msg=photo.name)


@dataclass
class Comparison:
    name: str
    ours: list[tuple[str, float, list[int]]]
    theirs: list[tuple[str, float, list[int]]]
    worst_iou: float = 1.0
    worst_delta: float = 0.0

    @property
    def labels_agree(self) -> bool:
        return sorted(d[0] for d in self.ours) == sorted(d[0] for d in self.theirs)

    @property
    def identical(self) -> bool:
        return self.ours == self.theirs


def _compare(photo: Photo, ours: NudityDetector, reference: Any) -> Comparison:
    (signals,) = ours.predict([Frame(photo.rgb)])
    mine = [(d.label, d.score, d.box) for d in signals.detections]
    theirs = [(d["class"], d["score"], d["box"]) for d in reference.detect(photo.reference_input)]
    result = Comparison(photo.name, mine, theirs)
    if not result.labels_agree:
        return result
    unmatched = list(theirs)
    for label, score, box in mine:  # greedy: best-IoU partner with the same label
        same = [t for t in unmatched if t[0] == label]
        ious = iou_xywh(np.array(box, float), np.array([t[2] for t in same], float))
        partner = same[int(np.argmax(ious))]
        unmatched.remove(partner)
        result.worst_iou = min(result.worst_iou, float(ious.max()))
        result.worst_delta = max(result.worst_delta, abs(score - partner[1]))
    return result


@pytest.mark.realdata
def test_detections_match_nudenet(
    photos: list[Photo],
    ours: NudityDetector,
    reference: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    results = [_compare(p, ours, reference) for p in photos]
    found = [r for r in results if r.theirs]
    n_ref = sum(len(r.theirs) for r in results)
    lines = [
        f"nudenet parity on {len(results)} photos: {n_ref} reference detections on "
        f"{len(found)} photos; labels agree on {sum(r.labels_agree for r in results)}/"
        f"{len(results)}; identical output (labels, float scores, int boxes) on "
        f"{sum(r.identical for r in results)}/{len(results)}; worst IoU "
        f"{min(r.worst_iou for r in results):.4f}, worst |Δscore| "
        f"{max(r.worst_delta for r in results):.2e}"
    ]
    for r in found:
        lines.append(f"  {r.name}: {[(d[0], round(d[1], 3), d[2]) for d in r.theirs]}")
    _report(capsys, lines)
    for r in results:
        assert r.labels_agree, f"{r.name}: ours {r.ours} vs nudenet {r.theirs}"
        assert r.worst_iou >= MIN_IOU, f"{r.name}: ours {r.ours} vs nudenet {r.theirs}"
        assert r.worst_delta <= MAX_SCORE_DELTA, f"{r.name}: ours {r.ours} vs nudenet {r.theirs}"


@pytest.mark.realdata
def test_people(
    photos: list[Photo],
    ours: NudityDetector,
    reference: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    people = [p for p in photos if p.name.startswith(PEOPLE)]
    assert len(people) >= 3
    lines = ["people images (ours | nudenet):"]
    for photo in people:
        r = _compare(photo, ours, reference)
        lines.append(f"  {photo.name}: {r.ours} | {r.theirs}")
        assert r.labels_agree and r.worst_iou >= MIN_IOU and r.worst_delta <= MAX_SCORE_DELTA
        if photo.name in EXPECTED_FACES:
            assert EXPECTED_FACES[photo.name] in {d[0] for d in r.ours}, photo.name
    _report(capsys, lines)


# --------------------------------------------------------------------------------------------
# NudeNet's own post-processing on made-up outputs (no data needed)
# --------------------------------------------------------------------------------------------


def _synthetic_output(rng: np.random.Generator, size: int) -> np.ndarray:
    """A [22, 2100] output with clusters of overlapping candidates, some off the edges."""
    out = np.zeros((4 + len(LABELS), 2100), np.float32)
    out[4:] = rng.uniform(0, 0.15, (len(LABELS), 2100))
    n = int(rng.integers(0, 400))
    centres = rng.uniform(-20, size + 20, (int(rng.integers(1, 12)), 2))
    pick = rng.integers(0, len(centres), n)
    out[0:2, :n] = (centres[pick] + rng.normal(0, 6, (n, 2))).T
    out[2:4, :n] = rng.uniform(2, 120, (n, 2)).T
    classes = rng.integers(0, len(LABELS), n)
    out[4 + classes, np.arange(n)] = rng.uniform(0.15, 0.95, n)
    if n and rng.random() < 0.3:  # exact ties and grid-aligned boxes
        out[:4, : n // 2] = np.round(out[:4, : n // 2])
        out[4 + classes[: n // 2], np.arange(n // 2)] = 0.5
    return out


def test_decoding_matches_nudenet_on_synthetic_outputs(nudenet: Any, ours: NudityDetector) -> None:
    rng = np.random.default_rng(2024)
    shapes = [(480, 640), (640, 480), (512, 512), (7, 13), (1440, 2560), (333, 1000), (1, 1)]
    compared = kept = 0
    for trial in range(300):
        height, width = shapes[trial % len(shapes)]
        raw = _synthetic_output(rng, ours.input_size)
        side = max(height, width)
        expected = nudenet.nudenet._postprocess(
            [raw[None]],
            side - width,
            side - height,
            side / width,
            side / height,
            width,
            height,
            ours.input_size,
            ours.input_size,
        )
        frame = Frame(np.zeros((height, width, 3), np.uint8))
        signals = ours.postprocess(raw, Prepared(np.empty(0), {"side": side}), frame)
        got = [(d.label, d.score, d.box) for d in signals.detections]
        assert got == [(d["class"], d["score"], d["box"]) for d in expected], f"trial {trial}"
        compared += 1
        kept += len(got)
    assert kept > 1000, "the synthetic outputs should keep many boxes"

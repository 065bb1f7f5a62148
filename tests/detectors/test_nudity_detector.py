"""The NudeNet 320n port: NMS, pre-processing, decoding and the detector's contract.

Runs on a user's clone: images are synthesised, the model comes from the model store (pulled
once into the default model directory). Comparisons with OpenCV run only where `cv2` is
installed (the `dev` extra brings it with nudenet); parity with NudeNet itself on real photos
is in tests/parity/test_nudenet_parity.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from contentguard.detectors.base import Prepared, Signals
from contentguard.detectors.image.nms import iou_xywh, nms
from contentguard.detectors.image.nudity_detector import LABELS, NudityDetector, _resize_like_opencv
from contentguard.detectors.image.resize import resize_bilinear
from contentguard.media.types import Frame
from contentguard.schemas import Detection

# --------------------------------------------------------------------------------------------
# NMS
# --------------------------------------------------------------------------------------------


def test_iou_has_no_plus_one() -> None:
    a = np.array([0.0, 0.0, 10.0, 10.0])
    others = np.array([[5, 0, 10, 10], [0, 0, 10, 10], [10, 0, 10, 10], [20, 20, 1, 1]])
    # 50 / 150; identical; touching edges; disjoint (OpenCV's widths have no +1)
    np.testing.assert_allclose(iou_xywh(a, others), [1 / 3, 1.0, 0.0, 0.0])


def test_iou_of_zero_area_boxes_is_one() -> None:
    # OpenCV's jaccardDistance: two empty boxes are "the same" (distance 0)
    assert iou_xywh(np.zeros(4), np.zeros((1, 4)))[0] == 1.0
    assert iou_xywh(np.zeros(4), np.array([[0.0, 0.0, 5.0, 5.0]]))[0] == 0.0


def test_nms_keeps_best_of_overlapping_boxes_best_first() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 10, 10], [51, 50, 10, 10]])
    scores = np.array([0.6, 0.9, 0.5, 0.7])
    assert nms(boxes, scores, 0.25, 0.45).tolist() == [1, 3]


def test_nms_keeps_disjoint_and_touching_boxes() -> None:
    boxes = np.array([[0, 0, 10, 10], [10, 0, 10, 10], [0, 10, 10, 10], [30, 30, 5, 5]])
    scores = np.array([0.3, 0.4, 0.5, 0.6])
    assert nms(boxes, scores, 0.25, 0.45).tolist() == [3, 2, 1, 0]


def test_nms_without_plus_one_widths() -> None:
    # IoU 50/150 = 0.333 without +1, 66/176 = 0.375 with it: a 0.35 threshold tells them apart
    boxes = np.array([[0, 0, 10, 10], [5, 0, 10, 10]])
    assert nms(boxes, np.array([0.9, 0.8]), 0.25, 0.35).tolist() == [0, 1]
    assert nms(boxes, np.array([0.9, 0.8]), 0.25, 0.30).tolist() == [0]


def test_nms_iou_threshold_edge() -> None:
    big = [0.0, 0.0, 20.0, 1.0]
    at = np.array([big, [0.0, 0.0, 9.0, 1.0]])  # IoU exactly 9/20 = 0.45: kept (≤)
    above = np.array([big, [0.0, 0.0, 9.01, 1.0]])  # IoU 0.4505: suppressed
    below = np.array([big, [0.0, 0.0, 8.99, 1.0]])
    scores = np.array([0.9, 0.8])
    assert nms(at, scores, 0.25, 0.45).tolist() == [0, 1]
    assert nms(above, scores, 0.25, 0.45).tolist() == [0]
    assert nms(below, scores, 0.25, 0.45).tolist() == [0, 1]


def test_nms_score_threshold_is_strict() -> None:
    boxes = np.array([[0, 0, 1, 1], [10, 10, 1, 1], [20, 20, 1, 1]], dtype=np.float32)
    scores = np.array([0.25, np.nextafter(np.float32(0.25), np.float32(1)), 0.2], np.float32)
    assert nms(boxes, scores, 0.25, 0.45).tolist() == [1]


def test_nms_ties_keep_input_order() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [40, 0, 10, 10], [40, 0, 10, 10]])
    scores = np.array([0.5, 0.5, 0.7, 0.7])
    assert nms(boxes, scores, 0.25, 0.45).tolist() == [2, 0]


def test_nms_suppression_is_not_transitive() -> None:
    # A suppresses B; C overlaps only B, so C survives (greedy NMS, not clustering)
    boxes = np.array([[0, 0, 10, 10], [3, 0, 10, 10], [6, 0, 10, 10]])  # IoU .54, .54, .25
    assert nms(boxes, np.array([0.9, 0.8, 0.7]), 0.25, 0.45).tolist() == [0, 2]


def test_nms_empty_and_mismatched_inputs() -> None:
    keep = nms(np.zeros((0, 4)), np.zeros(0), 0.25, 0.45)
    assert keep.dtype == np.int64 and keep.size == 0
    assert nms(np.ones((2, 4)), np.array([0.1, 0.2]), 0.25, 0.45).size == 0
    with pytest.raises(ValueError):
        nms(np.ones((2, 4)), np.ones(3), 0.25, 0.45)


def test_nms_matches_opencv_on_random_boxes() -> None:
    cv2 = pytest.importorskip("cv2", reason="opencv comes with the dev extra (nudenet)")
    rng = np.random.default_rng(7)
    for trial in range(300):
        n = int(rng.integers(1, 60))
        centres = rng.uniform(0, 200, (int(rng.integers(1, 6)), 2))
        xy = centres[rng.integers(0, len(centres), n)] + rng.normal(0, 8, (n, 2))
        wh = rng.uniform(0, 60, (n, 2))
        if trial % 3 == 0:  # integer boxes hit exact IoU values, duplicates and ties
            xy, wh = np.round(xy), np.round(wh)
        boxes = np.concatenate([xy, wh], axis=1).astype(np.float32)
        scores = rng.choice([0.25, 0.3, 0.5, 0.9], n).astype(np.float32)
        if trial % 2:
            scores = rng.uniform(0.2, 1.0, n).astype(np.float32)
        iou = float(rng.choice([0.3, 0.45, 0.5, 0.7]))
        expected = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), 0.25, iou)
        assert nms(boxes, scores, 0.25, iou).tolist() == np.asarray(expected).ravel().tolist()


# --------------------------------------------------------------------------------------------
# Pre-processing
# --------------------------------------------------------------------------------------------


def _pad_and_resize_cv2(cv2: Any, image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    side = max(h, w)
    padded = cv2.copyMakeBorder(image, 0, side - h, 0, side - w, cv2.BORDER_CONSTANT)
    return cv2.resize(padded, (320, 320), interpolation=cv2.INTER_LINEAR)


@pytest.mark.parametrize(
    ("height", "width"),
    [
        (1, 1),
        (7, 13),
        (128, 128),
        (159, 160),
        (320, 320),
        (321, 300),
        (360, 480),
        (480, 640),
        (641, 100),
        (1000, 999),
        (3, 1500),
        (1440, 2560),
    ],
)
def test_resize_is_bit_exact_with_opencv(height: int, width: int) -> None:
    cv2 = pytest.importorskip("cv2", reason="opencv comes with the dev extra (nudenet)")
    image = np.random.default_rng(height * 10_000 + width).integers(
        0, 256, (height, width, 3), dtype=np.uint8
    )
    ours = _resize_like_opencv(image, 320, 320, max(height, width))
    np.testing.assert_array_equal(ours, _pad_and_resize_cv2(cv2, image))


@pytest.mark.parametrize(("height", "width"), [(7, 13), (300, 200), (360, 480), (1275, 1700)])
def test_resize_is_within_one_of_float_bilinear(height: int, width: int) -> None:
    image = np.random.default_rng(width).integers(0, 256, (height, width, 3), dtype=np.uint8)
    side = max(height, width)
    ours = _resize_like_opencv(image, 320, 320, side).astype(np.float64)
    exact = resize_bilinear(image, 320, 320, align_corners=False, canvas=(side, side))
    assert np.abs(ours - exact).max() <= 1.0


def test_preprocess_tensor(nudity_detector: NudityDetector, synthetic_images: dict[str, np.ndarray]) -> None:
    wide = synthetic_images["face_wide"]  # 360 × 480: rows below 240 of 320 are padding
    tensor = nudity_detector.preprocess(Frame(wide)).tensor
    assert tensor.shape == (3, 320, 320) and tensor.dtype == np.float32
    assert tensor.flags.c_contiguous
    assert 0.0 <= tensor.min() and tensor.max() <= 1.0
    assert not tensor[:, 241:].any() and tensor[:, :239].any()
    # values are k / 255 as blobFromImage computes them: uint8 × float32(1/255)
    levels = np.rint(tensor * 255)
    np.testing.assert_array_equal(tensor, levels.astype(np.float32) * np.float32(1 / 255))


def test_preprocess_feeds_bgr_like_nudenet(nudity_detector: NudityDetector) -> None:
    red = np.zeros((50, 50, 3), np.uint8)
    red[..., 0] = 255
    tensor = nudity_detector.preprocess(Frame(red)).tensor
    assert nudity_detector.CHANNEL_ORDER == "BGR"
    assert tensor[2].min() == 1.0 and not tensor[:2].any()


# --------------------------------------------------------------------------------------------
# Decoding hand-made model outputs (no model run)
# --------------------------------------------------------------------------------------------


def _raw(*anchors: tuple[float, float, float, float, int, float]) -> np.ndarray:
    """A [22, 2100] model output with the given (cx, cy, w, h, class, score) anchors."""
    out = np.zeros((4 + len(LABELS), 2100), np.float32)
    out[4:, :] = 0.01
    for i, (cx, cy, w, h, cls, score) in enumerate(anchors):
        out[:4, i] = (cx, cy, w, h)
        out[4 + cls, i] = score
    return out


def _decode(
    detector: NudityDetector, raw: np.ndarray, height: int, width: int, scale: float = 1.0
) -> Signals:
    frame = Frame(np.zeros((height, width, 3), np.uint8), index=3, scale=scale)
    prepared = Prepared(np.empty(0, np.float32), {"side": max(height, width)})
    return detector.postprocess(raw, prepared, frame)


def test_decode_maps_boxes_to_image_pixels(nudity_detector: NudityDetector) -> None:
    face, breast, feet = LABELS.index("FACE_FEMALE"), 3, LABELS.index("FEET_EXPOSED")
    raw = _raw(
        (100, 80, 40, 20, face, 0.9),  # inside: × 640/320
        (10, 150, 40, 20, breast, 0.8),  # hangs off the left edge
        (250, 230, 40, 40, feet, 0.7),  # cut by the bottom edge (y 420 + h 80 > 480)
    )
    signals = _decode(nudity_detector, raw, height=480, width=640)
    got = {d.label: d for d in signals.detections}
    assert got["FACE_FEMALE"].box == [160, 140, 80, 40]
    # NudeNet clips x to 0 but keeps the full width (w = min(w, W - x) with the clipped x)
    assert got["FEMALE_BREAST_EXPOSED"].box == [0, 280, 80, 40]
    assert got["FEET_EXPOSED"].box == [460, 420, 80, 60]
    assert all(d.frame == 3 for d in signals.detections)
    assert [d.label for d in signals.detections] == [
        "FACE_FEMALE",
        "FEMALE_BREAST_EXPOSED",
        "FEET_EXPOSED",
    ]


def test_decode_thresholds_and_scores(nudity_detector: NudityDetector) -> None:
    face, male = LABELS.index("FACE_FEMALE"), LABELS.index("FACE_MALE")
    at_min = float(np.float32(NudityDetector.MIN_SCORE))
    just_above = float(np.nextafter(np.float32(at_min), np.float32(1)))
    raw = _raw(
        (40, 40, 20, 20, face, 0.6),
        (200, 40, 20, 20, face, 0.9),
        (40, 200, 20, 20, male, at_min),  # not > MIN_SCORE: dropped
        (200, 200, 20, 20, male, just_above),
        (120, 120, 20, 20, male, 0.22),  # a candidate (≥ 0.2) that NMS drops
    )
    signals = _decode(nudity_detector, raw, 320, 320)
    assert [(d.label, d.score) for d in signals.detections] == [
        ("FACE_FEMALE", float(np.float32(0.9))),
        ("FACE_FEMALE", float(np.float32(0.6))),
        ("FACE_MALE", just_above),
    ]
    assert set(signals.scores) == set(LABELS)
    assert signals.scores["FACE_FEMALE"] == float(np.float32(0.9))
    assert signals.scores["FACE_MALE"] == just_above
    assert sum(signals.scores.values()) == pytest.approx(0.9 + just_above)


def test_decode_nms_is_class_agnostic(nudity_detector: NudityDetector) -> None:
    breast, belly = LABELS.index("FEMALE_BREAST_EXPOSED"), LABELS.index("BELLY_EXPOSED")
    raw = _raw((100, 100, 50, 50, belly, 0.7), (102, 101, 50, 50, breast, 0.8))
    signals = _decode(nudity_detector, raw, 320, 320)
    assert [d.label for d in signals.detections] == ["FEMALE_BREAST_EXPOSED"]
    assert signals.scores["BELLY_EXPOSED"] == 0.0


def test_decode_box_in_padding_is_clipped_to_empty(nudity_detector: NudityDetector) -> None:
    raw = _raw((100, 300, 20, 20, 1, 0.9))  # below the 640×480 image, in the padding
    (detection,) = _decode(nudity_detector, raw, height=480, width=640).detections
    assert detection.box == [180, 480, 40, 0]


def test_decode_scales_to_original_pixels(nudity_detector: NudityDetector) -> None:
    raw = _raw((100.25, 80.75, 41.125, 20.875, 1, 0.9), (250, 230, 40, 40, 7, 0.7))
    one = _decode(nudity_detector, raw, 480, 640).detections
    two = _decode(nudity_detector, raw, 480, 640, scale=2.0).detections
    # [159.375, 140.625, 82.25, 41.75] truncated like NudeNet's int(), and scaled first
    assert one[0].box == [159, 140, 82, 41]
    assert two[0].box == [318, 281, 164, 83]
    for a, b in zip(one, two, strict=True):
        assert (a.label, a.score) == (b.label, b.score)
        assert all(0 <= q - 2 * p <= 1 for p, q in zip(a.box, b.box, strict=True))


def test_decode_of_nothing(nudity_detector: NudityDetector) -> None:
    signals = _decode(nudity_detector, _raw(), 100, 100)
    assert signals.detections == []
    assert signals.scores == dict.fromkeys(LABELS, 0.0)


# --------------------------------------------------------------------------------------------
# The detector end to end on synthetic images
# --------------------------------------------------------------------------------------------


def test_identity_and_model(nudity_detector: NudityDetector) -> None:
    assert nudity_detector.name == "nudity-detector"
    assert nudity_detector.model_name == "nudenet-320n"
    assert nudity_detector.version == "nudenet-3.4.2"
    assert nudity_detector.input_size == 320  # read from the model's metadata
    assert "image" in nudity_detector.kinds
    assert (NudityDetector.CANDIDATE_SCORE, NudityDetector.MIN_SCORE, NudityDetector.IOU) == (
        0.2,
        0.25,
        0.45,
    )


def test_run_accepts_a_dynamic_batch(
    nudity_detector: NudityDetector, synthetic_images: dict[str, np.ndarray]
) -> None:
    tensors = [nudity_detector.preprocess(Frame(p)).tensor for p in synthetic_images.values()]
    batch = nudity_detector.run(np.stack(tensors))
    assert batch.shape == (len(tensors), 4 + len(LABELS), 2100) and batch.dtype == np.float32
    for row, tensor in zip(batch, tensors, strict=True):
        single = nudity_detector.run(tensor[None])[0]
        np.testing.assert_allclose(row, single, rtol=0, atol=1e-4)


def test_predict_contract(nudity_detector: NudityDetector, synthetic_images: dict[str, np.ndarray]) -> None:
    frames = [Frame(p, index=i) for i, p in enumerate(synthetic_images.values())]
    results = nudity_detector.predict(frames)
    assert len(results) == len(frames)
    for frame, signals in zip(frames, results, strict=True):
        assert isinstance(signals, Signals)
        assert list(signals.scores) == list(LABELS)
        assert all(isinstance(s, float) and 0.0 <= s <= 1.0 for s in signals.scores.values())
        for d in signals.detections:
            assert isinstance(d, Detection) and d.frame == frame.index
            assert d.label in LABELS and d.score > NudityDetector.MIN_SCORE
            assert all(type(v) is int for v in d.box)


def test_loose_detections_are_sane(
    loose_detector: NudityDetector, synthetic_images: dict[str, np.ndarray]
) -> None:
    frames = [Frame(p) for p in synthetic_images.values()]
    total = 0
    for frame, signals in zip(frames, loose_detector.predict(frames), strict=True):
        total += len(signals.detections)
        scores = [d.score for d in signals.detections]
        assert scores == sorted(scores, reverse=True)
        for d in signals.detections:
            x, y, w, h = d.box
            assert 0 <= x <= frame.width and 0 <= y <= frame.height
            assert w >= 0 and h >= 0 and x + w <= frame.width and y + h <= frame.height
        for label in LABELS:
            best = max((d.score for d in signals.detections if d.label == label), default=0.0)
            assert signals.scores[label] == best
        boxes = np.array([d.box for d in signals.detections], np.float64).reshape(-1, 4)
        boxes = boxes[(boxes[:, 2] >= 20) & (boxes[:, 3] >= 20)]  # truncation moves small IoUs
        for i in range(len(boxes)):
            assert (iou_xywh(boxes[i], boxes[i + 1 :]) <= loose_detector.IOU + 0.05).all()
    assert total >= 10, "the loose thresholds should give detections to check"


def _same(a: list[Signals], b: list[Signals], box_tolerance: int = 0) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert [d.label for d in x.detections] == [d.label for d in y.detections]
        for p, q in zip(x.detections, y.detections, strict=True):
            assert p.score == pytest.approx(q.score, abs=1e-5)
            assert np.abs(np.subtract(p.box, q.box)).max() <= box_tolerance


def test_batching_matches_one_by_one(
    loose_detector: NudityDetector, synthetic_images: dict[str, np.ndarray]
) -> None:
    frames = [Frame(p) for p in synthetic_images.values()]  # batch_size 2: three chunks
    batched = loose_detector.predict(frames)
    single = [loose_detector.predict([f])[0] for f in frames]
    _same(batched, single, box_tolerance=1)


def test_scale_maps_boxes_to_the_original(
    loose_detector: NudityDetector, synthetic_images: dict[str, np.ndarray]
) -> None:
    checked = 0
    for name in ("face_wide", "tiny", "large_wide"):
        pixels = synthetic_images[name]
        (one,) = loose_detector.predict([Frame(pixels)])
        (two,) = loose_detector.predict([Frame(pixels, scale=2.0)])
        assert one.scores == two.scores
        for a, b in zip(one.detections, two.detections, strict=True):
            assert (a.label, a.score) == (b.label, b.score)
            assert all(0 <= q - 2 * p <= 1 for p, q in zip(a.box, b.box, strict=True))
            checked += 1
    assert checked >= 10


def test_deterministic(
    nudity_detector: NudityDetector,
    loose_detector: NudityDetector,
    synthetic_images: dict[str, np.ndarray],
) -> None:
    frames = [Frame(p) for p in synthetic_images.values()]
    for detector in (nudity_detector, loose_detector):
        first, second = detector.predict(frames), detector.predict(frames)
        assert first == second
    tensors = [nudity_detector.preprocess(f).tensor for f in frames]
    again = [nudity_detector.preprocess(f).tensor for f in frames]
    for t, u in zip(tensors, again, strict=True):
        np.testing.assert_array_equal(t, u)

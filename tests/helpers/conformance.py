"""The conformance suite every detector inherits: subclass `DetectorConformance` and provide a
`detector` fixture, and the new detector gets these tests (as in HMA's signal-type tests)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from contentguard.detectors import registry
from contentguard.detectors.base import ImageDetector, Signals, TextDetector
from contentguard.media.text import Normalized, normalize_many
from contentguard.media.types import Frame
from contentguard.schemas import Detection


def _frames(images: dict[str, np.ndarray]) -> list[Frame]:
    frames = [Frame(pixels, index=i) for i, pixels in enumerate(images.values())]
    # A frame decoded at half size (the JPEG fast path): results must be in original pixels.
    half = images["face_wide"][::2, ::2].copy()
    frames.append(Frame(half, index=len(frames), scale=2.0))
    for f in frames:
        f.pixels.setflags(write=False)  # detectors share frames; they must not write to them
    return frames


def _assert_same(a: list[Signals], b: list[Signals]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.scores.keys() == y.scores.keys()
        for key in x.scores:
            assert x.scores[key] == pytest.approx(y.scores[key], abs=1e-5)
        assert [d.label for d in x.detections] == [d.label for d in y.detections]
        for d, e in zip(x.detections, y.detections, strict=True):
            assert d.score == pytest.approx(e.score, abs=1e-5)
            assert all(abs(p - q) <= 1 for p, q in zip(d.box, e.box, strict=True))


class DetectorConformance:
    """Tests that hold for every image detector. Subclasses provide the `detector` fixture."""

    @pytest.fixture()
    def detector(self) -> ImageDetector:  # pragma: no cover - always overridden
        raise NotImplementedError

    @pytest.fixture()
    def frames(self, synthetic_images: dict[str, np.ndarray]) -> list[Frame]:
        return _frames(synthetic_images)

    def test_identity(self, detector: ImageDetector) -> None:
        assert isinstance(detector.name, str) and detector.name
        assert isinstance(detector.model_name, str) and detector.model_name
        assert isinstance(detector.version, str) and detector.version
        assert "image" in detector.kinds

    def test_registered_through_the_entry_point_group(self, detector: ImageDetector) -> None:
        assert registry.available()[detector.name] is type(detector)

    def test_predict_contract(self, detector: ImageDetector, frames: list[Frame]) -> None:
        signals = detector.predict(frames)
        assert len(signals) == len(frames)
        for frame, sig in zip(frames, signals, strict=True):
            assert isinstance(sig, Signals)
            assert sig.scores, "every detector reports scores the policy can use"
            assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in sig.scores.values())
            width, height = frame.width * frame.scale, frame.height * frame.scale
            for det in sig.detections:
                assert isinstance(det, Detection) and det.label
                assert 0.0 <= det.score <= 1.0
                x, y, w, h = det.box
                assert 0 <= x <= width and 0 <= y <= height and w >= 0 and h >= 0
                assert x + w <= width + 1 and y + h <= height + 1
                assert det.frame == frame.index

    def test_empty_batch(self, detector: ImageDetector) -> None:
        assert detector.predict([]) == []

    def test_batch_equals_one_by_one(self, detector: ImageDetector, frames: list[Frame]) -> None:
        _assert_same(detector.predict(frames), [detector.predict([f])[0] for f in frames])

    def test_deterministic(self, detector: ImageDetector, frames: list[Frame]) -> None:
        _assert_same(detector.predict(frames), detector.predict(frames))

    def test_preprocess_is_thread_safe_and_stackable(
        self, detector: ImageDetector, frames: list[Frame]
    ) -> None:
        serial = [detector.preprocess(f).tensor for f in frames]
        with ThreadPoolExecutor(4) as pool:
            parallel = [p.tensor for p in pool.map(detector.preprocess, frames * 3)]
        for i, tensor in enumerate(parallel):
            np.testing.assert_array_equal(tensor, serial[i % len(frames)])
        assert len({t.shape for t in serial}) == 1 and serial[0].dtype == np.float32
        outputs = detector.run(np.stack(serial))
        assert len(outputs) == len(serial)


TEXTS = [
    "have a lovely day",
    "you are a stupid idiot",
    "",
    "Scunthorpe United won 3-1 at home",
    "ѕhіt happens",  # Cyrillic look-alikes
    "Ünïcödé ✓ 日本語のテキスト 🙂",
    "word " * 300,
]


class TextDetectorConformance:
    """Tests that hold for every text detector. Subclasses provide the `detector` fixture."""

    @pytest.fixture()
    def detector(self) -> TextDetector:  # pragma: no cover - always overridden
        raise NotImplementedError

    @pytest.fixture()
    def batch(self) -> list[Normalized]:
        return normalize_many(TEXTS)

    def test_identity(self, detector: TextDetector) -> None:
        assert detector.name and detector.model_name and detector.version
        assert "text" in detector.kinds

    def test_registered_through_the_entry_point_group(self, detector: TextDetector) -> None:
        assert registry.available()[detector.name] is type(detector)

    def test_predict_contract(self, detector: TextDetector, batch: list[Normalized]) -> None:
        signals = detector.predict(batch)
        assert len(signals) == len(batch)
        for sig in signals:
            assert sig.scores and not sig.detections
            assert all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in sig.scores.values())

    def test_empty_batch(self, detector: TextDetector) -> None:
        assert detector.predict([]) == []

    def test_batch_equals_one_by_one(self, detector: TextDetector, batch: list[Normalized]) -> None:
        _assert_same(detector.predict(batch), [detector.predict([n])[0] for n in batch])

    def test_deterministic_and_thread_safe(self, detector: TextDetector, batch: list[Normalized]) -> None:
        first = detector.predict(batch)
        with ThreadPoolExecutor(4) as pool:
            for again in pool.map(detector.predict, [batch] * 4):
                _assert_same(first, again)

    def test_evidence_points_into_the_original_text(
        self, detector: TextDetector, batch: list[Normalized]
    ) -> None:
        classes = sorted({k for sig in detector.predict(batch) for k in sig.scores})
        for item in batch:
            for ev in detector.evidence(item, classes):
                assert 0 <= ev.start < ev.end <= len(item.original)
                assert item.original[ev.start:ev.end] == ev.text

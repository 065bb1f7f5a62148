"""Both built-in detectors pass the conformance suite."""

from __future__ import annotations

import pytest
from conformance import DetectorConformance

from contentguard.detectors.nsfw_classifier import NsfwClassifier
from contentguard.detectors.nudity_detector import NudityDetector
from contentguard.settings import Settings


class TestNsfwClassifierConformance(DetectorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def detector(cls, settings: Settings) -> NsfwClassifier:
        return NsfwClassifier(settings.model_copy(update={"batch_size": 3}))

    def test_probabilities_sum_to_one(self, detector: NsfwClassifier, frames) -> None:
        for sig in detector.predict(frames):
            assert set(sig.scores) == {"drawing", "hentai", "neutral", "porn", "sexy"}
            assert sum(sig.scores.values()) == pytest.approx(1.0, abs=1e-4)


class TestNudityDetectorConformance(DetectorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def detector(cls, nudity_detector: NudityDetector) -> NudityDetector:
        return nudity_detector

"""Every built-in detector, and every dummy of the fast test tier (helpers/dummy.py), passes
the conformance suite of its kind."""

from __future__ import annotations

import pytest
from helpers import dummy
from helpers.conformance import DetectorConformance, TextDetectorConformance

from contentguard.detectors import registry
from contentguard.detectors.base import Detector
from contentguard.detectors.image.nsfw_classifier import NsfwClassifier
from contentguard.detectors.image.nudity_detector import NudityDetector
from contentguard.detectors.text.profanity_detector import ProfanityDetector
from contentguard.detectors.text.text_classifier import TextClassifier
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


class TestProfanityDetectorConformance(TextDetectorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def detector(cls, settings: Settings) -> ProfanityDetector:
        return ProfanityDetector(settings)

    def test_evasions_score_like_the_plain_word(self, detector: ProfanityDetector) -> None:
        from contentguard.media.text import normalize

        plain = detector.predict([normalize("this is shit")])[0].scores["profanity"]
        for variant in ("this is sh1t", "this is s.h.i.t", "this is shiiiiit", "this is ѕhіt"):
            score = detector.predict([normalize(variant)])[0].scores["profanity"]
            assert score == pytest.approx(plain, abs=0.05), variant
        assert detector.predict([normalize("Scunthorpe United")])[0].scores["profanity"] < 0.5


class TestTextClassifierConformance(TextDetectorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def detector(cls, settings: Settings) -> TextClassifier:
        return TextClassifier(settings)

    def test_each_head_sums_to_one(self, detector: TextClassifier) -> None:
        from contentguard.media.text import normalize

        (sig,) = detector.predict([normalize("you are all idiots")])
        assert set(sig.scores) == {"hate", "offensive", "neither", "spam", "ham"}
        hate_head = sig.scores["hate"] + sig.scores["offensive"] + sig.scores["neither"]
        assert hate_head == pytest.approx(1, abs=1e-5)
        assert sig.scores["spam"] + sig.scores["ham"] == pytest.approx(1, abs=1e-5)

    def test_evidence_names_the_words_that_matter(self, detector: TextClassifier) -> None:
        from contentguard.media.text import normalize

        text = "Congratulations WINNER! Call 09061701461 now to claim your cash prize"
        evidence = detector.evidence(normalize(text), ["spam"])
        assert evidence and all(text[e.start:e.end] == e.text for e in evidence)
        assert evidence[0].weight >= evidence[-1].weight > 0
        assert "09061701461" in {e.text for e in evidence[:3]}


class DummyConformance:
    """What a dummy promises instead of being installed: it fills the slot of the registered
    detector of its name (same kinds, so the policy and the registry agree), and its model name
    says it is a dummy (so no result passes for a real model's)."""

    def test_registered_through_the_entry_point_group(self, detector: Detector) -> None:
        real = registry.available()[detector.name]
        assert real is not type(detector) and real.kinds == detector.kinds
        assert detector.model_name.startswith("dummy-")


class TestDummyImageDetectorConformance(DummyConformance, DetectorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def detector(cls, settings: Settings) -> dummy.DummyImageDetector:
        return dummy.DummyImageDetector(settings.model_copy(update={"batch_size": 3}))

    def test_probabilities_sum_to_one(self, detector: dummy.DummyImageDetector, frames) -> None:
        for sig in detector.predict(frames):
            assert set(sig.scores) == {"drawing", "hentai", "neutral", "porn", "sexy"}
            assert sum(sig.scores.values()) == pytest.approx(1.0, abs=1e-4)


class TestDummyRegionDetectorConformance(DummyConformance, DetectorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def detector(cls, settings: Settings) -> dummy.DummyRegionDetector:
        return dummy.DummyRegionDetector(settings.model_copy(update={"batch_size": 2}))


class TestDummyProfanityDetectorConformance(DummyConformance, TextDetectorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def detector(cls, settings: Settings) -> dummy.DummyProfanityDetector:
        return dummy.DummyProfanityDetector(settings)


class TestDummyTextDetectorConformance(DummyConformance, TextDetectorConformance):
    @pytest.fixture(scope="class")
    @classmethod
    def detector(cls, settings: Settings) -> dummy.DummyTextDetector:
        return dummy.DummyTextDetector(settings)

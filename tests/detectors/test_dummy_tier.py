"""The fast tier's promises (helpers/dummy.py), through the real moderators and the default
policy: which colours and words are blocked, reviewed or allowed. Were the policy's thresholds
to move, this says so before the surface tests built on these promises fail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import dummy
from helpers.samples import image_bytes, square_png

from contentguard.moderation.image import Moderator
from contentguard.moderation.policy import Policy
from contentguard.moderation.text import TextModerator
from contentguard.schemas import ModerationResult
from contentguard.settings import Settings

WHOLE = (0, 0, 160, 120)


# Moderators of their own, on the built-in policy (a test may change the shared ones' policy).
@pytest.fixture(scope="module")
def images(settings: Settings) -> Iterator[Moderator]:
    with dummy.moderator(settings, Policy.default()) as moderator:
        yield moderator


@pytest.fixture(scope="module")
def texts(settings: Settings) -> Iterator[TextModerator]:
    with dummy.text_moderator(settings, Policy.default()) as moderator:
        yield moderator


@pytest.mark.parametrize(("image", "decision", "reasons"), [
    (square_png((255, 0, 0), WHOLE), "block", ["sexual_explicit", "nudity_exposed"]),
    (square_png((0, 0, 255), WHOLE), "review", ["sexual_suggestive"]),
    (square_png((255, 0, 0), background=(255, 255, 255)), "review", ["nudity_exposed"]),  # unconfirmed
    (square_png((128, 128, 128)), "allow", []),
    (image_bytes(1), "allow", []),
], ids=["red", "blue", "red-square", "grey", "sample"])
def test_colours(images: Moderator, image: bytes, decision: str, reasons: list[str]) -> None:
    result = images.moderate(image, "x.png")
    assert isinstance(result, ModerationResult)
    assert (result.decision, [r.category for r in result.reasons]) == (decision, reasons)
    assert {m.name for m in result.models} == {"dummy-colour-classifier", "dummy-colour-regions"}
    assert set(result.scores) == {"drawing", "hentai", "neutral", "porn", "sexy"}


def test_a_square_is_found_where_it_is(images: Moderator) -> None:
    image = square_png((40, 40, 220), box=(400, 60, 160, 120), size=(640, 480))
    (found,) = images.moderate(image, "x.png").detections  # type: ignore[union-attr]
    assert (found.label, found.box, found.score) == ("FACE_FEMALE", [400, 60, 160, 120], 0.705882)


@pytest.mark.parametrize(("text", "decision", "reasons"), [
    ("you are a damn idiot", "review", ["profanity", "offensive"]),
    ("you s.h.i.t", "review", ["profanity"]),
    ("go away, vermin", "block", ["hate"]),
    ("WINNER! claim your free cash prize", "block", ["spam"]),
    ("have a lovely day", "allow", []),
])
def test_words(texts: TextModerator, text: str, decision: str, reasons: list[str]) -> None:
    result = texts.moderate(text)
    assert isinstance(result, ModerationResult)
    assert (result.decision, [r.category for r in result.reasons]) == (decision, reasons)
    for reason in result.reasons:
        assert reason.evidence and all(text[e.start:e.end] == e.text for e in reason.evidence)

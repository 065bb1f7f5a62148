"""The fast tier's promises (helpers/dummy.py), through the real moderators and the default
policy: which colours and words are blocked, reviewed or allowed. Were the policy's thresholds
to move, this says so before the surface tests built on these promises fail."""

from __future__ import annotations

import pytest
from helpers.samples import image_bytes, square_png

from contentguard.schemas import ModerationResult

WHOLE = (0, 0, 160, 120)


@pytest.mark.parametrize(("image", "decision", "reasons"), [
    (square_png((255, 0, 0), WHOLE), "block", ["sexual_explicit", "nudity_exposed"]),
    (square_png((0, 0, 255), WHOLE), "review", ["sexual_suggestive"]),
    (square_png((255, 0, 0), background=(255, 255, 255)), "review", ["nudity_exposed"]),  # unconfirmed
    (square_png((128, 128, 128)), "allow", []),
    (image_bytes(1), "allow", []),
], ids=["red", "blue", "red-square", "grey", "sample"])
def test_colours(dummy_moderator, image: bytes, decision: str, reasons: list[str]) -> None:  # type: ignore[no-untyped-def]
    result = dummy_moderator.moderate(image, "x.png")
    assert isinstance(result, ModerationResult)
    assert (result.decision, [r.category for r in result.reasons]) == (decision, reasons)
    assert {m.name for m in result.models} == {"dummy-colour-classifier", "dummy-colour-regions"}
    assert set(result.scores) == {"drawing", "hentai", "neutral", "porn", "sexy"}


def test_a_square_is_found_where_it_is(dummy_moderator) -> None:  # type: ignore[no-untyped-def]
    image = square_png((40, 40, 220), box=(400, 60, 160, 120), size=(640, 480))
    (found,) = dummy_moderator.moderate(image, "x.png").detections
    assert (found.label, found.box, found.score) == ("FACE_FEMALE", [400, 60, 160, 120], 0.705882)


@pytest.mark.parametrize(("text", "decision", "reasons"), [
    ("you are a damn idiot", "review", ["profanity", "offensive"]),
    ("you s.h.i.t", "review", ["profanity"]),
    ("go away, vermin", "block", ["hate"]),
    ("WINNER! claim your free cash prize", "block", ["spam"]),
    ("have a lovely day", "allow", []),
])
def test_words(dummy_text_moderator, text: str, decision: str, reasons: list[str]) -> None:  # type: ignore[no-untyped-def]
    result = dummy_text_moderator.moderate(text)
    assert isinstance(result, ModerationResult)
    assert (result.decision, [r.category for r in result.reasons]) == (decision, reasons)
    for reason in result.reasons:
        assert reason.evidence and all(text[e.start:e.end] == e.text for e in reason.evidence)

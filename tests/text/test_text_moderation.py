"""Texts through the policy: categories, decisions, evidence in the original text, chunks, limits."""

from __future__ import annotations

import pytest

from contentguard.detectors.text.profanity_detector import ProfanityDetector
from contentguard.moderation.policy import Policy
from contentguard.moderation.text import TextModerator, chunk_spans
from contentguard.schemas import ErrorResult, ModerationResult

PROFANITY_BLOCKS = Policy.from_yaml(
    "version: text-test@1\ncategories:\n"
    "  profanity: {detector: profanity, sum: [profanity], review: 0.5, block: 0.9}\n",
    origin="test",
)


@pytest.fixture(scope="module")
def moderator(settings) -> TextModerator:  # type: ignore[no-untyped-def]
    return TextModerator(settings, PROFANITY_BLOCKS, [ProfanityDetector(settings)])


def test_clean_and_profane_texts(moderator: TextModerator) -> None:
    clean, rude = moderator.moderate_many([("a", "have a lovely day"), ("b", "you are a stupid idiot")])
    assert isinstance(clean, ModerationResult) and isinstance(rude, ModerationResult)
    assert clean.kind == rude.kind == "text" and clean.media_type == "text/plain"
    assert clean.decision == "allow" and clean.label == "neutral" and not clean.reasons
    assert rude.decision == "block" and rude.label == "profanity"
    assert rude.width is None and rude.detections == []
    assert rude.policy_version == "text-test@1"
    assert {m.name for m in rude.models} == {"profanity-check"}


def test_evidence_points_at_the_evasion_as_written(moderator: TextModerator) -> None:
    text = "honestly you are a $tup1d 1d1ot and a s.h.i.t person"
    result = moderator.moderate(text)
    assert isinstance(result, ModerationResult)
    (reason,) = result.reasons
    assert reason.evidence
    for ev in reason.evidence:
        assert text[ev.start:ev.end] == ev.text
    assert "s.h.i.t" in {ev.text for ev in reason.evidence}


def test_long_texts_are_chunked_and_the_worst_chunk_decides(moderator: TextModerator, settings) -> None:
    words = settings.text_chunk_words
    text = ("the weather is mild today " * (words // 5 * 3)) + "what a fucking idiot"
    result = moderator.moderate(text)
    assert isinstance(result, ModerationResult)
    assert result.frames >= 3 and result.decisive_frame == result.frames - 1
    assert result.decision == "block"
    ev = result.reasons[0].evidence
    assert ev and all(text[e.start:e.end] == e.text for e in ev)
    assert min(e.start for e in ev) > len(text) - 30


def test_chunk_spans_cover_every_word() -> None:
    text = "  one two\tthree\nfour five  "
    spans = chunk_spans(text, 2)
    assert [text[a:b] for a, b in spans] == ["one two", "three\nfour", "five"]
    assert chunk_spans("", 5) == [(0, 0)]


def test_too_long_text_is_an_error_result_and_others_go_on(settings) -> None:  # type: ignore[no-untyped-def]
    small = settings.model_copy(update={"max_text_chars": 50})
    moderator = TextModerator(small, PROFANITY_BLOCKS, [ProfanityDetector(small)])
    ok, long = moderator.moderate_many([("ok", "fine"), ("long", "x" * 51)])
    assert isinstance(ok, ModerationResult)
    assert isinstance(long, ErrorResult) and long.error.code == "too_large"


def test_a_failing_detector_never_silently_allows(settings) -> None:  # type: ignore[no-untyped-def]
    class Broken(ProfanityDetector):
        def predict(self, batch):  # type: ignore[no-untyped-def]
            raise RuntimeError("model exploded")

    moderator = TextModerator(settings, PROFANITY_BLOCKS, [Broken(settings)])
    result = moderator.moderate("hello")
    assert isinstance(result, ModerationResult)
    assert result.decision == "review"
    assert result.models[0].status == "error" and "exploded" in (result.models[0].error or "")


def test_default_policy_moderates_texts(settings) -> None:  # type: ignore[no-untyped-def]
    moderator = TextModerator(settings)
    assert {d.name for d in moderator.detectors} >= {"profanity"}
    result = moderator.moderate("sh1t")
    assert isinstance(result, ModerationResult) and "profanity" in result.categories
    assert result.policy_version == Policy.default().version


def test_classifier_evidence_for_two_categories_runs_the_encoder_once(settings) -> None:  # type: ignore[no-untyped-def]
    """Hate and offensive come from one head: their leave-one-word-out batch is shared, and the
    shared answer is the one each would get on its own."""
    from contentguard.detectors.text.text_classifier import TextClassifier
    from contentguard.media.text import normalize

    item = normalize("you stupid worthless idiots should all get out of this country")
    alone = TextClassifier(settings)
    expected = {c: alone.evidence(item, [c]) for c in ("hate", "offensive")}
    shared = TextClassifier(settings)
    calls = []
    encode = shared.encoder.encode
    shared.encoder.encode = lambda texts, *a, **k: calls.append(len(texts)) or encode(texts, *a, **k)  # type: ignore[method-assign]
    assert shared.evidence(item, ["hate"]) == expected["hate"]
    assert shared.evidence(item, ["offensive"]) == expected["offensive"]
    assert len(calls) == 1 and calls[0] > 5
    assert expected["offensive"], "the text has offensive words to point at"

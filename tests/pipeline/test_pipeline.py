"""The pipeline end to end with the real models, on images the tests make themselves."""

from __future__ import annotations

import hashlib

import pytest
from helpers.samples import gif_bytes, image_bytes

from contentguard.detectors.image.nudity_detector import NudityDetector
from contentguard.detectors.onnx_session import create_session
from contentguard.models.store import ModelStore
from contentguard.moderation.image import Item, Moderator, Skipped
from contentguard.moderation.policy import Policy
from contentguard.schemas import ErrorResult, ModerationResult
from contentguard.settings import Settings

CONTRACT_FIELDS = {
    "id", "source", "kind", "media_type", "decision", "label", "confidence", "scores",
    "categories", "detections", "reasons", "frames", "models", "policy_version", "duration_ms",
}


def with_cascade(policy: Policy, enabled: bool, safe_below: float = 0.1) -> Policy:
    cascade = policy.cascade.model_copy(update={"enabled": enabled, "safe_below": safe_below})
    return policy.model_copy(update={"cascade": cascade})


def block_everything() -> Policy:
    """Any classifier output blocks: lets tests reach 'block' with harmless pictures."""
    return Policy.from_yaml(
        "version: test@1\ncategories:\n"
        "  anything: {detector: nsfw-classifier, sum: [neutral, drawing, porn, hentai, sexy],"
        " block: 0.0}\n",
        origin="test",
    )


@pytest.fixture(scope="module")
def moderator(settings: Settings):
    with Moderator(settings) as m:
        yield m


def test_result_follows_the_contract(moderator: Moderator) -> None:
    data = image_bytes(1)
    result = moderator.moderate(data, "gradient.png")
    assert isinstance(result, ModerationResult)
    assert CONTRACT_FIELDS <= set(result.model_dump())
    assert result.id == hashlib.sha256(data).hexdigest()
    assert result.source == "gradient.png"
    assert result.kind == "image" and result.media_type == "image/png"
    assert (result.width, result.height) == (160, 120)
    assert set(result.scores) == {"drawing", "hentai", "neutral", "porn", "sexy"}
    assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-4)
    assert set(result.categories) == {"sexual_explicit", "sexual_suggestive", "nudity_exposed"}
    assert result.categories["sexual_explicit"] == pytest.approx(
        min(1.0, result.scores["porn"] + result.scores["hentai"]), abs=1e-5
    )
    assert [m.name for m in result.models] == ["nsfw-mobilenet-v2", "nudenet-320n"]
    assert all(m.status == "ok" and m.duration_ms > 0 for m in result.models)
    assert result.policy_version == "default@2"
    assert result.frames == 1 and result.total_frames == 1 and result.decisive_frame is None
    assert result.label in ("explicit", "suggestive", "neutral")
    assert 0 < result.confidence <= 1


def test_batch_keeps_order_and_one_bad_item_does_not_fail_the_others(
    moderator: Moderator,
) -> None:
    items = [
        Item.from_bytes(image_bytes(2), "a.png"),
        Item.from_bytes(b"this is plain text, not an image", "b.txt"),
        Item.from_bytes(gif_bytes(5), "c.gif"),
        Item.from_bytes(image_bytes(3, fmt="JPEG"), "d.jpg"),
        Item.from_bytes(image_bytes(4)[:200], "e.png"),
    ]
    outcomes = list(moderator.moderate_many(items))
    assert [o.source for o in outcomes] == ["a.png", "b.txt", "c.gif", "d.jpg", "e.png"]
    assert isinstance(outcomes[0], ModerationResult)
    assert isinstance(outcomes[1], ErrorResult) and outcomes[1].error.code == "unsupported_media"
    assert isinstance(outcomes[2], ModerationResult) and outcomes[2].total_frames == 5
    assert isinstance(outcomes[3], ModerationResult) and outcomes[3].media_type == "image/jpeg"
    assert isinstance(outcomes[4], ErrorResult) and outcomes[4].error.code == "decode_failed"


def test_batched_results_equal_one_by_one(moderator: Moderator) -> None:
    datas = [image_bytes(10 + i) for i in range(5)]
    together = list(moderator.moderate_many(Item.from_bytes(d, str(i)) for i, d in enumerate(datas)))
    alone = [moderator.moderate(d, str(i)) for i, d in enumerate(datas)]
    for a, b in zip(together, alone, strict=True):
        assert a.scores == pytest.approx(b.scores, abs=1e-5)
        assert a.decision == b.decision


def test_a_loader_that_fails_gives_an_error_object(moderator: Moderator) -> None:
    def broken() -> bytes:
        raise OSError("disk on fire")

    (outcome,) = moderator.moderate_many([Item("x.png", broken)])
    assert isinstance(outcome, ErrorResult)
    assert outcome.error.code == "internal_error" and "disk on fire" in outcome.error.message


def test_skip_ids_only_hash(moderator: Moderator) -> None:
    data = image_bytes(5)
    digest = hashlib.sha256(data).hexdigest()
    (outcome,) = moderator.moderate_many([Item.from_bytes(data, "x")], skip_ids={digest})
    assert outcome == Skipped("x", digest)


def test_animation_is_sampled_and_reports_frames(settings: Settings) -> None:
    with Moderator(settings) as moderator:
        result = moderator.moderate(gif_bytes(20), "anim.gif")
    assert isinstance(result, ModerationResult)
    assert result.total_frames == 20
    assert result.frames == settings.max_frames
    assert result.decisive_frame is not None and 0 <= result.decisive_frame < 20


def test_animation_stops_at_the_first_blocked_frame(settings: Settings) -> None:
    with Moderator(settings, block_everything()) as moderator:
        result = moderator.moderate(gif_bytes(20), "anim.gif")
    assert result.decision == "block"
    assert result.frames == 1 and result.decisive_frame == 0
    assert result.reasons[0].category == "anything" and result.reasons[0].action == "block"
    assert result.policy_version == "test@1"


def test_cascade_skips_the_detector_only_when_safe(settings: Settings) -> None:
    data = image_bytes(6)
    on = with_cascade(Policy.default(), True, safe_below=1.01)  # everything counts as safe
    with Moderator(settings, on) as moderator:
        skipped = moderator.moderate(data, "x.png")
    runs = {m.name: m.status for m in skipped.models}
    assert runs == {"nsfw-mobilenet-v2": "ok", "nudenet-320n": "skipped"}
    assert "nudity_exposed" not in skipped.categories

    never = with_cascade(Policy.default(), True, safe_below=0.0)  # nothing is below 0
    with Moderator(settings, never) as moderator:
        ran = moderator.moderate(data, "x.png")
    assert {m.name: m.status for m in ran.models}["nudenet-320n"] == "ok"
    assert skipped.scores == pytest.approx(ran.scores, abs=1e-6)


def test_one_model_failing_keeps_the_other_and_never_allows(settings: Settings) -> None:
    broken = NudityDetector(settings)
    # A real failure: the detector is handed the classifier's model file, whose input
    # shape does not fit, so ONNX Runtime raises inside `run`.
    broken.session = create_session(ModelStore(settings).ensure("nsfw-mobilenet-v2"), settings)
    broken.input_name = broken.session.get_inputs()[0].name
    from contentguard.detectors.image.nsfw_classifier import NsfwClassifier

    with Moderator(settings, detectors=[NsfwClassifier(settings), broken]) as moderator:
        assert "nudity-detector" in moderator.warm_up_errors  # found at start, not fatal
        result = moderator.moderate(image_bytes(7), "x.png")
    status = {m.name: m for m in result.models}
    assert status["nsfw-mobilenet-v2"].status == "ok"
    assert status["nudenet-320n"].status == "error" and status["nudenet-320n"].error
    assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-4)
    assert result.decision == "review"  # the policy's on_model_error


def test_too_large_input_is_refused(settings: Settings) -> None:
    small = settings.model_copy(update={"max_bytes": 1000})
    with Moderator(small) as moderator:
        outcome = moderator.moderate(image_bytes(8, size=(400, 400)), "big.png")
    assert isinstance(outcome, ErrorResult) and outcome.error.code == "too_large"

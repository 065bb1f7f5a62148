"""The policy file: validation, categories, reasons, decisions, cascade, the three-way label."""

from __future__ import annotations

from pathlib import Path

import pytest

from contentguard.detectors.base import Signals
from contentguard.errors import InvalidPolicy
from contentguard.moderation.policy import Policy, three_way_label

CLEAN = {"drawing": 0.05, "hentai": 0.0, "neutral": 0.93, "porn": 0.01, "sexy": 0.01}
PORN = {"drawing": 0.0, "hentai": 0.05, "neutral": 0.02, "porn": 0.9, "sexy": 0.03}


def signals(classifier=None, detector=None) -> dict[str, Signals]:
    out: dict[str, Signals] = {}
    if classifier is not None:
        out["nsfw-classifier"] = Signals(scores=classifier)
    if detector is not None:
        out["nudity-detector"] = Signals(scores=detector)
    return out


def test_default_policy_loads_with_image_and_text_categories() -> None:
    policy = Policy.default()
    assert policy.version == "default@2"
    image = {"sexual_explicit", "sexual_suggestive", "nudity_exposed"}
    assert image <= set(policy.categories)
    assert {"profanity", "hate", "offensive", "spam"} <= set(policy.categories) - image
    assert policy.cascade.enabled is False


def test_explicit_is_porn_plus_hentai_and_blocks() -> None:
    policy = Policy.default()
    cats = policy.categories_for(signals(PORN, {"FEMALE_BREAST_EXPOSED": 0.0}))
    assert cats["sexual_explicit"] == pytest.approx(0.95)
    reasons = policy.reasons_for(cats, {"nsfw-classifier": "nsfw-mobilenet-v2"})
    assert reasons[0].category == "sexual_explicit"
    assert reasons[0].action == "block"
    assert reasons[0].model == "nsfw-mobilenet-v2"
    assert reasons[0].threshold == policy.categories["sexual_explicit"].block
    assert policy.decide(reasons, model_failed=False) == "block"


def test_clean_image_is_allowed_without_reasons() -> None:
    policy = Policy.default()
    cats = policy.categories_for(signals(CLEAN, {"FACE_FEMALE": 0.8}))
    assert policy.reasons_for(cats, {}) == []
    assert policy.decide([], model_failed=False) == "allow"


def test_exposed_detection_uses_the_highest_listed_label() -> None:
    policy = Policy.default()
    cats = policy.categories_for(
        signals(CLEAN, {"BUTTOCKS_EXPOSED": 0.45, "MALE_GENITALIA_EXPOSED": 0.3, "FACE_MALE": 0.99})
    )
    assert cats["nudity_exposed"] == pytest.approx(0.45)
    reasons = policy.reasons_for(cats, {})
    assert [(r.category, r.action) for r in reasons] == [("nudity_exposed", "review")]


def test_threshold_is_inclusive() -> None:
    policy = Policy.default()
    block = policy.categories["sexual_explicit"].block
    assert policy.categories["sexual_explicit"].action(block) == "block"
    assert policy.categories["sexual_explicit"].action(block - 1e-6) == "review"


def test_model_failure_never_silently_allows() -> None:
    policy = Policy.default()
    assert policy.decide([], model_failed=True) == "review"


def test_categories_of_detectors_that_did_not_run_are_absent() -> None:
    cats = Policy.default().categories_for(signals(CLEAN))
    assert "nudity_exposed" not in cats


def test_cascade_skips_only_when_enabled_and_confidently_safe() -> None:
    policy = Policy.default()
    safe = policy.categories_for(signals(CLEAN))
    assert not policy.skips("nudity-detector", safe)  # off by default
    on = policy.model_copy(update={"cascade": policy.cascade.model_copy(update={"enabled": True})})
    assert on.skips("nudity-detector", safe)
    assert not on.skips("nudity-detector", on.categories_for(signals(PORN)))
    assert not on.skips("nsfw-classifier", safe)


def test_three_way_label() -> None:
    assert three_way_label(PORN) == ("explicit", pytest.approx(0.95))
    assert three_way_label(CLEAN) == ("neutral", pytest.approx(0.98))
    assert three_way_label({"sexy": 0.6, "neutral": 0.3, "porn": 0.1})[0] == "suggestive"


def test_policy_file_replaces_default_and_unversioned_files_get_a_content_version(
    tmp_path: Path,
) -> None:
    path = tmp_path / "strict.yaml"
    path.write_text(
        "categories:\n"
        "  sexual_explicit: {detector: nsfw-classifier, sum: [porn, hentai], review: 0.1, block: 0.2}\n"
    )
    policy = Policy.from_file(path)
    assert policy.version.startswith("strict@") and len(policy.version) == len("strict@") + 12
    cats = policy.categories_for(signals({"porn": 0.25}))
    assert policy.decide(policy.reasons_for(cats, {}), model_failed=False) == "block"
    path.write_text(path.read_text().replace("0.2}", "0.3}"))
    assert Policy.from_file(path).version != policy.version


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("categories: [", "not valid YAML"),
        ("- just a list", "must be a mapping"),
        ("categories:\n  x: {detector: d, sum: [a], max: [b]}\n", "exactly one of"),
        ("categories:\n  x: {detector: d, sum: [a], review: 0.9, block: 0.5}\n", "must not exceed"),
        ("categories:\n  x: {detector: d, sum: [a], block: 1.5}\n", "less than or equal to 1"),
        ("categories: {}\nsurprise: 1\n", "surprise"),
    ],
)
def test_invalid_policies_are_refused_with_a_clear_message(
    tmp_path: Path, text: str, needle: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InvalidPolicy) as info:
        Policy.from_file(path)
    assert needle in info.value.message
    assert str(path) in info.value.message


def test_missing_policy_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidPolicy, match="cannot read policy file"):
        Policy.from_file(tmp_path / "nope.yaml")


def test_detector_block_without_classifier_support_goes_to_review() -> None:
    policy = Policy.default()
    cats = policy.categories_for(signals(CLEAN, {"BUTTOCKS_EXPOSED": 0.83}))
    (reason,) = policy.reasons_for(cats, {})
    assert reason.category == "nudity_exposed" and reason.action == "review"
    assert reason.threshold == policy.categories["nudity_exposed"].block
    assert "disagree" in (reason.note or "")
    assert policy.decide([reason], model_failed=False) == "review"


def test_detector_block_with_classifier_support_blocks() -> None:
    policy = Policy.default()
    suggestive = {"neutral": 0.6, "sexy": 0.4}
    cats = policy.categories_for(signals(suggestive, {"FEMALE_BREAST_EXPOSED": 0.83}))
    reasons = policy.reasons_for(cats, {})
    assert reasons[0].category == "nudity_exposed" and reasons[0].action == "block"
    assert reasons[0].note is None


def test_confirm_with_must_name_existing_categories() -> None:
    with pytest.raises(InvalidPolicy, match="unknown categories"):
        Policy.from_yaml(
            "categories:\n  x: {detector: d, sum: [a], block: 0.5, confirm_with: [nope]}\n",
            origin="t",
        )

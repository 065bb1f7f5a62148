"""The one result assembler (`moderation/assemble.py`) that images and texts share."""

from __future__ import annotations

from contentguard.detectors.base import Signals
from contentguard.moderation.assemble import judge, merge_runs, peak_categories
from contentguard.moderation.policy import Policy
from contentguard.schemas import ModelRun

POLICY = Policy.model_validate({
    "version": "t-1", "on_model_error": "review",
    "categories": {"profanity": {"detector": "words", "max": ["profanity"], "review": 0.5, "block": 0.9}},
})


def _run(name: str, status: str, ms: float, error: str | None = None) -> ModelRun:
    return ModelRun(name=name, version="1", status=status, duration_ms=ms, error=error)  # type: ignore[arg-type]


def test_peak_categories_keep_each_highest_score_and_the_first_part_on_ties() -> None:
    categories, where = peak_categories([{"a": 0.2, "b": 0.7}, {"a": 0.9, "b": 0.7}, {"a": 0.9}])
    assert categories == {"a": 0.9, "b": 0.7} and where == {"a": 1, "b": 0}


def test_merged_runs_add_durations_and_an_error_anywhere_wins() -> None:
    merged = merge_runs([
        {"x": _run("x", "ok", 1.25), "y": _run("y", "skipped", 0)},
        {"x": _run("x", "error", 2.5, "boom"), "y": _run("y", "ok", 0.1)},
        {"x": _run("x", "ok", 0.0004), "y": _run("y", "skipped", 0)},
    ])
    assert [(r.name, r.status, r.duration_ms, r.error) for r in merged] == [
        ("x", "error", 3.75, "boom"),
        ("y", "ok", 0.1, None),
    ]
    assert merge_runs([{"z": _run("z", "skipped", 0)}] * 3)[0].status == "skipped"


def test_one_part_run_n_times_is_n_shares() -> None:
    """A text's chunks each took a share of the batched run: n chunks, n shares."""
    (run,) = merge_runs([{"w": _run("w", "ok", 0.3333333)}] * 3)
    assert run.duration_ms == 1.0


def test_judge_decides_on_the_peak_and_names_the_decisive_part() -> None:
    parts = [{"words": Signals({"profanity": 0.2})}, {"words": Signals({"profanity": 0.95})}]
    judged = judge(POLICY, parts, [_run("w", "ok", 1)], {"words": "w"})
    assert judged.decision == "block" and judged.decisive == 1
    assert judged.categories == {"profanity": 0.95} and judged.reasons[0].model == "w"
    result = judged.result(
        id="0" * 64, source="s", kind="text", media_type="text/plain", label="profanity",
        confidence=0.95, scores={}, detections=[], frames=2, total_frames=2, decisive_frame=1,
        duration_ms=1.0,
    )
    assert result.decision == "block" and result.policy_version == "t-1"
    assert result.models == judged.models


def test_a_failed_model_makes_a_clean_item_at_least_the_policy_s_on_model_error() -> None:
    parts = [{"words": Signals({"profanity": 0.1})}, {"words": Signals({"profanity": 0.3})}]
    judged = judge(POLICY, parts, [_run("w", "error", 1, "boom")], {"words": "w"})
    assert judged.reasons == [] and judged.decision == "review"
    assert judged.decisive == 1  # no reason: the part with the highest category score

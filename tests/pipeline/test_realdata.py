"""The whole engine on the real data: photos, drawings, animations and the bad-input corpus."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from contentguard.moderation.image import Item, Moderator
from contentguard.schemas import ErrorResult, ModerationResult
from contentguard.settings import Settings

ALLOWED_ERRORS = {"unsupported_media", "too_large", "decode_failed", "timeout"}


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def moderator(settings: Settings):
    with Moderator(settings) as m:
        yield m


def moderate_folder(moderator: Moderator, folder: Path) -> list:
    return list(moderator.moderate_many(Item(str(p), p.read_bytes) for p in files(folder)))


def report(title: str, outcomes: list) -> None:
    print(f"\n{title}")
    for o in outcomes:
        if isinstance(o, ErrorResult):
            print(f"  {Path(o.source).name}: error {o.error.code}")
        else:
            print(f"  {Path(o.source).name}: {o.decision} {o.label} {o.confidence:.2f}")
    results = [o for o in outcomes if isinstance(o, ModerationResult)]
    print("  decisions", dict(Counter(o.decision for o in results)),
          "labels", dict(Counter(o.label for o in results)))


@pytest.mark.realdata
def test_all_photos_are_moderated_and_none_is_blocked(data_dir: Path, moderator: Moderator) -> None:
    outcomes = moderate_folder(moderator, data_dir / "images" / "photos")
    report("photos", outcomes)
    assert len(outcomes) == 44
    assert all(isinstance(o, ModerationResult) for o in outcomes), [
        o for o in outcomes if isinstance(o, ErrorResult)
    ]
    assert not [o.source for o in outcomes if o.decision == "block"]
    assert Counter(o.label for o in outcomes)["neutral"] >= 40


@pytest.mark.realdata
def test_all_drawings_are_moderated(data_dir: Path, moderator: Moderator) -> None:
    outcomes = moderate_folder(moderator, data_dir / "images" / "drawings")
    report("drawings", outcomes)
    assert len(outcomes) == 49
    assert all(isinstance(o, ModerationResult) for o in outcomes)
    assert not [o.source for o in outcomes if o.decision == "block"]


@pytest.mark.realdata
def test_animations_report_their_frames(data_dir: Path, moderator: Moderator, settings: Settings) -> None:
    for path in files(data_dir / "images" / "animated"):
        outcome = moderator.moderate(path.read_bytes(), str(path))
        if path.suffix == ".fli":
            assert isinstance(outcome, ErrorResult) and outcome.error.code == "unsupported_media"
            continue
        assert isinstance(outcome, ModerationResult), outcome
        with Image.open(path) as im:
            expected = getattr(im, "n_frames", 1)
        assert outcome.total_frames == expected, path.name
        if outcome.decision == "block":  # the walk stops at the first blocked frame
            assert outcome.frames <= min(expected, settings.max_frames)
        else:
            assert outcome.frames == min(expected, settings.max_frames)
        if expected > 1:
            assert outcome.decisive_frame is not None and 0 <= outcome.decisive_frame < expected


@pytest.mark.realdata
def test_every_bad_file_gives_an_error_code_or_a_result_quickly(
    data_dir: Path, moderator: Moderator
) -> None:
    paths = files(data_dir / "images" / "bad")
    assert len(paths) == 139
    codes: Counter[str] = Counter()
    for path in paths:
        started = time.perf_counter()
        outcome = moderator.moderate(path.read_bytes(), str(path))
        elapsed = time.perf_counter() - started
        assert elapsed < 2.0, f"{path.name} took {elapsed:.2f} s"
        if isinstance(outcome, ErrorResult):
            assert outcome.error.code in ALLOWED_ERRORS, (path.name, outcome.error)
            assert outcome.error.message
            codes[outcome.error.code] += 1
        else:
            assert outcome.decision in ("allow", "review", "block")
            codes["result"] += 1
    print("\nbad corpus through the pipeline:", dict(codes))
    assert codes["too_large"] >= 7  # the decompression bombs

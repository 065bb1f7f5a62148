"""The large-JPEG fast path (DCT-scaled decoding) keeps the models' answers.

Measured on every JPEG of the real data that the fast path actually reduces: the classifier's
top class never changes and its probabilities move by less than 0.02 on average. The figures
are printed for docs/media.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from contentguard.detectors.image.nsfw_classifier import CLASSES, NsfwClassifier
from contentguard.detectors.image.nudity_detector import NudityDetector
from contentguard.errors import ContentGuardError
from contentguard.media import decode
from contentguard.moderation.image import Moderator
from contentguard.settings import Settings


def _first_frame(data: bytes, settings: Settings, reduce_to: int | None):
    return next(decode(data, settings, reduce_to=reduce_to).frames())


@pytest.mark.realdata
def test_fast_path_keeps_top_label_and_moves_scores_little(data_dir: Path, settings: Settings) -> None:
    with Moderator(settings) as moderator:
        reduce_to = moderator.reduce_to
    assert reduce_to is not None, "the fast path is on by default"
    classifier, detector = NsfwClassifier(settings), NudityDetector(settings)
    rows = []
    for path in sorted((data_dir / "images").rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        try:
            reference = _first_frame(data, settings, None)
            fast = _first_frame(data, settings, reduce_to)
        except ContentGuardError:
            continue
        if fast.scale == 1.0:
            continue  # not reduced: identical by construction
        ref_p, fast_p = (
            np.array([s.scores[c] for c in CLASSES]) for s in classifier.predict([reference, fast])
        )
        ref_d, fast_d = detector.predict([reference, fast])
        labels = set(ref_d.scores) | set(fast_d.scores)
        rows.append((
            path.relative_to(data_dir).as_posix(), fast.scale,
            CLASSES[ref_p.argmax()], CLASSES[fast_p.argmax()],
            float(np.abs(ref_p - fast_p).mean()), float(np.abs(ref_p - fast_p).max()),
            max((abs(ref_d.scores.get(k, 0) - fast_d.scores.get(k, 0)) for k in labels), default=0.0),
        ))
    print(f"\nJPEG fast path, reduce_to={reduce_to}: {len(rows)} images reduced")
    for name, scale, ref_top, fast_top, mean, worst, det in rows:
        print(f"  {name}: 1/{scale:.0f}, top {ref_top}->{fast_top}, mean |Δp| {mean:.4f}, "
              f"max |Δp| {worst:.3f}, max detector Δscore {det:.3f}")
    mean_shift = float(np.mean([r[4] for r in rows]))
    print(f"  average mean |Δp| {mean_shift:.4f}")
    assert len(rows) >= 5, "too few large JPEGs in the data to judge the fast path"
    assert all(r[2] == r[3] for r in rows), "the fast path changed a top label"
    assert mean_shift < 0.02

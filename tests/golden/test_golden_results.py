"""Golden results: the image and text moderators' result objects on fixed inputs, committed.

The house rebuild (issue #14) moves modules around; this test says the results did not move
with them. Every input is made here (no real data): generated photos-to-be, an animation, a
truncated file, a file of another type, and texts for each category. Durations are removed;
numbers are rounded to 4 decimals before comparing, because ONNX Runtime's kernels differ in
the last bits between CPU families (CI may run on another one). Everything else — decision,
label, reasons, evidence, boxes, model names and versions, error codes — must match exactly.

Regenerate (only when a change of results is intended, and say why in the commit):
`CONTENTGUARD_REGEN_GOLDEN=1 .venv/bin/pytest tests/golden`.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers.samples import gif_bytes, image_bytes
from PIL import Image

GOLDEN = Path(__file__).with_name("golden_results.json")
REGEN = os.environ.get("CONTENTGUARD_REGEN_GOLDEN") == "1"
DIGITS = 4


def _skin_like(seed: int) -> bytes:
    """A large warm-toned JPEG, so both models and the reduced-size JPEG path take part."""
    rng = np.random.default_rng(seed)
    h, w = 480, 640
    y, x = np.mgrid[0:h, 0:w]
    blob = np.exp(-(((x - w / 2) / 160.0) ** 2 + ((y - h / 2) / 200.0) ** 2))
    pixels = np.stack([200 * blob + 40, 140 * blob + 30, 120 * blob + 30], axis=-1)
    pixels = (pixels + rng.normal(0, 6, pixels.shape)).clip(0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


IMAGES: list[tuple[str, bytes]] = [
    ("gradient.png", image_bytes(1)),
    ("gradient-small.jpg", image_bytes(2, (64, 48), "JPEG")),
    ("gradient.webp", image_bytes(3, (200, 150), "WEBP")),
    ("warm.jpg", _skin_like(4)),
    ("animation.gif", gif_bytes(12)),
    ("truncated.png", image_bytes(5)[:200]),
    ("not-an-image.txt", b"hello, this is text and not an image\n"),
    ("empty.bin", b""),
]

TEXTS: list[tuple[str, str]] = [
    ("greeting", "Thanks for the lovely photos from the trip, see you on Sunday!"),
    ("profane", "what the fuck is this shit, you absolute idiot"),
    ("evasive", "you are a f.u.c.k.i.n.g 1d10t"),
    ("spam", "WINNER!! You have won a £900 prize. Call 09061701461 now to claim, code KL341."),
    ("insult", "go back to where you came from, nobody wants your kind here"),
    ("long", " ".join(["the quick brown fox jumps over the lazy dog"] * 60) + " you stupid bitch"),
    ("empty", ""),
]


def _clean(value: Any) -> Any:
    """Drop durations, round floats: what stays must be identical after any refactoring."""
    if isinstance(value, dict):
        cleaned = {k: _clean(v) for k, v in value.items() if k != "duration_ms"}
        if cleaned.get("evidence"):  # spans of equal weight may swap places between CPU families
            cleaned["evidence"] = sorted(cleaned["evidence"], key=lambda span: span["start"])
        return cleaned
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float):
        return round(value, DIGITS) + 0.0  # + 0.0 turns -0.0 into 0.0
    return value


def _results(shared_moderator, shared_text_moderator) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    images = {name: _clean(shared_moderator.moderate(data, name).model_dump(mode="json"))
              for name, data in IMAGES}
    texts = {name: _clean(outcome.model_dump(mode="json"))
             for (name, _), outcome in zip(TEXTS, shared_text_moderator.moderate_many(TEXTS), strict=True)}
    return {"images": images, "texts": texts}


def _close(got: Any, want: Any, where: str, problems: list[str]) -> None:
    if isinstance(want, float) or isinstance(got, float):
        if not isinstance(got, int | float) or not isinstance(want, int | float) \
                or abs(got - want) > 2 * 10 ** -DIGITS:
            problems.append(f"{where}: {got!r} != {want!r}")
    elif isinstance(want, dict) and isinstance(got, dict):
        if list(got) != list(want):
            problems.append(f"{where}: keys {list(got)} != {list(want)}")
        for key in want:
            if key in got:
                _close(got[key], want[key], f"{where}.{key}", problems)
    elif isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            problems.append(f"{where}: {len(got)} items != {len(want)}")
        for n, (g, w) in enumerate(zip(got, want, strict=False)):
            _close(g, w, f"{where}[{n}]", problems)
    elif got != want:
        problems.append(f"{where}: {got!r} != {want!r}")


def test_results_match_the_committed_golden_file(shared_moderator, shared_text_moderator) -> None:
    got = _results(shared_moderator, shared_text_moderator)
    if REGEN or not GOLDEN.exists():
        GOLDEN.write_text(json.dumps(got, indent=1, ensure_ascii=False, sort_keys=False) + "\n")
        if not REGEN:
            pytest.fail(f"{GOLDEN.name} was missing and has been written; commit it")
    want = json.loads(GOLDEN.read_text())
    problems: list[str] = []
    _close(got, want, "results", problems)
    assert not problems, "results differ from the golden file:\n" + "\n".join(problems[:40])


def test_golden_inputs_cover_every_decision_and_error(shared_moderator, shared_text_moderator) -> None:
    """The golden file is only worth something if it exercises the paths: allow and flagged
    results, an animation, error objects, evidence."""
    want = json.loads(GOLDEN.read_text())
    images, texts = want["images"], want["texts"]
    assert {r["error"]["code"] for r in images.values() if "error" in r} >= {
        "decode_failed", "unsupported_media"}
    assert images["animation.gif"]["frames"] > 1
    decisions = {r.get("decision") for r in texts.values()}
    assert "allow" in decisions and decisions & {"review", "block"}
    assert any(reason.get("evidence") for r in texts.values() for reason in r.get("reasons", []))

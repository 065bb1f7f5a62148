"""thumbnail(): the review queue's preview is the decoded first frame, scaled; it shows what the
models saw (upright, transparency over white) and carries nothing of the file but pixels."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from contentguard.media import decode
from contentguard.media.thumbnail import THUMBNAIL_PX, thumbnail
from contentguard.settings import Settings


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def test_a_preview_is_the_first_frame_scaled_to_fit() -> None:
    media = decode(_encoded(Image.new("RGB", (1000, 400), (30, 140, 90)), "PNG"), Settings())
    preview = Image.open(io.BytesIO(thumbnail(media.first_frame)))
    assert preview.format == "JPEG" and preview.size == (THUMBNAIL_PX, 128)
    assert np.abs(np.asarray(preview, dtype=float) - (30, 140, 90)).max() <= 4
    small = decode(_encoded(Image.new("RGB", (40, 30), "red"), "PNG"), Settings())
    assert Image.open(io.BytesIO(thumbnail(small.first_frame))).size == (40, 30)  # never enlarged


def test_a_preview_shows_what_the_models_saw() -> None:
    # a transparent left half: over white, as the detectors see it (not the hidden colour)
    rgba = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    rgba.paste((200, 0, 0, 255), (50, 0, 100, 100))
    preview = np.asarray(Image.open(io.BytesIO(thumbnail(decode(_encoded(rgba, "PNG"), Settings())
                                                         .first_frame))), dtype=float)
    assert np.abs(preview[:, :40] - 255).max() <= 4
    assert np.abs(preview[:, 60:] - (200, 0, 0)).max() <= 16
    # EXIF orientation 6 (rotate 90° clockwise to view): the preview is upright, 50×80
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = decode(_encoded(Image.new("RGB", (80, 50), "blue"), "JPEG", exif=exif), Settings())
    assert Image.open(io.BytesIO(thumbnail(rotated.first_frame))).size == (50, 80)


def test_a_preview_carries_no_metadata_of_the_file() -> None:
    sent = _encoded(Image.new("RGB", (64, 48), "green"), "JPEG", comment=b"call 555-0100",
                    icc_profile=b"not really a profile")
    preview = Image.open(io.BytesIO(thumbnail(decode(sent, Settings()).first_frame)))
    assert "comment" not in preview.info and "icc_profile" not in preview.info
    assert b"555-0100" not in thumbnail(decode(sent, Settings()).first_frame)

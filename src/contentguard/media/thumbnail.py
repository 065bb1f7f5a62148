"""Small JPEG previews of stored review items for the moderators' queue.

A preview is made from the first frame the hardened decoder (`decode.py`) already produced for
the models: an RGB, upright frame, decoded within the limits. The item's bytes are never decoded
a second time for it.
"""

from __future__ import annotations

import io

from PIL import Image

from contentguard.media.types import Frame

THUMBNAIL_PX = 320


def thumbnail(frame: Frame, size: int = THUMBNAIL_PX) -> bytes:
    """A JPEG of `frame`, at most `size` px on its longer side."""
    image = Image.fromarray(frame.pixels)
    image.thumbnail((size, size))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()

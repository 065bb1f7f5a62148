"""Small JPEG previews of stored review items for the moderators' queue."""

from __future__ import annotations

import io

from PIL import Image, ImageOps

THUMBNAIL_PX = 320


def thumbnail(data: bytes, size: int = THUMBNAIL_PX) -> bytes | None:
    """A JPEG of the first frame, at most `size` px on its longer side; None if undecodable.
    Only called on inputs the pipeline already decoded within the limits."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.seek(0)
            frame = ImageOps.exif_transpose(image.convert("RGB"))
            frame.thumbnail((size, size))
            out = io.BytesIO()
            frame.save(out, "JPEG", quality=80)
            return out.getvalue()
    except Exception:  # a format Pillow reads only partly (video): no preview, the item stays
        return None

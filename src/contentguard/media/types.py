"""What the media layer hands to detectors: decoded RGB frames plus where they came from."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One RGB frame, HxWx3 uint8, upright (EXIF orientation applied).

    `scale` maps frame pixels back to the original image: original = frame × scale. It is 1.0
    unless the frame was decoded at reduced size (the large-JPEG fast path).
    """

    pixels: np.ndarray
    index: int = 0
    scale: float = 1.0

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


@dataclass
class DecodedMedia:
    """A sniffed, limit-checked image or animation whose sampled frames decode on demand.

    `frames()` yields the sampled frames in order, so a caller can stop early (e.g. once a
    frame is blocked) without decoding the rest. `first_frame` is the first of them, decoded
    already (also for an animation), for what is kept of the item besides its result (the
    review queue's thumbnail).
    """

    media_type: str  # e.g. "image/jpeg", sniffed from the bytes
    width: int  # original size, after EXIF orientation
    height: int
    total_frames: int  # frames in the file (1 for a still image)
    sampled_indices: list[int] = field(default_factory=list)
    first_frame: Frame | None = None
    _frames: Iterator[Frame] | None = None

    @property
    def animated(self) -> bool:
        return self.total_frames > 1

    def frames(self) -> Iterator[Frame]:
        if self._frames is None:
            raise RuntimeError("frames() can be consumed once")
        frames, self._frames = self._frames, None
        return frames

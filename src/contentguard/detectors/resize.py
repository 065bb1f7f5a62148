"""Bilinear resizes that reproduce what each reference model was run with.

Only the four source pixels around each output pixel are read (no antialiasing), so the cost
depends on the output size, not the input size — a 12-megapixel frame costs the same as a
small one. That point-sampling behaviour is deliberate: nsfwjs uses TF's
`resizeBilinear(alignCorners=true)` and NudeNet uses OpenCV's INTER_LINEAR; an antialiased
resize moves the classifier's probabilities by up to 0.39 (see docs/models.md).
"""

from __future__ import annotations

import numpy as np


def _axis(
    in_size: int, out_size: int, align_corners: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices (low, high) and the weight of the high one, for one axis."""
    out = np.arange(out_size, dtype=np.float64)
    if align_corners:
        ratio = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        src = out * ratio
    else:  # half-pixel centres, as OpenCV INTER_LINEAR and TF half_pixel_centers
        src = np.maximum((out + 0.5) * (in_size / out_size) - 0.5, 0.0)
    low = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    high = np.minimum(low + 1, in_size - 1)
    frac = np.where(high > low, src - low, 0.0)
    return low, high, frac


def resize_bilinear(
    image: np.ndarray,
    out_h: int,
    out_w: int,
    *,
    align_corners: bool,
    canvas: tuple[int, int] | None = None,
    divide_by: float = 1.0,
) -> np.ndarray:
    """Resize an HxWxC uint8 image to out_h×out_w×C float32, values divided by `divide_by`.

    `canvas=(H, W)` treats the image as padded with zeros at the bottom and right up to H×W
    before resizing (NudeNet's square letterbox) without materialising the padding.
    The interpolation runs in float64 and is rounded once, as tfjs' CPU kernel does.
    """
    h, w = image.shape[:2]
    canvas_h, canvas_w = canvas or (h, w)
    y0, y1, fy = _axis(canvas_h, out_h, align_corners)
    x0, x1, fx = _axis(canvas_w, out_w, align_corners)

    def corner(ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        values = image[np.minimum(ys, h - 1)[:, None], np.minimum(xs, w - 1)[None, :]]
        values = values.astype(np.float32)
        if divide_by != 1.0:
            values /= np.float32(divide_by)  # before interpolating, as nsfwjs does
        if canvas is not None and (ys.max() >= h or xs.max() >= w):
            outside = (ys >= h)[:, None] | (xs >= w)[None, :]
            values[outside] = 0.0
        return values.astype(np.float64)

    tl, tr = corner(y0, x0), corner(y0, x1)
    bl, br = corner(y1, x0), corner(y1, x1)
    fx3 = fx[None, :, None]
    top = tl + (tr - tl) * fx3
    bottom = bl + (br - bl) * fx3
    return (top + (bottom - top) * fy[:, None, None]).astype(np.float32)

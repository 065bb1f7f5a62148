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
    Values are divided before interpolating, as nsfwjs does; the interpolation runs in
    float32 (tfjs rounds to float32 too; the difference is below 1e-6).
    """
    h, w, channels = image.shape
    canvas_h, canvas_w = canvas or (h, w)
    y0, y1, fy = _axis(canvas_h, out_h, align_corners)
    x0, x1, fx = _axis(canvas_w, out_w, align_corners)
    # Separable gathers (whole rows, then columns) are far cheaper than 2-D fancy indexing.
    rows = (image.take(np.minimum(y0, h - 1), axis=0), image.take(np.minimum(y1, h - 1), axis=0))
    cols = (np.minimum(x0, w - 1), np.minimum(x1, w - 1))

    def corner(row: int, col: int) -> np.ndarray:
        # (out_h, out_w × C): a contiguous last axis keeps the broadcasts below fast.
        values = rows[row].take(cols[col], axis=1).reshape(out_h, out_w * channels)
        values = values.astype(np.float32)
        if divide_by != 1.0:
            values /= np.float32(divide_by)
        ys, xs = (y0, y1)[row], (x0, x1)[col]
        if canvas is not None and (ys.max() >= h or xs.max() >= w):
            outside = (ys >= h)[:, None] | np.repeat(xs >= w, channels)[None, :]
            values[outside] = 0.0
        return values

    wx = np.repeat(fx.astype(np.float32), channels)[None, :]
    wy = fy.astype(np.float32)[:, None]
    top, right = corner(0, 0), corner(0, 1)
    right -= top
    right *= wx
    top += right  # top = tl + (tr - tl) · fx
    bottom, right = corner(1, 0), corner(1, 1)
    right -= bottom
    right *= wx
    bottom += right  # bottom = bl + (br - bl) · fx
    bottom -= top
    bottom *= wy
    top += bottom  # top + (bottom - top) · fy
    return top.reshape(out_h, out_w, channels)

"""Fixed, lossless inputs shared by the nsfwjs reference generator and the parity test.

Pure Python (numpy + Pillow only). Everything here is deterministic on every platform:

* only PNG files are used (lossless: no JPEG/WebP decoder differences between libraries);
* the conversion to 8-bit RGB uses exact integer arithmetic (no colour management, no
  floating point);
* ``to_224`` samples pixels by integer index instead of calling any resampling filter.

``tests/parity/make_reference.py`` writes these arrays as RGB PNGs, runs the real nsfwjs on
them (tools/nsfwjs-reference) and records ``pixel_sha256`` of each array next to nsfwjs's
output, so a test can prove it feeds the Python port exactly the pixels nsfwjs saw.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

#: folders under ``data_dir/images`` and how many PNGs to take from each
PARITY_FOLDERS: tuple[tuple[str, int], ...] = (("photos", 12), ("drawings", 8))
#: images whose longest side exceeds this are skipped (keeps the reference run fast)
MAX_SIDE = 2048
#: input size of nsfwjs's MobileNetV2 model
SIZE_224 = 224


def _evenly_spaced(items: list[str], count: int) -> list[str]:
    """``count`` items spread evenly over the sorted list (all of them if there are fewer)."""
    if len(items) <= count:
        return list(items)
    return [items[(i * len(items)) // count] for i in range(count)]


def _composite_over_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """out = (rgb*a + 255*(255-a) + 127) // 255, in integers, per channel."""
    a = alpha.astype(np.uint32)[..., None]
    out = (rgb.astype(np.uint32) * a + 255 * (255 - a) + 127) // 255
    return out.astype(np.uint8)


def to_rgb(im: Image.Image) -> np.ndarray:
    """Deterministic HxWx3 uint8 RGB for a decoded Pillow image.

    * RGB: as is.
    * RGBA, LA, PA, and P/L/RGB with a ``transparency`` entry: expanded to RGBA by Pillow
      (exact palette/grey look-up), then composited over white with integer arithmetic.
    * 16-bit greyscale (``I;16*``/``I``): value >> 8, replicated to 3 channels.
    * anything else (P, L, 1, CMYK, ...): Pillow ``convert("RGB")``.
    """
    mode = im.mode
    if mode == "RGB" and "transparency" not in im.info:
        return np.asarray(im, dtype=np.uint8).copy()
    if mode.startswith("I;16") or mode == "I":
        grey = np.asarray(im).astype(np.int64)
        grey = (np.clip(grey, 0, 65535) >> 8).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info:
        if mode in ("La", "RGBa"):  # premultiplied: let Pillow un-premultiply first
            im = im.convert("RGBA")
        rgba = np.asarray(im.convert("RGBA"), dtype=np.uint8)
        return _composite_over_white(rgba[..., :3], rgba[..., 3])
    return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def load_rgb(path: str | Path) -> np.ndarray:
    """Decode one image file (first frame) to HxWx3 uint8 RGB with :func:`to_rgb`."""
    with Image.open(path) as im:
        im.load()
        rgb = to_rgb(im)
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3, rgb.shape
    return np.ascontiguousarray(rgb)


def parity_files(data_dir: str | Path) -> list[tuple[str, Path]]:
    """The chosen files as (name relative to ``data_dir/images``, absolute path), sorted.

    Per folder: the ``*.png`` files whose longest side is at most ``MAX_SIDE``, sorted by
    name, then ``count`` of them evenly spaced over that list.
    """
    images = Path(data_dir) / "images"
    chosen: list[tuple[str, Path]] = []
    for folder, count in PARITY_FOLDERS:
        eligible: list[str] = []
        for path in sorted((images / folder).glob("*.png"), key=lambda p: p.name):
            with Image.open(path) as im:
                if max(im.size) > MAX_SIDE:
                    continue
            eligible.append(path.name)
        for name in _evenly_spaced(eligible, count):
            chosen.append((f"{folder}/{name}", images / folder / name))
    return sorted(chosen)


def parity_images(data_dir: str | Path) -> list[tuple[str, np.ndarray]]:
    """Fixed, sorted list of (relative name, HxWx3 uint8 RGB) from lossless sources only."""
    return [(name, load_rgb(path)) for name, path in parity_files(data_dir)]


def to_224(rgb: np.ndarray, size: int = SIZE_224) -> np.ndarray:
    """Exact ``size``x``size`` input by integer index sampling (no resampling filter)."""
    h, w = rgb.shape[:2]
    rows = (np.arange(size) * h) // size
    cols = (np.arange(size) * w) // size
    return np.ascontiguousarray(rgb[rows][:, cols])


def pixel_sha256(rgb: np.ndarray) -> str:
    """Hex sha256 of the pixel bytes: row-major HWC uint8 (what reference.mjs hashes)."""
    arr = np.ascontiguousarray(rgb)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"expected HxWx3 uint8, got {arr.dtype} {arr.shape}")
    return hashlib.sha256(arr.tobytes()).hexdigest()

"""Turn untrusted bytes into upright RGB frames, checking every limit before decoding pixels.

The order of work for one input (docs/media.md has the details):

1. byte limit, then `sniff()` (magic bytes only);
2. a structural pre-scan for the formats Pillow parses in Python (GIF blocks, PNG chunks), which
   also counts GIF frames and finds the real GIF canvas without decoding anything;
3. `Image.open(..., formats=[sniffed format])` reads the header only; size, frame and
   animation-pixel limits are checked on it;
4. the first frame is decoded eagerly (so most errors surface in `decode()`), the other sampled
   frames lazily by `DecodedMedia.frames()`, with the time budget checked between frames.

Every Pillow failure becomes `DecodeFailed`, every bomb `TooLarge`, an exhausted time budget
`Timeout`. Nothing else escapes (anything else is a bug).
"""

from __future__ import annotations

import io
import math
import re
import struct
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import Image

from contentguard.errors import DecodeFailed, Timeout, TooLarge
from contentguard.media.sniff import MAX_PNG_CHUNKS, SniffResult, iter_png_chunks, sniff
from contentguard.media.types import DecodedMedia, Frame
from contentguard.settings import Settings

try:  # littleCMS is optional in Pillow builds; CMYK falls back to Pillow's plain conversion
    from PIL import ImageCms

    _SRGB: ImageCms.ImageCmsProfile | None = ImageCms.ImageCmsProfile(
        ImageCms.createProfile("sRGB")
    )
except (ImportError, OSError):  # pragma: no cover - depends on the Pillow build
    ImageCms = None  # type: ignore[assignment]
    _SRGB = None

# A GIF is a chain of length-prefixed sub-blocks that Pillow walks in Python. Real files use
# 255-byte blocks (~80 000 for 20 MiB); a hostile one can hold ten million 1-byte blocks.
MAX_GIF_BLOCKS = 1_000_000
# Pillow loads an image tile by tile in Python; real files have one (JPEG, PNG) to a few
# thousand (striped or tiled TIFF).
MAX_TILES = 65_536

_NAMES = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/apng": "APNG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "image/bmp": "BMP",
    "image/tiff": "TIFF",
    "image/x-icon": "ICO",
}

# EXIF orientation → the transpose that makes the image upright (as ImageOps.exif_transpose).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# What Pillow raises on broken input (UnidentifiedImageError is an OSError). Each Pillow call is
# wrapped on its own, so these cannot hide a bug elsewhere in this module.
_PILLOW_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    LookupError,  # IndexError, KeyError
    ArithmeticError,  # ZeroDivisionError, OverflowError
    struct.error,
    TypeError,
    AttributeError,
    MemoryError,
    RuntimeError,  # RecursionError, NotImplementedError
    AssertionError,
)

# Pillow's own bomb message ("Image size (N pixels) exceeds limit of M pixels, …").
_PILLOW_BOMB = re.compile(r"\((\d+) pixels\) exceeds limit of (\d+)")
# Pillow's messages when a PNG text/ICC chunk inflates past its limit: a bomb, not a bad file.
_BOMB_MESSAGES = ("decompressed data too large", "too much memory used in text chunks")


# --- time budget -------------------------------------------------------------------------------


class _Clock:
    """Time spent decoding one input; the time a consumer holds a yielded frame is not counted."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self._spent = 0.0
        self._since: float | None = time.perf_counter()

    @property
    def elapsed(self) -> float:
        running = time.perf_counter() - self._since if self._since is not None else 0.0
        return self._spent + running

    def pause(self) -> None:
        if self._since is not None:
            self._spent += time.perf_counter() - self._since
            self._since = None

    def resume(self) -> None:
        if self._since is None:
            self._since = time.perf_counter()

    def check(self, stage: str) -> None:
        elapsed = self.elapsed
        if elapsed > self.limit_s:
            raise Timeout(
                f"decoding gave up after {elapsed:.2f} s ({stage}); "
                f"the limit is {self.limit_s:g} s",
                elapsed_s=round(elapsed, 3),
                stage=stage,
            )


# --- Pillow calls ------------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if not text:
        return type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


# Pillow only *warns* about images between MAX_IMAGE_PIXELS and twice that. Make it an error
# once, process-wide: a per-call warnings.catch_warnings() would race between decode threads
# (the filter list is global before Python 3.14) and could leave the filters changed for good.
# `_check_frame_size` repeats the limit explicitly, so a bomb is refused even if some other code
# resets the warning filters.
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)


@contextmanager
def _pillow(what: str, stage: str = "decode") -> Iterator[None]:
    """Run Pillow code: bombs become TooLarge, any failure DecodeFailed (one line)."""
    try:
        yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        found = _PILLOW_BOMB.search(str(e))
        message = (
            f"decompression bomb refused: {found[1]} pixels exceeds the limit of {found[2]}"
            if found
            else f"decompression bomb refused: {_one_line(e)}"
        )
        raise TooLarge(message, stage=stage) from None
    except Image.UnidentifiedImageError:
        raise DecodeFailed(
            f"{what}: damaged, or a variant Pillow cannot read", stage=stage
        ) from None
    except _PILLOW_ERRORS as e:
        if isinstance(e, ValueError) and str(e).lower().startswith(_BOMB_MESSAGES):
            raise TooLarge(f"decompression bomb refused: {_one_line(e)}", stage=stage) from None
        if isinstance(e, MemoryError):
            raise DecodeFailed(f"{what}: out of memory", stage=stage) from None
        raise DecodeFailed(f"{what}: {_one_line(e)}", stage=stage) from None
    except Warning as e:  # Pillow's warnings about damaged files, when warnings are errors
        raise DecodeFailed(f"{what}: {_one_line(e)}", stage=stage) from None


# --- structure scans (no pixels) ----------------------------------------------------------------


@dataclass(frozen=True)
class GifLayout:
    """What a GIF's block structure says: image count and the canvas all frames fit in."""

    frames: int
    width: int
    height: int


def scan_gif(data: bytes, max_frames: int) -> GifLayout:
    """Walk the GIF block chain without decoding, counting frames (up to `max_frames` + 1).

    The canvas grows to every frame's extent, as Pillow does when it seeks. An unknown block
    introducer ends the stream, as in browsers; Pillow would skip it byte by byte.
    """
    n = len(data)
    if n < 13:
        raise DecodeFailed("GIF: header is truncated", stage="header")
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    pos = 13
    if flags & 0x80:
        pos += 3 << ((flags & 7) + 1)
    frames = 0
    blocks = 0
    while pos < n:
        introducer = data[pos]
        pos += 1
        if introducer == 0x3B:  # trailer
            break
        if introducer == 0x21:  # extension: label, then sub-blocks
            pos += 1
        elif introducer == 0x2C:  # image descriptor
            if pos + 10 > n:
                break
            x, y, w, h, local = struct.unpack_from("<HHHHB", data, pos)
            pos += 9
            if local & 0x80:
                pos += 3 << ((local & 7) + 1)
            pos += 1  # LZW minimum code size
            frames += 1
            width = max(width, x + w)
            height = max(height, y + h)
            if frames > max_frames:
                break
        else:
            break
        while pos < n:  # sub-blocks up to the zero-length terminator
            size = data[pos]
            pos += size + 1
            blocks += 1
            if size == 0:
                break
            if blocks > MAX_GIF_BLOCKS:
                raise DecodeFailed(
                    f"GIF: implausible structure (more than {MAX_GIF_BLOCKS} data blocks)",
                    stage="header",
                )
    return GifLayout(frames, width, height)


def _check_png_structure(data: bytes) -> None:
    count = sum(1 for _ in iter_png_chunks(data, MAX_PNG_CHUNKS + 1))
    if count > MAX_PNG_CHUNKS:
        raise DecodeFailed(
            f"PNG: implausible structure (more than {MAX_PNG_CHUNKS} chunks)", stage="header"
        )


def _peek_size(data: bytes, sniffed: SniffResult) -> tuple[int, int] | None:
    """The declared size of a PNG (IHDR) or BMP (DIB header), read before Pillow sees the file,
    so the commonest bombs are refused with their real dimensions. None when not applicable."""
    if sniffed.pillow_format == "PNG" and len(data) >= 24 and data[12:16] == b"IHDR":
        return struct.unpack_from(">II", data, 16)
    if sniffed.pillow_format == "BMP" and len(data) >= 26:
        (header_size,) = struct.unpack_from("<I", data, 14)
        if header_size == 12:
            return struct.unpack_from("<HH", data, 18)
        if header_size >= 40:
            width, height = struct.unpack_from("<ii", data, 18)
            return abs(width), abs(height)
    return None


# --- limits ------------------------------------------------------------------------------------


def _check_frame_size(width: int, height: int, settings: Settings) -> None:
    pixels = width * height
    limits = [settings.max_pixels]
    if Image.MAX_IMAGE_PIXELS:  # Pillow's own guard warns above this; we treat it as an error
        limits.append(int(Image.MAX_IMAGE_PIXELS))
    limit = min(limits)
    if pixels > limit:
        raise TooLarge(
            f"decompression bomb refused: {width}×{height} pixels exceeds the limit of {limit}",
            width=width,
            height=height,
            limit=limit,
            stage="header",
        )


def _check_animation(
    total: int, width: int, height: int, settings: Settings, *, exact: bool = True
) -> None:
    if total > settings.max_total_frames:
        count = str(total) if exact else f"more than {settings.max_total_frames}"
        raise TooLarge(
            f"animation has {count} frames; the limit is {settings.max_total_frames}",
            frames=total,
            limit=settings.max_total_frames,
            stage="header",
        )
    pixels = total * width * height
    if total > 1 and pixels > settings.max_animation_pixels:
        raise TooLarge(
            f"animation too large: {total} frames × {width}×{height} = {pixels} pixels exceeds "
            f"the limit of {settings.max_animation_pixels}",
            frames=total,
            limit=settings.max_animation_pixels,
            stage="header",
        )


def sample_indices(total: int, max_frames: int) -> list[int]:
    """At most `max_frames` frame indices spread evenly over `total`, first and last included."""
    if total <= 0:
        return []
    count = max(1, min(total, max_frames))
    if count == 1:
        return [0]
    points = np.rint(np.linspace(0, total - 1, num=count)).astype(int)
    return sorted({int(i) for i in points})


# --- colour ------------------------------------------------------------------------------------


def _over_white(rgba: Image.Image) -> Image.Image:
    out = Image.new("RGB", rgba.size, (255, 255, 255))
    out.paste(rgba, mask=rgba.getchannel("A"))
    return out


def _gray_to_rgb(gray: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(gray.astype(np.uint8, copy=False))).convert("RGB")


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    icc = im.info.get("icc_profile")
    if icc and ImageCms is not None and _SRGB is not None:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(im, source, _SRGB, outputMode="RGB")
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, *_PILLOW_ERRORS):
            pass  # a broken profile: fall back to the plain conversion
    return im.convert("RGB")


def _lab_to_rgb(im: Image.Image) -> Image.Image:
    """CIE L*a*b* → sRGB: littleCMS when Pillow has it, else the textbook formulas (D65)."""
    if ImageCms is not None and _SRGB is not None:
        try:
            transform = ImageCms.buildTransform(ImageCms.createProfile("LAB"), _SRGB, "LAB", "RGB")
            converted = ImageCms.applyTransform(im, transform)
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, *_PILLOW_ERRORS):
            pass
    # Pillow's array view of LAB: L as 0..255 for 0..100, a and b as signed bytes.
    raw = np.asarray(im)
    lightness = raw[..., 0].astype(np.float32) * (100.0 / 255.0)
    a = raw[..., 1].view(np.int8).astype(np.float32)
    b = raw[..., 2].view(np.int8).astype(np.float32)
    fy = (lightness + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = fy - b / 200.0

    def finv(t: np.ndarray) -> np.ndarray:
        return np.where(t > 6.0 / 29.0, t**3, 3.0 * (6.0 / 29.0) ** 2 * (t - 4.0 / 29.0))

    xyz = np.stack([0.95047 * finv(fx), finv(fy), 1.08883 * finv(fz)], axis=-1)
    matrix = np.array(
        [[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]],
        dtype=np.float32,
    )
    linear = np.clip(xyz @ matrix.T, 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return Image.fromarray(np.rint(srgb * 255.0).astype(np.uint8))


def to_rgb(im: Image.Image) -> Image.Image:
    """One Pillow image of any mode as an 8-bit RGB image (rules in docs/media.md)."""
    mode = im.mode
    if mode == "RGB":
        return im
    if mode == "La":  # premultiplied; Pillow converts it only to LA
        im, mode = im.convert("LA"), "LA"
    if mode in ("RGBA", "RGBa", "LA", "PA"):
        return _over_white(im.convert("RGBA"))
    if mode == "P":
        has_alpha = "transparency" in im.info or (im.palette is not None and "A" in im.palette.mode)
        return _over_white(im.convert("RGBA")) if has_alpha else im.convert("RGB")
    if mode in ("1", "L", "RGBX", "YCbCr", "HSV"):
        return im.convert("RGB")
    if mode == "I" or mode.startswith("I;16"):
        # 16-bit samples (I is how Pillow often holds them): keep the high byte. Pillow's own
        # conversion clips at 255 instead, which turns most 16-bit images white.
        values = np.asarray(im)
        if values.dtype.kind == "u":  # I;16, I;16B: 0..65535 already
            return _gray_to_rgb(values >> 8)
        values = np.clip(values, 0, 65535)  # I (int32), I;16S
        values >>= 8
        return _gray_to_rgb(values)
    if mode == "F":
        values = np.array(im, dtype=np.float32)
        np.nan_to_num(values, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
        if values.size and float(values.max()) <= 1.0:
            values *= 255.0
        np.clip(values, 0.0, 255.0, out=values)
        return _gray_to_rgb(np.rint(values, out=values))
    if mode == "CMYK":
        return _cmyk_to_rgb(im)
    if mode == "LAB":
        return _lab_to_rgb(im)
    return im.convert("RGB")


def _orientation(im: Image.Image) -> int:
    """EXIF orientation 1..8 (Pillow also reads it from XMP in PNG/WebP); 1 when absent/bad."""
    try:
        value = im.getexif().get(0x0112)
    except (*_PILLOW_ERRORS, Warning):
        return 1  # broken EXIF does not make the picture unreadable
    if isinstance(value, (tuple, list)) and value:
        value = value[0]
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _frame_pixels(im: Image.Image, orientation: int) -> np.ndarray:
    rgb = to_rgb(im)
    if orientation in _TRANSPOSE:
        rgb = rgb.transpose(_TRANSPOSE[orientation])
    pixels = np.asarray(rgb)
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise DecodeFailed(f"unexpected pixel layout {pixels.shape} {pixels.dtype}")
    return np.ascontiguousarray(pixels)


# --- decode ------------------------------------------------------------------------------------


def _total_frames(im: Image.Image, sniffed: SniffResult, gif: GifLayout | None) -> int:
    if gif is not None:
        return gif.frames
    if sniffed.media_type in ("image/apng", "image/webp"):
        # read from the acTL chunk / by libwebp's demuxer: no scan of the file
        return int(getattr(im, "n_frames", 1))
    return 1  # JPEG/MPO (primary image), TIFF (first page), BMP, ICO (largest icon)


def _jpeg_draft(im: Image.Image, width: int, height: int, reduce_to: int) -> bool:
    """Let libjpeg decode at 1/8, 1/4 or 1/2 scale while the shorter side stays ≥ reduce_to.
    True when a reduced scale was set up."""
    short = min(width, height)
    for s in (8, 4, 2):
        if short >= s and math.ceil(short / s) >= reduce_to:
            # Pillow picks the largest scale s with size // requested ≥ s: ask for size // s.
            im.draft("RGB", (width // s, height // s))
            return im.size != (width, height)
    return False


def decode(data: bytes, settings: Settings, *, reduce_to: int | None = None) -> DecodedMedia:
    """Sniff, check limits, decode the first frame; the other sampled frames decode lazily.

    `reduce_to`: the model input's shorter side. Large JPEGs may then be decoded at reduced
    scale (`settings.jpeg_fast_path`), never below it; `Frame.scale` maps back.
    """
    if reduce_to is not None and reduce_to < 1:
        raise ValueError("reduce_to must be a positive number of pixels")
    clock = _Clock(settings.decode_timeout_s)
    if len(data) > settings.max_bytes:
        raise TooLarge(
            f"input is {len(data)} bytes; the limit is {settings.max_bytes}",
            size=len(data),
            limit=settings.max_bytes,
            stage="bytes",
        )
    sniffed = sniff(data)
    name = _NAMES[sniffed.media_type]

    gif: GifLayout | None = None
    if sniffed.pillow_format == "GIF":
        gif = scan_gif(data, settings.max_total_frames)
        _check_frame_size(gif.width, gif.height, settings)
    elif sniffed.pillow_format == "PNG":
        _check_png_structure(data)
    declared = _peek_size(data, sniffed)
    if declared is not None and declared[0] > 0 and declared[1] > 0:
        _check_frame_size(declared[0], declared[1], settings)
    clock.check("structure scan")

    with _pillow(f"{name}: cannot read the header", stage="header"):
        im = Image.open(io.BytesIO(data), formats=[sniffed.pillow_format])
    try:
        return _decode_opened(im, sniffed, name, gif, settings, reduce_to, clock)
    except BaseException:
        im.close()
        raise


def _decode_opened(
    im: Image.Image,
    sniffed: SniffResult,
    name: str,
    gif: GifLayout | None,
    settings: Settings,
    reduce_to: int | None,
    clock: _Clock,
) -> DecodedMedia:
    width, height = im.size
    if width <= 0 or height <= 0:
        raise DecodeFailed(f"{name}: invalid size {width}×{height}", stage="header")
    _check_frame_size(width, height, settings)
    with _pillow(f"{name}: cannot count frames", stage="header"):
        total = _total_frames(im, sniffed, gif)
    if total < 1:
        raise DecodeFailed(f"{name}: no image in the file", stage="header")
    canvas = (gif.width, gif.height) if gif is not None else (width, height)
    # the GIF scan stops counting one frame past the limit
    _check_animation(total, canvas[0], canvas[1], settings, exact=gif is None)
    if len(im.tile) > MAX_TILES:
        raise DecodeFailed(
            f"{name}: implausible structure ({len(im.tile)} tiles, limit {MAX_TILES})",
            stage="header",
        )

    reduced = False
    if reduce_to is not None and settings.jpeg_fast_path and im.format in ("JPEG", "MPO"):
        with _pillow(f"{name}: cannot set up reduced decoding"):
            reduced = _jpeg_draft(im, width, height, reduce_to)
    indices = sample_indices(total, settings.max_frames)

    clock.check("header")
    with _pillow(f"{name}: cannot decode the image"):
        im.load()
    # After load: Pillow's PNG reads an eXIf chunk that follows the image data by loading.
    orientation = _orientation(im)
    with _pillow(f"{name}: cannot convert the image"):
        pixels = _frame_pixels(im, orientation)
    upright = (height, width) if orientation >= 5 else (width, height)
    scale = upright[0] / pixels.shape[1] if reduced else 1.0
    first = Frame(pixels=pixels, index=0, scale=scale)
    clock.check("first frame")
    clock.pause()
    return DecodedMedia(
        media_type=sniffed.media_type,
        width=upright[0],
        height=upright[1],
        total_frames=total,
        sampled_indices=indices,
        first_frame=first,
        _frames=_iter_frames(im, first, indices, orientation, name, clock),
    )


def _iter_frames(
    im: Image.Image,
    first: Frame,
    indices: list[int],
    orientation: int,
    name: str,
    clock: _Clock,
) -> Iterator[Frame]:
    """Yield the sampled frames in order, seeking one frame at a time (Pillow composites each
    frame over the previous ones, applying disposal) and checking the time budget in between."""
    try:
        yield first
        current = 0
        for target in indices[1:]:
            clock.resume()
            while current < target:
                clock.check(f"frame {current + 1} of {name}")
                with _pillow(f"{name}: cannot decode frame {current + 1}"):
                    im.seek(current + 1)
                    im.load()
                current += 1
            with _pillow(f"{name}: cannot decode frame {target}"):
                pixels = _frame_pixels(im, orientation)
            # animations are never JPEG: no reduced decoding, frames are at the file's scale
            frame = Frame(pixels=pixels, index=target, scale=1.0)
            clock.check(f"frame {target} of {name}")
            clock.pause()
            yield frame
    finally:
        im.close()

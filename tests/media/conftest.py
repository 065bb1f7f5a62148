"""Media fixtures the project builds itself with Pillow (no shared data needed).

`media_files` writes every file once per session into a temporary directory and returns a
`MediaFiles` object: `media_files["name"]` is the path, `.read("name")` the bytes.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Ten clearly distinct colours; the animated fixtures show one per frame.
ANIMATION_COLOURS: list[tuple[int, int, int]] = [
    (255, 0, 0),
    (0, 255, 0),
    (0, 0, 255),
    (255, 255, 0),
    (255, 0, 255),
    (0, 255, 255),
    (128, 0, 0),
    (0, 128, 0),
    (0, 0, 128),
    (255, 255, 255),
]
ANIMATION_SIZE = (32, 24)
STILL_SIZE = (64, 48)
RED = (255, 0, 0)
BLUE = (0, 0, 255)


@dataclass(frozen=True)
class MediaFiles:
    root: Path

    def __getitem__(self, name: str) -> Path:
        path = self.root / name
        assert path.is_file(), f"no fixture {name}"
        return path

    def read(self, name: str) -> bytes:
        return self[name].read_bytes()


def png_chunk(ctype: bytes, payload: bytes) -> bytes:
    """One PNG chunk with a correct CRC."""
    return (
        struct.pack(">I", len(payload))
        + ctype
        + payload
        + struct.pack(">I", zlib.crc32(ctype + payload) & 0xFFFFFFFF)
    )


def png_bomb(width: int, height: int) -> bytes:
    """A valid-looking PNG whose IHDR claims width×height (8-bit grey) with a tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def gif_bytes(screen: tuple[int, int], frames: list[tuple[int, int, int, int]]) -> bytes:
    """A minimal GIF89a with a 2-colour global palette and 1-colour frames at (x, y, w, h)."""
    out = b"GIF89a" + struct.pack("<HHBBB", screen[0], screen[1], 0x80, 0, 0)
    out += b"\x00\x00\x00\xff\xff\xff"
    for x, y, w, h in frames:
        out += b"," + struct.pack("<HHHHB", x, y, w, h, 0)
        # LZW min code size 2: clear code, index 0, end of information
        out += b"\x02\x02\x44\x01\x00"
    return out + b";"


def _save(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _halves(mode: str, size: tuple[int, int], left: object, right: object) -> Image.Image:
    """An image whose left half is `left` and right half `right`."""
    image = Image.new(mode, size, left)  # type: ignore[arg-type]
    image.paste(right, (size[0] // 2, 0, size[0], size[1]))  # type: ignore[arg-type]
    return image


def _gradient(size: tuple[int, int]) -> Image.Image:
    w, h = size
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None].repeat(w, 1)
    rgb = np.stack([x, y, 255 - x], axis=-1).astype(np.uint8)
    return Image.fromarray(rgb)


def _orientation_jpeg(orientation: int) -> bytes:
    """64×32 stored, blue with a red 16×16 block at the stored top-left corner."""
    image = Image.new("RGB", (64, 32), BLUE)
    image.paste(RED, (0, 0, 16, 16))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _save(image, "JPEG", quality=95, exif=exif.tobytes())


def _builders() -> dict[str, Callable[[], bytes]]:
    still = _gradient(STILL_SIZE)
    frames = [Image.new("RGB", ANIMATION_SIZE, c) for c in ANIMATION_COLOURS]
    animation = {"save_all": True, "append_images": frames[1:], "duration": 100, "loop": 0}

    def mpo() -> bytes:
        first = Image.new("RGB", STILL_SIZE, RED)
        second = Image.new("RGB", STILL_SIZE, BLUE)
        return _save(first, "MPO", save_all=True, append_images=[second])

    def truncated_jpeg() -> bytes:
        data = _save(_gradient((256, 256)), "JPEG", quality=90)
        return data[: len(data) // 2]

    def truncated_gif_animation() -> bytes:
        # every frame a different noise pattern so each frame carries real data
        rng = np.random.default_rng(0)
        noisy = [
            Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)) for _ in range(6)
        ]
        data = _save(noisy[0], "GIF", save_all=True, append_images=noisy[1:], duration=100)
        return data[: len(data) - 200]  # cuts into the last frame's image data

    def apng_actl_after_idat() -> bytes:
        # an acTL after the first IDAT does not make an APNG
        data = _save(Image.new("RGB", (4, 4), RED), "PNG")
        iend = data.rindex(b"IEND") - 4
        actl = png_chunk(b"acTL", struct.pack(">II", 2, 0))
        return data[:iend] + actl + data[iend:]

    return {
        # one file per supported format
        "still.jpg": lambda: _save(still, "JPEG", quality=95),
        "still.png": lambda: _save(still, "PNG"),
        "still.gif": lambda: _save(still.quantize(64), "GIF"),
        "still.webp": lambda: _save(still, "WEBP", lossless=True),
        "still.bmp": lambda: _save(still, "BMP"),
        "still.tif": lambda: _save(still, "TIFF"),
        "still.ico": lambda: _save(still, "ICO", sizes=[STILL_SIZE]),
        "still.mpo": mpo,
        # animations with known frame colours
        "anim.gif": lambda: _save(frames[0], "GIF", **animation),
        "anim.webp": lambda: _save(frames[0], "WEBP", lossless=True, **animation),
        "anim.png": lambda: _save(frames[0], "PNG", **animation),
        "actl_after_idat.png": apng_actl_after_idat,
        # orientation, colour modes
        "orientation6.jpg": lambda: _orientation_jpeg(6),
        "big.jpg": lambda: _save(_gradient((1600, 1200)), "JPEG", quality=90),
        "gray16.png": lambda: _save(
            Image.fromarray(
                np.concatenate(
                    [np.full((16, 8), 40000, np.uint16), np.full((16, 8), 1000, np.uint16)],
                    axis=1,
                )
            ),
            "PNG",
        ),
        "cmyk.jpg": lambda: _save(
            _halves("CMYK", (32, 16), (0, 0, 0, 0), (0, 255, 255, 0)), "JPEG", quality=95
        ),
        "palette_transparent.png": lambda: _palette_transparent(),
        "rgba.png": lambda: _save(
            _halves("RGBA", (32, 16), (255, 0, 0, 0), (0, 0, 255, 255)), "PNG"
        ),
        "half_alpha.png": lambda: _save(Image.new("RGBA", (8, 8), (0, 0, 0, 128)), "PNG"),
        # hostile and disguised inputs
        "bomb.png": lambda: png_bomb(100_000, 100_000),
        "bomb_screen.gif": lambda: gif_bytes((65535, 65535), [(0, 0, 1, 1)]),
        "bomb_extents.gif": lambda: gif_bytes((1, 1), [(0, 0, 1, 1), (60000, 60000, 1, 1)]),
        "zero_size.png": lambda: png_bomb(0, 16),
        "truncated.jpg": truncated_jpeg,
        "truncated_anim.gif": truncated_gif_animation,
        "text.jpg": lambda: b"Hello, this is a plain text file pretending to be a JPEG.\n" * 3,
        "video_mp4.png": lambda: (
            b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + b"\x00" * 64
        ),
        "video_webm.png": lambda: (
            b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\xf2\x81\x04"
            b"\x42\xf3\x81\x08\x42\x82\x84webm\x42\x87\x81\x04\x42\x85\x81\x02" + b"\x00" * 64
        ),
        "empty.jpg": lambda: b"",
        **{f"mode_{m.replace(';', '_')}.tif": _mode_tiff(m) for m in _TIFF_MODES},
    }


# Modes a TIFF can hold, each filled with a known value (see test_decode.py for the expected RGB).
_TIFF_MODES: dict[str, object] = {
    "1": 1,
    "L": 77,
    "LA": (77, 255),
    "I;16": 51_400,  # >> 8 = 200
    "I;16B": 51_400,
    "I": 25_700,  # >> 8 = 100
    "F": 0.5,  # in 0..1: × 255 = 128 (rounded)
    "CMYK": (0, 255, 255, 0),
    "YCbCr": (76, 85, 255),  # red
    "LAB": (128, 128, 128),  # neutral mid grey
    "P": 0,
    "PA": (0, 255),
}


def _mode_tiff(mode: str) -> Callable[[], bytes]:
    def build() -> bytes:
        image = Image.new(mode, (8, 4), _TIFF_MODES[mode])  # type: ignore[arg-type]
        if mode in ("P", "PA"):
            image.putpalette([10, 200, 30] * 256)
        return _save(image, "TIFF")

    return build


def _palette_transparent() -> bytes:
    """Palette PNG: index 0 (black) fully transparent on the left, index 1 (green) on the right."""
    image = _halves("P", (32, 16), 0, 1)
    image.putpalette([0, 0, 0, 0, 200, 0] + [0, 0, 0] * 254)
    return _save(image, "PNG", transparency=0)


@pytest.fixture(scope="session")
def media_files(tmp_path_factory: pytest.TempPathFactory) -> MediaFiles:
    root = tmp_path_factory.mktemp("media")
    for name, build in _builders().items():
        (root / name).write_bytes(build())
    return MediaFiles(root)

"""decode(): limits before pixels, sampled composited frames, EXIF, RGB conversion, fast path."""

from __future__ import annotations

import random
import struct

import numpy as np
import pytest
from PIL import Image

from contentguard.errors import (
    ContentGuardError,
    DecodeFailed,
    Timeout,
    TooLarge,
    UnsupportedMedia,
)
from contentguard.media import DecodedMedia, Frame, decode, sample_indices
from contentguard.media.decode import MAX_GIF_BLOCKS, to_rgb
from contentguard.media.sniff import MAX_PNG_CHUNKS
from contentguard.settings import Settings

from .conftest import (
    ANIMATION_COLOURS,
    ANIMATION_SIZE,
    BLUE,
    RED,
    STILL_SIZE,
    MediaFiles,
    png_bomb,
    png_chunk,
)


def frames_of(media: DecodedMedia) -> list[Frame]:
    return list(media.frames())


def close_to(pixel: np.ndarray, colour: tuple[int, ...], tolerance: int) -> bool:
    return bool(np.all(np.abs(pixel.astype(int) - np.array(colour)) <= tolerance))


def region_mean(frame: Frame, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    return frame.pixels[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0)


# --- still images -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "media_type", "tolerance"),
    [
        ("still.jpg", "image/jpeg", 12),
        ("still.png", "image/png", 0),
        ("still.gif", "image/gif", 40),  # 64-colour palette
        ("still.webp", "image/webp", 0),
        ("still.bmp", "image/bmp", 0),
        ("still.tif", "image/tiff", 0),
        ("still.ico", "image/x-icon", 0),
    ],
)
def test_every_supported_still_format(
    media_files: MediaFiles, settings: Settings, name: str, media_type: str, tolerance: int
) -> None:
    media = decode(media_files.read(name), settings)
    assert media.media_type == media_type
    assert (media.width, media.height) == STILL_SIZE
    assert media.total_frames == 1 and not media.animated
    assert media.sampled_indices == [0]
    (frame,) = frames_of(media)
    assert frame.index == 0 and frame.scale == 1.0
    assert frame.pixels.shape == (STILL_SIZE[1], STILL_SIZE[0], 3)
    assert frame.pixels.dtype == np.uint8 and frame.pixels.flags.c_contiguous
    # the gradient runs from blue (left) to red (right)
    assert close_to(frame.pixels[0, 0], (0, 0, 255), tolerance)
    assert close_to(frame.pixels[0, -1], (255, 0, 0), tolerance)


def test_frames_are_read_only_and_consumed_once(
    media_files: MediaFiles, settings: Settings
) -> None:
    media = decode(media_files.read("still.png"), settings)
    (frame,) = frames_of(media)
    assert not frame.pixels.flags.writeable  # shared by every detector: nobody may modify it
    with pytest.raises(RuntimeError):
        media.frames()


def test_mpo_gives_its_primary_image(media_files: MediaFiles, settings: Settings) -> None:
    media = decode(media_files.read("still.mpo"), settings)
    assert media.media_type == "image/jpeg"
    assert media.total_frames == 1
    (frame,) = frames_of(media)
    assert close_to(frame.pixels.reshape(-1, 3).mean(axis=0), RED, 4)


# --- animations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "media_type"),
    [("anim.gif", "image/gif"), ("anim.webp", "image/webp"), ("anim.png", "image/apng")],
)
@pytest.mark.parametrize(
    ("max_frames", "expected"),
    [
        (8, [0, 1, 3, 4, 5, 6, 8, 9]),
        (3, [0, 4, 9]),
        (2, [0, 9]),
        (1, [0]),
        (10, list(range(10))),
        (64, list(range(10))),
    ],
)
def test_animation_sampling_and_frame_colours(
    media_files: MediaFiles, name: str, media_type: str, max_frames: int, expected: list[int]
) -> None:
    media = decode(media_files.read(name), Settings(max_frames=max_frames))
    assert media.media_type == media_type
    assert media.animated and media.total_frames == len(ANIMATION_COLOURS)
    assert (media.width, media.height) == ANIMATION_SIZE
    assert media.sampled_indices == expected
    frames = frames_of(media)
    assert [f.index for f in frames] == expected
    for frame in frames:
        assert frame.pixels.shape == (ANIMATION_SIZE[1], ANIMATION_SIZE[0], 3)
        colours = np.unique(frame.pixels.reshape(-1, 3), axis=0)
        assert colours.tolist() == [list(ANIMATION_COLOURS[frame.index])], frame.index


def test_frames_decode_lazily(media_files: MediaFiles, settings: Settings) -> None:
    media = decode(media_files.read("truncated_anim.gif"), Settings(max_frames=64))
    frames = media.frames()
    first = next(frames)  # decoded inside decode(); the broken last frame is not touched yet
    assert first.index == 0
    assert media.total_frames == 6


def test_broken_frame_fails_while_iterating(media_files: MediaFiles) -> None:
    media = decode(media_files.read("truncated_anim.gif"), Settings(max_frames=64))
    with pytest.raises(DecodeFailed) as caught:
        frames_of(media)
    assert "frame 5" in caught.value.message


@pytest.mark.parametrize(
    ("total", "max_frames"),
    [(1, 8), (2, 8), (3, 8), (8, 8), (9, 8), (100, 8), (10_000, 256), (7, 1)],
)
def test_sample_indices(total: int, max_frames: int) -> None:
    indices = sample_indices(total, max_frames)
    assert indices == sorted(set(indices))
    assert len(indices) == min(total, max_frames)
    assert indices[0] == 0
    if max_frames > 1:
        assert indices[-1] == total - 1
    gaps = np.diff(indices)
    if len(gaps):
        assert gaps.max() - gaps.min() <= 1  # evenly spread


# --- EXIF orientation and colour conversion ------------------------------------------------------


def test_exif_orientation_is_applied(media_files: MediaFiles, settings: Settings) -> None:
    media = decode(media_files.read("orientation6.jpg"), settings)
    assert (media.width, media.height) == (32, 64)  # stored 64×32, rotated upright
    (frame,) = frames_of(media)
    assert frame.pixels.shape == (64, 32, 3)
    # the red block sat at the stored top-left; orientation 6 shows it at the top-right
    assert close_to(region_mean(frame, 20, 4, 28, 12), RED, 25)
    assert close_to(region_mean(frame, 4, 4, 12, 12), BLUE, 25)
    assert close_to(region_mean(frame, 4, 52, 28, 60), BLUE, 25)


def test_sixteen_bit_is_scaled_not_clipped(media_files: MediaFiles, settings: Settings) -> None:
    assert Image.open(media_files["gray16.png"]).mode == "I;16"
    (frame,) = frames_of(decode(media_files.read("gray16.png"), settings))
    assert frame.pixels[0, 0].tolist() == [40000 >> 8] * 3
    assert frame.pixels[0, -1].tolist() == [1000 >> 8] * 3


def test_cmyk_jpeg(media_files: MediaFiles, settings: Settings) -> None:
    assert Image.open(media_files["cmyk.jpg"]).mode == "CMYK"
    (frame,) = frames_of(decode(media_files.read("cmyk.jpg"), settings))
    assert close_to(region_mean(frame, 2, 2, 12, 14), (255, 255, 255), 6)
    assert close_to(region_mean(frame, 20, 2, 30, 14), RED, 6)


def test_palette_transparency_over_white(media_files: MediaFiles, settings: Settings) -> None:
    (frame,) = frames_of(decode(media_files.read("palette_transparent.png"), settings))
    assert frame.pixels[0, 0].tolist() == [255, 255, 255]  # transparent black → white
    assert frame.pixels[0, -1].tolist() == [0, 200, 0]


def test_rgba_over_white(media_files: MediaFiles, settings: Settings) -> None:
    (frame,) = frames_of(decode(media_files.read("rgba.png"), settings))
    assert frame.pixels[0, 0].tolist() == [255, 255, 255]  # transparent red → white
    assert frame.pixels[0, -1].tolist() == list(BLUE)
    (half,) = frames_of(decode(media_files.read("half_alpha.png"), settings))
    assert np.all(np.abs(half.pixels.astype(int) - 127) <= 1)  # black at alpha 128 over white


@pytest.mark.parametrize(
    ("mode", "expected", "tolerance"),
    [
        ("1", (255, 255, 255), 0),
        ("L", (77, 77, 77), 0),
        ("LA", (77, 77, 77), 0),
        ("I;16", (200, 200, 200), 0),
        ("I;16B", (200, 200, 200), 0),
        ("I", (100, 100, 100), 0),
        ("F", (128, 128, 128), 0),
        ("CMYK", (255, 0, 0), 0),
        ("YCbCr", (255, 0, 0), 3),
        ("LAB", (119, 119, 119), 3),
        ("P", (10, 200, 30), 0),
        ("PA", (10, 200, 30), 0),
    ],
)
def test_colour_modes_through_tiff(
    media_files: MediaFiles,
    settings: Settings,
    mode: str,
    expected: tuple[int, ...],
    tolerance: int,
) -> None:
    name = f"mode_{mode.replace(';', '_')}.tif"
    assert Image.open(media_files[name]).mode == mode
    (frame,) = frames_of(decode(media_files.read(name), settings))
    assert frame.pixels.shape == (4, 8, 3)
    assert np.all(np.abs(frame.pixels.astype(int) - np.array(expected)) <= tolerance)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (Image.new("La", (2, 2), (100, 255)), (100, 100, 100)),
        (Image.new("La", (2, 2), (0, 0)), (255, 255, 255)),
        (Image.new("RGBa", (2, 2), (0, 0, 0, 0)), (255, 255, 255)),
        (Image.new("HSV", (2, 2), (0, 255, 255)), (255, 0, 0)),
        (Image.new("LAB", (2, 2), (138, 209, 198)), (255, 0, 0)),
        (Image.new("F", (2, 2), 300.0), (255, 255, 255)),
        (Image.new("F", (2, 2), float("nan")), (0, 0, 0)),
        (Image.new("I", (2, 2), -5), (0, 0, 0)),
        (Image.new("I", (2, 2), 10**9), (255, 255, 255)),
    ],
    ids=["La", "La-transparent", "RGBa", "HSV", "LAB-red", "F-over-1", "F-nan", "I-neg", "I-big"],
)
def test_to_rgb_other_modes(image: Image.Image, expected: tuple[int, ...]) -> None:
    rgb = np.asarray(to_rgb(image))
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert np.all(np.abs(rgb.astype(int) - np.array(expected)) <= 6), rgb[0, 0]


# --- limits --------------------------------------------------------------------------------------


def test_byte_limit(media_files: MediaFiles) -> None:
    data = media_files.read("still.png")
    with pytest.raises(TooLarge, match="limit is"):
        decode(data, Settings(max_bytes=len(data) - 1))
    assert decode(data, Settings(max_bytes=len(data))).total_frames == 1


def test_pixel_limit_message(media_files: MediaFiles) -> None:
    with pytest.raises(TooLarge) as caught:
        decode(media_files.read("still.jpg"), Settings(max_pixels=1000))
    assert caught.value.message == (
        "decompression bomb refused: 64×48 pixels exceeds the limit of 1000"
    )
    assert caught.value.details["stage"] == "header"


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("bomb.png", "100000×100000"),
        ("bomb_screen.gif", "65535×65535"),
        ("bomb_extents.gif", "60001×60001"),  # a later frame lies far outside the screen
    ],
)
def test_bombs_are_refused_from_the_header(
    media_files: MediaFiles, settings: Settings, name: str, size: str
) -> None:
    with pytest.raises(TooLarge) as caught:
        decode(media_files.read(name), settings)
    assert caught.value.message.startswith(f"decompression bomb refused: {size} pixels")
    assert caught.value.details["stage"] == "header"


def test_pillow_bomb_limit_applies_even_with_a_higher_setting() -> None:
    # 10000×10000 is above Pillow's MAX_IMAGE_PIXELS (where it only warns): still refused
    assert Image.MAX_IMAGE_PIXELS is not None and 10_000 * 10_000 > Image.MAX_IMAGE_PIXELS
    with pytest.raises(TooLarge, match="decompression bomb refused"):
        decode(png_bomb(10_000, 10_000), Settings(max_pixels=10**12))


@pytest.mark.parametrize("name", ["anim.gif", "anim.webp", "anim.png"])
def test_frame_count_limit(media_files: MediaFiles, name: str) -> None:
    with pytest.raises(TooLarge, match="frames; the limit is 5"):
        decode(media_files.read(name), Settings(max_total_frames=5))
    assert decode(media_files.read(name), Settings(max_total_frames=10)).total_frames == 10


@pytest.mark.parametrize("name", ["anim.gif", "anim.webp", "anim.png"])
def test_animation_pixel_limit(media_files: MediaFiles, name: str) -> None:
    total = 10 * ANIMATION_SIZE[0] * ANIMATION_SIZE[1]
    with pytest.raises(TooLarge, match="animation too large"):
        decode(media_files.read(name), Settings(max_animation_pixels=total - 1))
    assert decode(media_files.read(name), Settings(max_animation_pixels=total)).animated


def test_too_many_png_chunks() -> None:
    base = png_bomb(1, 1)
    junk = png_chunk(b"abCd", b"") * (MAX_PNG_CHUNKS + 1)
    data = base[:33] + junk + base[33:]
    with pytest.raises(DecodeFailed, match="implausible structure"):
        decode(data, Settings())


def test_too_many_gif_blocks() -> None:
    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00" * 6
    comment = b"\x21\xfe" + b"\x01x" * (MAX_GIF_BLOCKS + 1) + b"\x00"
    with pytest.raises(DecodeFailed, match="implausible structure"):
        decode(header + comment + b";", Settings())


def test_timeout(media_files: MediaFiles) -> None:
    with pytest.raises(Timeout) as caught:
        frames_of(decode(media_files.read("anim.gif"), Settings(decode_timeout_s=1e-9)))
    assert caught.value.code == "timeout"


# --- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("truncated.jpg", DecodeFailed),
        ("zero_size.png", DecodeFailed),
        ("text.jpg", UnsupportedMedia),
        ("video_mp4.png", UnsupportedMedia),
        ("video_webm.png", UnsupportedMedia),
        ("empty.jpg", UnsupportedMedia),
    ],
)
def test_bad_inputs(
    media_files: MediaFiles, settings: Settings, name: str, error: type[ContentGuardError]
) -> None:
    with pytest.raises(error) as caught:
        frames_of(decode(media_files.read(name), settings))
    assert "\n" not in caught.value.message and caught.value.message


def test_truncated_jpeg_is_an_error_not_grey(media_files: MediaFiles, settings: Settings) -> None:
    with pytest.raises(DecodeFailed, match="truncated"):
        decode(media_files.read("truncated.jpg"), settings)


@pytest.mark.parametrize(
    "name",
    [
        "still.jpg",
        "still.png",
        "still.gif",
        "still.webp",
        "still.bmp",
        "still.tif",
        "still.ico",
        "anim.gif",
        "anim.webp",
        "anim.png",
    ],
)
@pytest.mark.filterwarnings("error")  # Pillow's warnings as exceptions must be caught too
def test_mutated_files_never_raise_anything_else(media_files: MediaFiles, name: str) -> None:
    """Flipped bytes and truncations: a decoded image or a ContentGuardError, nothing else."""
    original = media_files.read(name)
    rng = random.Random(name)
    settings = Settings(max_frames=64)
    for attempt in range(60):
        data = bytearray(original)
        if attempt % 3 == 0:
            data = data[: rng.randrange(1, len(data))]
        else:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            media = decode(bytes(data), settings)
            for frame in media.frames():
                assert frame.pixels.ndim == 3 and frame.pixels.shape[2] == 3
        except ContentGuardError as e:
            assert e.message and "\n" not in e.message


# --- JPEG fast path -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reduce_to", "size", "scale"),
    [
        (None, (1600, 1200), 1.0),
        (150, (200, 150), 8.0),
        (224, (400, 300), 4.0),
        (300, (400, 300), 4.0),
        (301, (800, 600), 2.0),
        (600, (800, 600), 2.0),
        (601, (1600, 1200), 1.0),
        (5000, (1600, 1200), 1.0),
    ],
)
def test_jpeg_fast_path(
    media_files: MediaFiles,
    settings: Settings,
    reduce_to: int | None,
    size: tuple[int, int],
    scale: float,
) -> None:
    media = decode(media_files.read("big.jpg"), settings, reduce_to=reduce_to)
    assert (media.width, media.height) == (1600, 1200)  # always the original size
    (frame,) = frames_of(media)
    assert (frame.width, frame.height) == size
    assert frame.scale == scale
    if reduce_to is not None:
        assert min(frame.width, frame.height) >= min(reduce_to, 1200)


def test_jpeg_fast_path_is_the_same_picture(media_files: MediaFiles, settings: Settings) -> None:
    (full,) = frames_of(decode(media_files.read("big.jpg"), settings))
    (small,) = frames_of(decode(media_files.read("big.jpg"), settings, reduce_to=224))
    reference = np.asarray(Image.fromarray(full.pixels).reduce(4), dtype=float)
    assert reference.shape == small.pixels.shape
    assert np.abs(reference - small.pixels).mean() < 3


def test_jpeg_fast_path_off_and_other_formats(media_files: MediaFiles) -> None:
    off = Settings(jpeg_fast_path=False)
    (frame,) = frames_of(decode(media_files.read("big.jpg"), off, reduce_to=150))
    assert (frame.width, frame.height, frame.scale) == (1600, 1200, 1.0)
    (frame,) = frames_of(decode(media_files.read("still.png"), Settings(), reduce_to=4))
    assert (frame.width, frame.height, frame.scale) == (64, 48, 1.0)


def test_jpeg_fast_path_with_orientation(media_files: MediaFiles, settings: Settings) -> None:
    media = decode(media_files.read("orientation6.jpg"), settings, reduce_to=8)
    assert (media.width, media.height) == (32, 64)
    (frame,) = frames_of(media)
    assert (frame.width, frame.height) == (8, 16)  # stored 64×32 at 1/4, then upright
    assert frame.scale == 4.0
    assert close_to(frame.pixels[1, 6], RED, 60)


def test_reduce_to_must_be_positive(media_files: MediaFiles, settings: Settings) -> None:
    with pytest.raises(ValueError):
        decode(media_files.read("big.jpg"), settings, reduce_to=0)

"""The media layer on real files (../shared/data): the bad-image corpus, animations, EXIF photos.

Skips without the data on a user's clone; fails under CI=true (see tests/conftest.py).
"""

from __future__ import annotations

import collections
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from contentguard.errors import ContentGuardError, TooLarge, UnsupportedMedia
from contentguard.media import DecodedMedia, decode
from contentguard.settings import Settings

pytestmark = pytest.mark.realdata

# Robustness bound per file (not a benchmark): hostile files must not hang the decoder.
MAX_SECONDS = 2.0

_ROOT = Settings().data_dir.resolve() / "images"


def _listing(folder: str) -> list[str]:
    """Files under images/<folder>, relative; one placeholder when the data is missing so the
    test still runs and the `data_dir` fixture skips (or fails under CI) with its message."""
    base = _ROOT / folder
    if not base.is_dir():
        return ["<data missing>"]
    return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file())


BAD = _listing("bad")
ANIMATED = _listing("animated")
STILLS = [f"photos/{n}" for n in _listing("photos")] + [
    f"drawings/{n}" for n in _listing("drawings")
]

# Files that declare enormous dimensions in a few bytes.
DIMENSION_BOMBS = [
    "pillow/decompression_bomb.gif",
    "pillow/decompression_bomb.ico",
    "pillow/decompression_bomb_extents.gif",
    "pillow/bmp_b_reallybig.bmp",
    "pillow/bmp_b_badwidth.bmp",
    "pillow/l2rgb_read.bmp",
]

# Frame counts stated by the files' sources (data/SOURCES.md).
KNOWN_FRAME_COUNTS = {
    "moviepy_circle.gif": 30,
    "moviepy_pigs_in_a_polka.gif": 30,
    "pillow_chi.gif": 31,
    "pillow_different_transparency.gif": 2,
    "pillow_dispose_bgnd.gif": 5,
    "pillow_iss634.apng": 41,
    "pillow_iss634.gif": 42,
    "pillow_iss634.webp": 42,
    "pillow_palette_not_needed_for_second_frame.gif": 2,
}


def outcome(data: bytes, settings: Settings) -> tuple[str, DecodedMedia | None, int]:
    """("ok" or the error code, the media, frames iterated). Other exceptions propagate."""
    try:
        media = decode(data, settings)
        count = 0
        for frame in media.frames():
            assert frame.pixels.dtype == np.uint8 and frame.pixels.ndim == 3
            assert frame.pixels.shape[2] == 3 and frame.pixels.flags.c_contiguous
            count += 1
        return "ok", media, count
    except ContentGuardError as e:
        assert e.message and "\n" not in e.message
        return e.code, None, 0


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's notes on damaged files
@pytest.mark.parametrize("name", BAD)
def test_bad_file_gives_media_or_a_contentguard_error(
    data_dir: Path, settings: Settings, name: str
) -> None:
    data = (data_dir / "images" / "bad" / name).read_bytes()
    start = time.perf_counter()
    code, media, count = outcome(data, settings)
    elapsed = time.perf_counter() - start
    assert elapsed < MAX_SECONDS, f"{name} took {elapsed:.2f} s"
    if media is not None:
        assert count == len(media.sampled_indices) >= 1


@pytest.mark.filterwarnings("error")
def test_bad_corpus_with_warnings_as_errors(data_dir: Path, settings: Settings) -> None:
    """Under `python -W error` Pillow's warnings are exceptions: still only our errors."""
    for path in sorted(p for p in (data_dir / "images" / "bad").rglob("*") if p.is_file()):
        outcome(path.read_bytes(), settings)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_bad_corpus_outcome_table(data_dir: Path, settings: Settings) -> None:
    """The table in docs/media.md (run with -s to print it)."""
    files = sorted(p for p in (data_dir / "images" / "bad").rglob("*") if p.is_file())
    counts: collections.Counter[str] = collections.Counter()
    slowest = (0.0, "")
    for path in files:
        start = time.perf_counter()
        code, _, _ = outcome(path.read_bytes(), settings)
        elapsed = time.perf_counter() - start
        slowest = max(slowest, (elapsed, path.name))
        counts[code] += 1
    print("\n| outcome | files |\n|---|---|")
    for code, count in counts.most_common():
        print(f"| {code} | {count} |")
    print(f"| total | {len(files)} |\nslowest: {slowest[1]} {slowest[0] * 1000:.1f} ms")
    assert sum(counts.values()) == len(files) > 100
    assert set(counts) <= {"ok", "decode_failed", "unsupported_media", "too_large", "timeout"}
    assert counts["ok"] > 0 and counts["decode_failed"] > 0
    assert counts["unsupported_media"] > 0 and counts["too_large"] >= len(DIMENSION_BOMBS)


@pytest.mark.parametrize("name", DIMENSION_BOMBS)
def test_decompression_bombs_are_refused_before_decoding(
    data_dir: Path, settings: Settings, name: str
) -> None:
    data = (data_dir / "images" / "bad" / name).read_bytes()
    with pytest.raises(TooLarge) as caught:
        decode(data, settings)
    assert caught.value.message.startswith("decompression bomb refused")
    assert caught.value.details["stage"] == "header"


def test_png_text_chunk_bomb(data_dir: Path, settings: Settings) -> None:
    data = (data_dir / "images" / "bad" / "pillow" / "png_decompression_dos.png").read_bytes()
    with pytest.raises(TooLarge, match="decompression bomb refused"):
        list(decode(data, settings).frames())


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("pillow/psd-oob-write.psd", "unsupported_media"),
        ("pillow/negative_layer_count.psd", "unsupported_media"),
        ("pillow/timeout-9139147ce93e20eb14088fe238e541443ffd64b3.fli", "unsupported_media"),
        ("pillow/zero_height.j2k", "unsupported_media"),
        ("pillow/truncated_jpeg.jpg", "decode_failed"),
        ("pillow/truncated_image.png", "decode_failed"),
        ("other/skimage_truncated.jpg", "decode_failed"),
        ("other/libjpegturbo_monkey12_12bit.jpg", "decode_failed"),
        ("pillow/zero_width.gif", "decode_failed"),
        ("pillow/sugarshack_no_data.mpo", "ok"),
        ("pillow/hopper_bad_exif.jpg", "ok"),
    ],
)
def test_known_bad_outcomes(data_dir: Path, settings: Settings, name: str, code: str) -> None:
    assert outcome((data_dir / "images" / "bad" / name).read_bytes(), settings)[0] == code


@pytest.mark.parametrize("name", ANIMATED)
def test_animated_frame_counts(data_dir: Path, settings: Settings, name: str) -> None:
    path = data_dir / "images" / "animated" / name
    data = path.read_bytes()
    if path.suffix == ".fli":
        with pytest.raises(UnsupportedMedia, match="FLI"):
            decode(data, settings)
        return
    start = time.perf_counter()
    code, media, count = outcome(data, settings)
    assert time.perf_counter() - start < MAX_SECONDS
    assert code == "ok" and media is not None
    with Image.open(path) as im:
        assert media.total_frames == im.n_frames
    if name in KNOWN_FRAME_COUNTS:
        assert media.total_frames == KNOWN_FRAME_COUNTS[name]
    assert media.animated == (media.total_frames > 1)
    assert count == len(media.sampled_indices) <= settings.max_frames
    assert media.sampled_indices[0] == 0
    assert media.sampled_indices[-1] == media.total_frames - 1


def _first_frame(path: Path, settings: Settings) -> np.ndarray:
    return next(decode(path.read_bytes(), settings).frames()).pixels


@pytest.mark.parametrize(
    "name", ["pillow_hopper_orientation_6.jpg", "pillow_hopper_orientation_3.webp"]
)
def test_exif_rotated_hopper_comes_out_upright(
    data_dir: Path, settings: Settings, name: str
) -> None:
    photos = data_dir / "images" / "photos"
    reference = _first_frame(photos / "pillow_hopper.jpg", settings).astype(float)
    upright = _first_frame(photos / name, settings).astype(float)
    with Image.open(photos / name) as im:
        unrotated = np.asarray(im.convert("RGB"), dtype=float)
    assert upright.shape == reference.shape == unrotated.shape
    diff = np.abs(upright - reference).mean()
    diff_unrotated = np.abs(unrotated - reference).mean()
    assert diff < 10, diff
    assert diff_unrotated > 5 * diff, (diff, diff_unrotated)


def test_xmp_orientation_png(data_dir: Path, settings: Settings) -> None:
    path = data_dir / "images" / "photos" / "pillow_xmp_tags_orientation.png"
    with Image.open(path) as im:
        orientation = im.getexif().get(0x0112)
        assert orientation == 3, "the file's XMP says tiff:Orientation 3"
        flat = Image.new("RGBA", im.size, (255, 255, 255, 255))
        flat.alpha_composite(im.convert("RGBA"))
        unrotated = np.asarray(flat.convert("RGB"), dtype=float)
    decoded = _first_frame(path, settings).astype(float)
    expected = np.rot90(unrotated, 2)
    assert decoded.shape == expected.shape
    assert np.abs(decoded - expected).mean() < 1.0
    assert np.abs(decoded - unrotated).mean() > 10


@pytest.mark.parametrize("name", STILLS)
def test_photos_and_drawings_decode_to_rgb(data_dir: Path, settings: Settings, name: str) -> None:
    code, media, count = outcome((data_dir / "images" / name).read_bytes(), settings)
    assert code == "ok" and media is not None
    assert media.total_frames == 1 and count == 1
    assert media.media_type.startswith("image/")


def test_mpo_is_reported_as_jpeg(data_dir: Path, settings: Settings) -> None:
    for name in ("pillow_frozenpond.mpo", "pillow_sugarshack.mpo"):
        path = data_dir / "images" / "photos" / name
        with Image.open(path) as im:
            assert im.format == "MPO" and im.n_frames == 2
            primary = np.asarray(im.convert("RGB"), dtype=float)
        media = decode(path.read_bytes(), settings)
        assert media.media_type == "image/jpeg" and media.total_frames == 1
        (frame,) = list(media.frames())
        assert np.abs(frame.pixels - primary).mean() < 0.5


def test_large_jpeg_fast_path_on_a_real_photo(data_dir: Path, settings: Settings) -> None:
    data = (data_dir / "images" / "photos" / "moviepy_vacation_2017.jpg").read_bytes()
    media = decode(data, settings, reduce_to=224)
    (frame,) = list(media.frames())
    assert (media.width, media.height) == (2560, 1440)
    # 1440 / 8 = 180 would go below 224, so libjpeg decodes at 1/4
    assert (frame.width, frame.height) == (640, 360)
    assert frame.scale == 4.0

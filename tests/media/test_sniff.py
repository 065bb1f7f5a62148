"""sniff(): the real type from magic bytes only; other formats refused with a clear message."""

from __future__ import annotations

import struct

import pytest

from contentguard.errors import UnsupportedMedia
from contentguard.media import SUPPORTED, SniffResult, sniff

from .conftest import MediaFiles, png_chunk


@pytest.mark.parametrize(
    ("name", "media_type", "pillow_format"),
    [
        ("still.jpg", "image/jpeg", "JPEG"),
        ("still.png", "image/png", "PNG"),
        ("still.gif", "image/gif", "GIF"),
        ("still.webp", "image/webp", "WEBP"),
        ("still.bmp", "image/bmp", "BMP"),
        ("still.tif", "image/tiff", "TIFF"),
        ("still.ico", "image/x-icon", "ICO"),
        ("still.mpo", "image/jpeg", "JPEG"),  # JPEG-compatible: the primary image is a JPEG
        ("anim.gif", "image/gif", "GIF"),
        ("anim.webp", "image/webp", "WEBP"),
        ("anim.png", "image/apng", "PNG"),
        ("actl_after_idat.png", "image/png", "PNG"),  # acTL after IDAT: not an APNG
    ],
)
def test_supported_formats(
    media_files: MediaFiles, name: str, media_type: str, pillow_format: str
) -> None:
    result = sniff(media_files.read(name))
    assert result == SniffResult(media_type, pillow_format)
    assert result.animated_format == (media_type in {"image/gif", "image/webp", "image/apng"})


def test_mpo_really_is_an_mpo(media_files: MediaFiles) -> None:
    assert b"MPF\x00" in media_files.read("still.mpo")


def test_the_name_does_not_matter(media_files: MediaFiles) -> None:
    assert media_files["text.jpg"].suffix == ".jpg"
    with pytest.raises(UnsupportedMedia, match="text is not an image"):
        sniff(media_files.read("text.jpg"))
    for name in ("video_mp4.png", "video_webm.png"):
        with pytest.raises(UnsupportedMedia, match="^video is not supported yet"):
            sniff(media_files.read(name))


def test_empty_input() -> None:
    with pytest.raises(UnsupportedMedia, match="^empty input$"):
        sniff(b"")


def _riff(form: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 100) + form + b"\x00" * 32


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 8,
            "video is not supported yet",
        ),
        (
            b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  " + b"\x00" * 8,
            "video is not supported yet",
        ),
        (b"\x1a\x45\xdf\xa3\x42\x82\x88matroska" + b"\x00" * 8, "video is not supported yet"),
        (_riff(b"AVI LIST"), "video is not supported yet"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", "AVIF images are not supported"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC/HEIF images are not supported"),
        (b"8BPS\x00\x01" + b"\x00" * 32, "PSD images are not supported; send " + SUPPORTED),
        (b"\x00\x00\x02\x00\x01\x00" + b"\x00" * 32, "CUR"),
        (b"\x01\xda\x01\x01\x00\x03" + b"\x00" * 32, "SGI images"),
        (b"DDS \x7c\x00\x00\x00" + b"\x00" * 32, "DDS images"),
        (b"BLP2\x01\x00\x00\x00" + b"\x00" * 32, "BLP images"),
        (b"qoif\x00\x00\x00\x01\x00\x00\x00\x01\x04\x00", "QOI images"),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00" * 32, "JPEG 2000 images"),
        (b"\xff\x4f\xff\x51\x00\x29" + b"\x00" * 32, "JPEG 2000 images"),
        (b"\xff\x0a\xfa\x7f" + b"\x00" * 32, "JPEG XL images"),
        (b"icns\x00\x00\x01\x00" + b"\x00" * 32, "ICNS images"),
        (b"SIMPLE  =                    T" + b" " * 50, "FITS images"),
        (b"\x0a\x05\x01\x08" + b"\x00" * 124, "PCX images"),
        (
            b"\x00\x00\x00\x00\x11\xaf\x01\x00\x40\x01\xc8\x00\x08\x00\x03\x00" + b"\x00" * 16,
            "FLI/FLC",
        ),
        (b"P6\n4 4\n255\n" + b"\x00" * 48, "PNM"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF documents are not supported"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "SVG images"),
        (b"<svg width='10' height='10'></svg>", "SVG images"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "HTML is not an image"),
        (b"<?xml version='1.0'?><root/>", "XML is not an image"),
        (b'{"not": "an image"}', "text is not an image"),
        (b"PK\x03\x04\x14\x00" + b"\x00" * 32, "archives"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 32, "archives"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 32, "executables"),
        (_riff(b"WAVEfmt "), "audio"),
        (b"OggS\x00\x02" + b"\x00" * 32, "Ogg"),
        (b"\x00\x01\x09\x00\x00\x01\x00\x18\x00\x00\x00\x00\x40\x00\x40\x00\x08\x00", "TGA images"),
        (b"\x13\x37\xde\xad\xbe\xef\x00\x01" + b"\x00" * 32, "unrecognised format"),
    ],
)
def test_refused_formats_are_named(data: bytes, message: str) -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        sniff(data)
    assert message in caught.value.message
    assert caught.value.code == "unsupported_media"
    assert "\n" not in caught.value.message


def test_refused_image_message_lists_what_to_send() -> None:
    with pytest.raises(UnsupportedMedia) as caught:
        sniff(b"8BPS\x00\x01" + b"\x00" * 32)
    assert caught.value.message == (
        "PSD images are not supported; send JPEG, PNG, GIF, WebP, BMP, TIFF or ICO"
    )
    assert caught.value.details == {"detected": "PSD"}


def test_apng_needs_actl_before_the_first_idat() -> None:
    signature = b"\x89PNG\r\n\x1a\n"
    ihdr = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    actl = png_chunk(b"acTL", struct.pack(">II", 1, 0))
    idat = png_chunk(b"IDAT", b"x")
    iend = png_chunk(b"IEND", b"")
    assert sniff(signature + ihdr + actl + idat + iend).media_type == "image/apng"
    assert sniff(signature + ihdr + idat + actl + iend).media_type == "image/png"
    # a truncated chunk list is still a PNG as far as sniffing goes; decoding will fail
    assert sniff(signature + ihdr[:10]).media_type == "image/png"


def test_text_that_starts_like_an_image_is_text() -> None:
    with pytest.raises(UnsupportedMedia, match="text"):
        sniff(b"BM is not a bitmap, just a sentence that starts with BM.\n")
    with pytest.raises(UnsupportedMedia, match="text"):
        sniff(b"GIF89a is a file format; this line is only text about it.\n")

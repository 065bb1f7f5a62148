"""Find the real type of an input from its bytes alone (never its name or declared type).

`sniff()` accepts the still and animated image formats the service moderates and refuses every
other format it recognises with a message naming it (video, PSD, PDF, SVG, text, …). Unknown
bytes are refused too. See docs/media.md for the table.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from contentguard.errors import UnsupportedMedia

SUPPORTED = "JPEG, PNG, GIF, WebP, BMP, TIFF or ICO"

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# A PNG is a list of chunks; a hostile one can hold millions of empty ones, which Pillow parses
# in Python (seconds per million). Real files have a few dozen (a few thousand for big APNGs).
MAX_PNG_CHUNKS = 100_000


@dataclass(frozen=True)
class SniffResult:
    """What the bytes are: the media type reported to callers and the Pillow format to open."""

    media_type: str  # "image/jpeg", "image/apng", …
    pillow_format: str  # "JPEG", "PNG", … (the only format Image.open may try)

    @property
    def animated_format(self) -> bool:
        """True for formats that can hold an animation (GIF, APNG, WebP)."""
        return self.media_type in {"image/gif", "image/apng", "image/webp"}


_JPEG = SniffResult("image/jpeg", "JPEG")
_PNG = SniffResult("image/png", "PNG")
_APNG = SniffResult("image/apng", "PNG")
_GIF = SniffResult("image/gif", "GIF")
_WEBP = SniffResult("image/webp", "WEBP")
_BMP = SniffResult("image/bmp", "BMP")
_TIFF = SniffResult("image/tiff", "TIFF")
_ICO = SniffResult("image/x-icon", "ICO")

# ISO base media (ftyp) brands that are still images rather than video.
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"mif2"}
_AVIF_BRANDS = {b"avif", b"avis"}
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}


def sniff(data: bytes) -> SniffResult:
    """The media type of `data`, or UnsupportedMedia naming what it is instead."""
    if not data:
        raise UnsupportedMedia("empty input")
    head = data[:64]

    # --- accepted formats -------------------------------------------------------------------
    if head.startswith(b"\xff\xd8\xff"):
        # Plain JPEG/JFIF/EXIF and MPO (JPEG + MPF APP2 segment): the primary image is a JPEG.
        return _JPEG
    if head.startswith(PNG_SIGNATURE):
        return _APNG if png_has_actl(data) else _PNG
    if head.startswith((b"GIF87a", b"GIF89a")) and _as_text(data[:2048]) is None:
        return _GIF
    if head.startswith(b"RIFF") and len(head) >= 12:
        form = head[8:12]
        if form == b"WEBP":
            return _WEBP
        if form in (b"AVI ", b"AVIX"):
            _refuse_video("AVI")
        if form == b"WAVE":
            raise UnsupportedMedia("audio (WAV) is not supported")
        _refuse_image(f"RIFF {form.decode('latin-1')!r}")
    if head.startswith(b"BM") and len(head) >= 14 and _as_text(data[:2048]) is None:
        return _BMP
    if head.startswith((b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")):
        return _TIFF
    if head.startswith(b"\x00\x00\x01\x00") and len(head) >= 6:
        return _ICO

    # --- recognised but refused ------------------------------------------------------------
    _refuse_known(data, head)
    raise UnsupportedMedia(
        f"unrecognised format (first bytes {head[:8].hex(' ')}); send {SUPPORTED}",
        detected="unknown",
    )


def _refuse_image(name: str) -> None:
    raise UnsupportedMedia(f"{name} images are not supported; send {SUPPORTED}", detected=name)


def _refuse_video(name: str) -> None:
    raise UnsupportedMedia(f"video is not supported yet ({name})", detected=name)


def _refuse(message: str, name: str) -> None:
    raise UnsupportedMedia(message, detected=name)


#: magic numbers of image formats we recognise only to refuse them by name
_REFUSED_IMAGE_PREFIXES: tuple[tuple[tuple[bytes, ...], str], ...] = (
    ((b"8BPS",), "PSD"),
    ((b"gimp xcf",), "GIMP XCF"),
    ((b"\x00\x00\x02\x00",), "CUR (cursor)"),
    ((b"\x01\xda",), "SGI"),
    ((b"DDS ",), "DDS"),
    ((b"BLP0", b"BLP1", b"BLP2"), "BLP"),
    ((b"qoif",), "QOI"),
    ((b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51"), "JPEG 2000"),
    ((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n"), "JPEG XL"),
    ((b"icns",), "ICNS"),
    ((b"SIMPLE  =",), "FITS"),
    ((b"DanM", b"LinS"), "MSP"),
    ((b"\xd7\xcd\xc6\x9a",), "WMF/EMF"),
)


def _refuse_known(data: bytes, head: bytes) -> None:
    """Raise UnsupportedMedia naming the format if the bytes are a format we recognise."""
    # Video and audio containers.
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        brands = {brand} | {head[i : i + 4] for i in range(16, min(len(head), 40), 4)}
        if brands & _AVIF_BRANDS:
            _refuse_image("AVIF")
        if brands & _HEIF_BRANDS:
            _refuse_image("HEIC/HEIF")
        if brand == b"crx ":
            _refuse_image("Canon CR3 raw")
        if brand in _AUDIO_BRANDS:
            _refuse("audio (MPEG-4) is not supported", "MPEG-4 audio")
        if brand == b"qt  ":
            _refuse_video("QuickTime MOV")
        if brand.startswith(b"3g"):
            _refuse_video("3GP")
        _refuse_video(f"MP4, brand {brand.decode('latin-1').strip()!r}")
    if len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        _refuse_video("QuickTime MOV")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        _refuse_video("WebM" if b"webm" in data[:4096] else "Matroska MKV")
    if head.startswith(b"FLV\x01"):
        _refuse_video("FLV")
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        _refuse_video("ASF/WMV")
    if head.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3")):
        _refuse_video("MPEG program stream")
    if head.startswith(b"OggS"):
        _refuse("Ogg media (video/audio) is not supported", "Ogg")
    if head.startswith((b"ID3", b"fLaC")) or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        _refuse("audio is not supported", "audio")
    # Image formats Pillow could open but we do not accept (rare, fuzzed often, not on the web).
    for prefixes, name in _REFUSED_IMAGE_PREFIXES:
        if head.startswith(prefixes):
            _refuse_image(name)
    if head.startswith(b"\x01\x00\x00\x00") and head[40:44] == b" EMF":
        _refuse_image("WMF/EMF")
    if head.startswith((b"%!PS", b"\xc5\xd0\xd3\xc6")):
        _refuse_image("PostScript/EPS")
    if head.startswith(b"%PDF"):
        _refuse("PDF documents are not supported; send an image", "PDF")
    if (
        len(head) >= 3
        and head[0:1] == b"P"
        and (
            (head[1:2] in b"1234567" and head[2:3] in b" \t\r\n0123456789")
            or (head[1:2] in b"fF" and head[2:3] in b" \t\r\n")
        )
    ):
        _refuse_image("PNM (PBM/PGM/PPM/PAM/PFM)")
    if head.startswith(b"PNG\r\n\x1a\n"):
        _refuse("damaged PNG: the signature lacks its first byte", "damaged PNG")
    if len(head) >= 2 and head[0] == 0x0A and head[1] in (0, 2, 3, 5):
        _refuse_image("PCX")
    if len(head) >= 16 and struct.unpack_from("<H", head, 4)[0] in (0xAF11, 0xAF12):
        _refuse_image("FLI/FLC")
    # Archives and executables.
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        _refuse("archives (ZIP) are not supported", "ZIP")
    if head.startswith((b"\x1f\x8b", b"7z\xbc\xaf\x27\x1c", b"Rar!", b"BZh", b"\xfd7zXZ\x00")):
        _refuse("archives are not supported", "archive")
    if head.startswith((b"\x7fELF", b"MZ")):
        _refuse("executables are not supported", "executable")
    # Markup and text.
    text = _as_text(data[:2048])
    if text is not None:
        lowered = text.lstrip("\ufeff \t\r\n").lower()
        if "<svg" in lowered:
            _refuse_image("SVG")
        if lowered.startswith(("<!doctype html", "<html")) or "<html" in lowered[:512]:
            _refuse("HTML is not an image", "HTML")
        if lowered.startswith("<?xml") or lowered.startswith("<"):
            _refuse("XML is not an image", "XML")
        if lowered.startswith("/* xpm */"):
            _refuse_image("XPM")
        if lowered.startswith("#define"):
            _refuse_image("XBM")
        _refuse("text is not an image (send text through the text endpoint)", "text")
    # Formats without a magic number, recognised by header plausibility (last resort).
    if len(data) > 376 and data[0] == 0x47 and data[188] == 0x47 and data[376] == 0x47:
        _refuse_video("MPEG transport stream")
    if _looks_like_spider(data):
        _refuse_image("SPIDER")
    if data.endswith(b"TRUEVISION-XFILE.\x00") or _looks_like_tga(head):
        _refuse_image("TGA")


def _as_text(sample: bytes) -> str | None:
    """`sample` decoded as UTF-8/UTF-16 text if it looks like text, else None."""
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return sample.decode("utf-16")
        except UnicodeDecodeError:
            return None
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as e:
        # a multi-byte character cut at the end of the sample is still text
        if e.start < len(sample) - 3:
            return None
        text = sample[: e.start].decode("utf-8")
    if not text.strip():
        return None
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f")
    return text if controls == 0 else None


def _looks_like_spider(data: bytes) -> bool:
    """SPIDER has no magic number; check header fields the way Pillow does."""
    if len(data) < 92:
        return False
    for order in (">", "<"):
        h = (99.0,) + struct.unpack(order + "23f", data[:92])
        try:
            if not all(h[i] == int(h[i]) for i in (1, 2, 5, 12, 13, 22, 23)):
                continue
        except (ValueError, OverflowError):  # NaN / inf
            continue
        if int(h[5]) not in (1, 3, -11, -12, -21, -22):
            continue
        if int(h[22]) == int(h[13]) * int(h[23]) and int(h[22]) > 0:
            return True
    return False


def _looks_like_tga(head: bytes) -> bool:
    """TGA has no magic number either: colour-map type, image type and depth must be valid."""
    if len(head) < 18:
        return False
    colormap_type, image_type, depth = head[1], head[2], head[16]
    if colormap_type not in (0, 1) or image_type not in (1, 2, 3, 9, 10, 11):
        return False
    if image_type in (1, 9) and colormap_type != 1:
        return False
    return depth in (1, 8, 15, 16, 24, 32)


def iter_png_chunks(data: bytes, limit: int = MAX_PNG_CHUNKS) -> Iterator[tuple[bytes, int, int]]:
    """(type, data offset, length) of each chunk after the signature, stopping at IEND, at the
    end of the data, or after `limit` chunks (the caller decides what too many means)."""
    pos = len(PNG_SIGNATURE)
    end = len(data)
    unpack = struct.unpack_from
    for _ in range(limit):
        if pos + 8 > end:
            return
        (length,) = unpack(">I", data, pos)
        ctype = data[pos + 4 : pos + 8]
        yield ctype, pos + 8, length
        if ctype == b"IEND":
            return
        pos += 12 + length


def png_has_actl(data: bytes) -> bool:
    """APNG: a PNG with an acTL chunk before its first IDAT."""
    for ctype, _, _ in iter_png_chunks(data):
        if ctype == b"acTL":
            return True
        if ctype == b"IDAT":
            return False
    return False

"""read_file() and read_stream(): limits before reading, clear errors for every kind of path."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from contentguard.errors import NotFound, TooLarge, UnsupportedMedia
from contentguard.media import read_file, read_stream
from contentguard.settings import Settings

from .conftest import MediaFiles


def test_reads_a_file(media_files: MediaFiles, settings: Settings) -> None:
    path = media_files["still.png"]
    assert read_file(path, settings) == path.read_bytes()


def test_file_at_exactly_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "ten.bin"
    path.write_bytes(b"0123456789")
    assert read_file(path, Settings(max_bytes=10)) == b"0123456789"
    with pytest.raises(TooLarge, match="10 bytes; the limit is 9"):
        read_file(path, Settings(max_bytes=9))


def test_size_is_checked_before_reading(tmp_path: Path) -> None:
    # a sparse 64 GiB file: reading it would take minutes, stat refuses it at once
    path = tmp_path / "huge.bin"
    with open(path, "wb") as f:
        f.truncate(64 * 1024**3)
    with pytest.raises(TooLarge) as caught:
        read_file(path, Settings())
    assert caught.value.details["size"] == 64 * 1024**3
    assert caught.value.details["stage"] == "bytes"


def test_missing_file(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(NotFound, match="no such file"):
        read_file(tmp_path / "nope.jpg", settings)
    with pytest.raises(NotFound):
        read_file(tmp_path / "nope" / "deeper.jpg", settings)


def test_parent_is_a_file(media_files: MediaFiles, settings: Settings) -> None:
    with pytest.raises(NotFound):
        read_file(media_files["still.png"] / "child.jpg", settings)


def test_directory(tmp_path: Path, settings: Settings) -> None:
    with pytest.raises(UnsupportedMedia, match="is a directory"):
        read_file(tmp_path, settings)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path: Path, settings: Settings) -> None:
    path = tmp_path / "secret.jpg"
    path.write_bytes(b"\xff\xd8\xff")
    path.chmod(0)
    try:
        with pytest.raises(UnsupportedMedia, match="permission denied"):
            read_file(path, settings)
    finally:
        path.chmod(0o600)


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_read_error(settings: Settings) -> None:
    # /proc/self/mem opens fine but reading from offset 0 fails with EIO, even for root
    with pytest.raises(UnsupportedMedia, match="cannot read"):
        read_file(Path("/proc/self/mem"), settings)


def test_fifo_is_read_with_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "pipe"
    os.mkfifo(path)

    def writer() -> None:
        with open(path, "wb") as f:
            try:
                f.write(b"x" * 5000)
            except BrokenPipeError:
                pass

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        with pytest.raises(TooLarge):
            read_file(path, Settings(max_bytes=1000))
    finally:
        thread.join(timeout=10)


class CountingStream(io.RawIOBase):
    """An endless stream that records how much was asked of it."""

    def __init__(self, total: int | None = None) -> None:
        self.total = total
        self.served = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        assert size is not None and size > 0, "read() without a size would buffer everything"
        if self.total is not None:
            size = min(size, self.total - self.served)
        self.served += size
        return b"z" * size


def test_stream_under_the_limit() -> None:
    assert read_stream(io.BytesIO(b"abc"), Settings()) == b"abc"
    assert read_stream(io.BytesIO(b""), Settings()) == b""
    stream = CountingStream(total=3 * 1024 * 1024 + 5)
    assert len(read_stream(stream, Settings())) == 3 * 1024 * 1024 + 5


def test_stream_over_the_limit_reads_at_most_one_byte_more() -> None:
    stream = CountingStream()  # endless
    with pytest.raises(TooLarge, match="larger than the limit of 2500000 bytes"):
        read_stream(stream, Settings(max_bytes=2_500_000))
    assert stream.served == 2_500_001


def test_stream_at_exactly_the_limit() -> None:
    assert len(read_stream(io.BytesIO(b"q" * 100), Settings(max_bytes=100))) == 100
    with pytest.raises(TooLarge):
        read_stream(io.BytesIO(b"q" * 101), Settings(max_bytes=100))


def test_text_stream_is_refused() -> None:
    with pytest.raises(UnsupportedMedia, match="binary"):
        read_stream(io.StringIO("not bytes"), Settings())  # type: ignore[arg-type]

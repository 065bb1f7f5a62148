"""Read an input's bytes from a file or a stream without ever holding more than the limit.

Both readers stop at `settings.max_bytes + 1` bytes: one byte past the limit is enough to know
the input is too large, so a 100 GB upload costs at most the limit in memory.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from contentguard.errors import NotFound, TooLarge, UnsupportedMedia
from contentguard.settings import Settings

CHUNK_SIZE = 1024 * 1024


def _too_large(what: str, size: int | None, limit: int) -> TooLarge:
    if size is None:
        return TooLarge(
            f"{what} is larger than the limit of {limit} bytes", limit=limit, stage="bytes"
        )
    return TooLarge(
        f"{what} is {size} bytes; the limit is {limit}", size=size, limit=limit, stage="bytes"
    )


def _read_capped(read: Callable[[int], bytes | None], limit: int) -> bytes:
    """Call `read(n)` until end of data or `limit` + 1 bytes, whichever comes first."""
    chunks: list[bytes] = []
    total = 0
    while total <= limit:
        chunk = read(min(CHUNK_SIZE, limit + 1 - total))
        if chunk is None:  # a non-blocking stream with nothing ready: treat as its end
            break
        if isinstance(chunk, str):
            raise UnsupportedMedia("the input stream is text, not bytes (open it in binary mode)")
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def read_file(path: Path, settings: Settings) -> bytes:
    """The bytes of `path`: NotFound if it does not exist, UnsupportedMedia if it is a directory
    or cannot be read, TooLarge (checked with stat before reading) if over `max_bytes`."""
    path = Path(path)
    limit = settings.max_bytes
    try:
        info = path.stat()
    except FileNotFoundError:
        raise NotFound(f"no such file: {path}", path=str(path)) from None
    except NotADirectoryError:
        raise NotFound(f"no such file: {path} (a parent is not a directory)") from None
    except PermissionError:
        raise UnsupportedMedia(f"cannot read {path}: permission denied", path=str(path)) from None
    except OSError as e:
        raise UnsupportedMedia(f"cannot read {path}: {e.strerror or e}", path=str(path)) from None

    if stat.S_ISDIR(info.st_mode):
        raise UnsupportedMedia(f"{path} is a directory, not a file", path=str(path))
    if stat.S_ISSOCK(info.st_mode):
        raise UnsupportedMedia(f"{path} is a socket, not a file", path=str(path))
    if stat.S_ISREG(info.st_mode) and info.st_size > limit:
        raise _too_large(str(path), info.st_size, limit)

    try:
        with open(path, "rb", buffering=0) as f:
            data = _read_capped(f.read, limit)
    except FileNotFoundError:
        raise NotFound(f"no such file: {path}", path=str(path)) from None
    except IsADirectoryError:
        raise UnsupportedMedia(f"{path} is a directory, not a file", path=str(path)) from None
    except PermissionError:
        raise UnsupportedMedia(f"cannot read {path}: permission denied", path=str(path)) from None
    except OSError as e:
        reason = e.strerror or os.strerror(e.errno or errno.EIO)
        raise UnsupportedMedia(f"cannot read {path}: {reason}", path=str(path)) from None
    if len(data) > limit:  # grew since stat, or a pipe/device
        raise _too_large(str(path), None, limit)
    return data


def read_stream(stream: BinaryIO, settings: Settings) -> bytes:
    """All bytes of `stream` (e.g. stdin's buffer), read in chunks, up to `max_bytes`."""
    limit = settings.max_bytes
    try:
        data = _read_capped(stream.read, limit)
    except OSError as e:
        raise UnsupportedMedia(f"cannot read the input stream: {e.strerror or e}") from None
    if len(data) > limit:
        raise _too_large("the input stream", None, limit)
    return data

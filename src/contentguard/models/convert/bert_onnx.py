"""Build a BERT sentence encoder (mean pooling, L2 normalisation) as an ONNX graph from its weights.

The graph takes `input_ids` and `attention_mask` (int64, [batch, sequence], right-padded) and
gives `embedding` (float32, [batch, hidden], unit length), so serving needs only ONNX Runtime.

Two forms of the same computation:
- `fused=True` (default) writes ONNX Runtime's transformer kernels directly
  (`com.microsoft` EmbedLayerNormalization, Attention, SkipLayerNormalization, BiasGelu): one
  node per step instead of a dozen, which is what makes it fast on a CPU. The graph then runs
  on ONNX Runtime only.
- `fused=False` uses standard ONNX operators only (opset 17, LayerNormalization; GELU in its
  erf form as in BERT), for any ONNX runtime, and as a cross-check of the fused graph.

Weights are named as in a Hugging Face `BertModel` state dict (an optional `bert.` prefix is
ignored). Sentences are single segments, so token type 0 is folded into the position table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
MS_DOMAIN = "com.microsoft"


@dataclass(frozen=True)
class BertConfig:
    """The architecture numbers a Hugging Face `config.json` gives for a BERT encoder."""

    hidden: int
    heads: int
    layers: int
    intermediate: int
    eps: float

    @classmethod
    def from_hf(cls, config: Mapping[str, Any]) -> BertConfig:
        if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
            raise ValueError("only BERT encoders with the exact (erf) GELU are supported")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")
        return cls(
            hidden=int(config["hidden_size"]),
            heads=int(config["num_attention_heads"]),
            layers=int(config["num_hidden_layers"]),
            intermediate=int(config["intermediate_size"]),
            eps=float(config["layer_norm_eps"]),
        )


class _Graph:
    """Collects nodes and constants; every weight lookup is recorded to catch unused ones."""

    def __init__(self, weights: Mapping[str, np.ndarray]) -> None:
        self.weights = {k.removeprefix("bert."): v for k, v in weights.items()}
        self.used: set[str] = set()
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def w(self, name: str) -> np.ndarray:
        self.used.add(name)
        return np.asarray(self.weights[name], dtype=np.float32)

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, *, domain: str = "", **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, domain=domain or None,
                                           **attrs))
        return output

    def linear(self, x: str, prefix: str, *, bias: bool = True) -> str:
        """x @ W.T (+ b): torch stores Linear weights as [out, in]."""
        y = self.node("MatMul", [x, self.const(f"{prefix}.W", self.w(f"{prefix}.weight").T)],
                      f"{prefix}/matmul")
        if not bias:
            return y
        return self.node("Add", [y, self.const(f"{prefix}.b", self.w(f"{prefix}.bias"))], f"{prefix}/out")

    def layer_norm(self, x: str, prefix: str, eps: float) -> str:
        return self.node(
            "LayerNormalization",
            [x, self.const(f"{prefix}.g", self.w(f"{prefix}.weight")),
             self.const(f"{prefix}.beta", self.w(f"{prefix}.bias"))],
            f"{prefix}/out", axis=-1, epsilon=eps,
        )

    def ints(self, name: str, values: list[int]) -> str:
        return self.const(name, np.array(values, dtype=np.int64))


def _position_table(g: _Graph) -> np.ndarray:
    """Position embeddings plus token type 0: every token of a single sentence has type 0."""
    token_type = g.w("embeddings.token_type_embeddings.weight")[0]
    return g.w("embeddings.position_embeddings.weight") + token_type


def _qkv(g: _Graph, layer: str, cfg: BertConfig) -> tuple[np.ndarray, np.ndarray]:
    """Query, key and value projections packed side by side ([hidden, 3·hidden], [3·hidden])."""
    parts = [f"{layer}.attention.self.{p}" for p in ("query", "key", "value")]
    weight = np.concatenate([g.w(f"{p}.weight").T for p in parts], axis=1)
    bias = np.concatenate([g.w(f"{p}.bias") for p in parts])
    return weight, bias


# --- the fused form ------------------------------------------------------------------------------

def _fused_layer(g: _Graph, x: str, mask: str, i: int, cfg: BertConfig) -> str:
    layer = f"encoder.layer.{i}"
    w, b = _qkv(g, layer, cfg)
    ctx = g.node("Attention", [x, g.const(f"{layer}.qkv.W", w), g.const(f"{layer}.qkv.b", b), mask],
                 f"{layer}/attention", domain=MS_DOMAIN, num_heads=cfg.heads)
    dense = f"{layer}.attention.output.dense"
    proj = g.linear(ctx, dense, bias=False)
    attn_ln = f"{layer}.attention.output.LayerNorm"
    x = g.node(
        "SkipLayerNormalization",
        [proj, x, g.const(f"{attn_ln}.g", g.w(f"{attn_ln}.weight")),
         g.const(f"{attn_ln}.beta", g.w(f"{attn_ln}.bias")),
         g.const(f"{dense}.b", g.w(f"{dense}.bias"))],
        f"{attn_ln}/out", domain=MS_DOMAIN, epsilon=cfg.eps,
    )
    inter = f"{layer}.intermediate.dense"
    h = g.linear(x, inter, bias=False)
    h = g.node("BiasGelu", [h, g.const(f"{inter}.b", g.w(f"{inter}.bias"))], f"{inter}/gelu",
               domain=MS_DOMAIN)
    out = f"{layer}.output.dense"
    y = g.linear(h, out, bias=False)
    out_ln = f"{layer}.output.LayerNorm"
    return g.node(
        "SkipLayerNormalization",
        [y, x, g.const(f"{out_ln}.g", g.w(f"{out_ln}.weight")),
         g.const(f"{out_ln}.beta", g.w(f"{out_ln}.bias")),
         g.const(f"{out}.b", g.w(f"{out}.bias"))],
        f"{out_ln}/out", domain=MS_DOMAIN, epsilon=cfg.eps,
    )


def _fused_encoder(g: _Graph, cfg: BertConfig) -> str:
    ids = g.node("Cast", ["input_ids"], "input_ids_int32", to=TensorProto.INT32)
    mask = g.node("Cast", ["attention_mask"], "attention_mask_int32", to=TensorProto.INT32)
    ln = "embeddings.LayerNorm"
    embed = helper.make_node(
        "EmbedLayerNormalization",
        [ids, "", g.const("embeddings.word", g.w("embeddings.word_embeddings.weight")),
         g.const("embeddings.position", _position_table(g)), "",
         g.const(f"{ln}.g", g.w(f"{ln}.weight")), g.const(f"{ln}.beta", g.w(f"{ln}.bias"))],
        ["embeddings/out", "embeddings/mask_index"],
        name="embeddings", domain=MS_DOMAIN, epsilon=cfg.eps,
    )
    g.nodes.append(embed)
    x = "embeddings/out"
    for i in range(cfg.layers):
        x = _fused_layer(g, x, mask, i, cfg)
    return x


# --- the standard form ---------------------------------------------------------------------------

def _heads(g: _Graph, x: str, name: str, cfg: BertConfig, perm: list[int]) -> str:
    """[batch, seq, hidden] -> per-head layout given by `perm` over [batch, seq, heads, dim]."""
    split = g.node("Reshape", [x, g.ints(f"{name}/shape", [0, 0, cfg.heads, cfg.hidden // cfg.heads])],
                   f"{name}/split")
    return g.node("Transpose", [split], f"{name}/heads", perm=perm)


def _standard_attention(g: _Graph, x: str, mask_bias: str, layer: str, cfg: BertConfig) -> str:
    w, b = _qkv(g, layer, cfg)
    scale = 1.0 / math.sqrt(cfg.hidden // cfg.heads)
    qkv = g.node("MatMul", [x, g.const(f"{layer}.qkv.W", w)], f"{layer}/qkv/matmul")
    qkv = g.node("Add", [qkv, g.const(f"{layer}.qkv.b", b)], f"{layer}/qkv")
    split = g.ints(f"{layer}/qkv/sizes", [cfg.hidden] * 3)
    names = [f"{layer}/{p}" for p in ("q", "k", "v")]
    g.nodes.append(helper.make_node("Split", [qkv, split], names, name=f"{layer}/split", axis=-1))
    q = _heads(g, names[0], names[0], cfg, [0, 2, 1, 3])
    k = _heads(g, names[1], names[1], cfg, [0, 2, 3, 1])
    v = _heads(g, names[2], names[2], cfg, [0, 2, 1, 3])
    scores = g.node("MatMul", [q, k], f"{layer}/scores")
    scores = g.node("Mul", [scores, g.const(f"{layer}/scale", np.array(scale, np.float32))],
                    f"{layer}/scaled")
    scores = g.node("Add", [scores, mask_bias], f"{layer}/masked")
    probs = g.node("Softmax", [scores], f"{layer}/probs", axis=-1)
    ctx = g.node("MatMul", [probs, v], f"{layer}/context")
    ctx = g.node("Transpose", [ctx], f"{layer}/context/t", perm=[0, 2, 1, 3])
    return g.node("Reshape", [ctx, g.ints(f"{layer}/merge", [0, 0, cfg.hidden])], f"{layer}/merged")


def _gelu(g: _Graph, x: str, name: str) -> str:
    """BERT's exact GELU, x·½·(1 + erf(x/√2))."""
    scaled = g.node("Mul", [x, g.const(f"{name}/rsqrt2", np.array(1 / math.sqrt(2), np.float32))],
                    f"{name}/scaled")
    erf = g.node("Erf", [scaled], f"{name}/erf")
    one = g.node("Add", [erf, g.const(f"{name}/one", np.array(1.0, np.float32))], f"{name}/plus1")
    half = g.node("Mul", [x, g.const(f"{name}/half", np.array(0.5, np.float32))], f"{name}/half_x")
    return g.node("Mul", [half, one], f"{name}/out")


def _standard_encoder(g: _Graph, cfg: BertConfig) -> str:
    words = g.node("Gather", [g.const("embeddings.word", g.w("embeddings.word_embeddings.weight")),
                              "input_ids"], "embeddings/words", axis=0)
    seq = g.node("Shape", ["input_ids"], "embeddings/seq_len", start=1, end=2)
    positions = g.node("Slice", [g.const("embeddings.position", _position_table(g)),
                                 g.ints("embeddings/zero", [0]), seq, g.ints("embeddings/axis", [0])],
                       "embeddings/positions")
    x = g.node("Add", [words, positions], "embeddings/sum")
    x = g.layer_norm(x, "embeddings.LayerNorm", cfg.eps)

    # Padding gets -10000 before the softmax, like the original BERT: exp() of it is 0 in float32.
    keep = g.node("Cast", ["attention_mask"], "mask/float", to=TensorProto.FLOAT)
    keep = g.node("Unsqueeze", [keep, g.ints("mask/axes", [1, 2])], "mask/b11s")
    drop = g.node("Sub", [g.const("mask/one", np.array(1.0, np.float32)), keep], "mask/drop")
    mask_bias = g.node("Mul", [drop, g.const("mask/big", np.array(-10000.0, np.float32))], "mask/bias")

    for i in range(cfg.layers):
        layer = f"encoder.layer.{i}"
        ctx = _standard_attention(g, x, mask_bias, layer, cfg)
        attn = g.linear(ctx, f"{layer}.attention.output.dense")
        res = g.node("Add", [attn, x], f"{layer}/attention/residual")
        x = g.layer_norm(res, f"{layer}.attention.output.LayerNorm", cfg.eps)
        h = _gelu(g, g.linear(x, f"{layer}.intermediate.dense"), f"{layer}/gelu")
        y = g.linear(h, f"{layer}.output.dense")
        res = g.node("Add", [y, x], f"{layer}/output/residual")
        x = g.layer_norm(res, f"{layer}.output.LayerNorm", cfg.eps)
    return x


# --- pooling and the model ----------------------------------------------------------------------

def _mean_pool_normalise(g: _Graph, x: str) -> str:
    """Mean over real tokens, then unit length — sentence-transformers' Pooling and Normalize."""
    keep = g.node("Cast", ["attention_mask"], "pool/mask", to=TensorProto.FLOAT)
    keep = g.node("Unsqueeze", [keep, g.ints("pool/axis", [2])], "pool/mask3")
    total = g.node("ReduceSum", [g.node("Mul", [x, keep], "pool/masked"), g.ints("pool/seq", [1])],
                   "pool/sum", keepdims=0)
    count = g.node("ReduceSum", [keep, g.ints("pool/seq2", [1])], "pool/count", keepdims=0)
    count = g.node("Max", [count, g.const("pool/min_count", np.array(1e-9, np.float32))], "pool/count1")
    mean = g.node("Div", [total, count], "pool/mean")
    norm = g.node("ReduceL2", [mean], "norm/l2", axes=[1], keepdims=1)
    norm = g.node("Max", [norm, g.const("norm/eps", np.array(1e-12, np.float32))], "norm/l2_eps")
    return g.node("Div", [mean, norm], "embedding")


def bert_sentence_encoder(
    weights: Mapping[str, np.ndarray], config: Mapping[str, Any], *, fused: bool = True, doc: str = ""
) -> onnx.ModelProto:
    """The ONNX model: token ids and mask in, mean-pooled unit-length sentence embeddings out."""
    cfg = BertConfig.from_hf(config)
    g = _Graph(weights)
    x = _fused_encoder(g, cfg) if fused else _standard_encoder(g, cfg)
    _mean_pool_normalise(g, x)

    ignored = {"embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"}
    unused = set(g.weights) - g.used - ignored
    if unused:
        raise ValueError(f"weights not used by the graph: {sorted(unused)[:5]}")

    dims = ["batch", "sequence"]
    graph = helper.make_graph(
        g.nodes,
        "bert_sentence_encoder",
        [helper.make_tensor_value_info(n, TensorProto.INT64, dims) for n in ("input_ids", "attention_mask")],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", cfg.hidden])],
        initializer=g.initializers,
    )
    opsets = [helper.make_opsetid("", OPSET)]
    if fused:
        opsets.append(helper.make_opsetid(MS_DOMAIN, 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="contentguard")
    model.ir_version = 8
    model.doc_string = doc
    if not fused:
        onnx.checker.check_model(model)
    return model


"""Build an ONNX graph from a Keras 2 functional-model topology and its weights.

Covers the layer set of the GantMan classifiers (MobileNetV2, InceptionV3): ZeroPadding2D,
Conv2D, DepthwiseConv2D, BatchNormalization (folded into the convolution before it),
ReLU / Activation, Add, Concatenate, Average/MaxPooling2D, GlobalAveragePooling2D, Flatten,
Dense, Dropout (identity at inference). The ONNX model takes NHWC float32 like Keras and
computes in NCHW, the layout ONNX Runtime's CPU kernels are fastest in.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class UnsupportedLayer(ValueError):
    pass


def _inbound(layer: Mapping[str, Any]) -> list[str]:
    nodes = layer.get("inbound_nodes") or []
    if not nodes:
        return []
    if len(nodes) != 1:
        raise UnsupportedLayer(f"layer {layer['name']} is shared; not supported")
    return [entry[0] for entry in nodes[0]]


class _GraphBuilder:
    def __init__(self, weights: Mapping[str, np.ndarray]) -> None:
        self.weights = weights
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.used: set[str] = set()

    def weight(self, name: str) -> np.ndarray | None:
        if name in self.weights:
            self.used.add(name)
            return self.weights[name].astype(np.float64)
        return None

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def activation(self, kind: str | None, x: str, name: str) -> str:
        if kind in (None, "linear"):
            return x
        if kind == "relu":
            return self.node("Relu", [x], f"{name}/relu")
        if kind == "softmax":
            return self.node("Softmax", [x], f"{name}/softmax", axis=-1)
        if kind == "sigmoid":
            return self.node("Sigmoid", [x], f"{name}/sigmoid")
        if kind == "tanh":
            return self.node("Tanh", [x], f"{name}/tanh")
        raise UnsupportedLayer(f"activation {kind!r} in {name}")

    def batchnorm_affine(self, bn: Mapping[str, Any], channels: int) -> tuple[np.ndarray, np.ndarray]:
        """The BatchNormalization layer as per-channel scale and shift (inference mode)."""
        name, cfg = bn["name"], bn["config"]
        gamma = self.weight(f"{name}/gamma") if cfg.get("scale", True) else None
        beta = self.weight(f"{name}/beta") if cfg.get("center", True) else None
        mean = self.weight(f"{name}/moving_mean")
        var = self.weight(f"{name}/moving_variance")
        if mean is None or var is None:
            raise UnsupportedLayer(f"{name}: moving statistics missing from the weights")
        gamma = np.ones(channels) if gamma is None else gamma
        beta = np.zeros(channels) if beta is None else beta
        scale = gamma / np.sqrt(var + float(cfg.get("epsilon", 1e-3)))
        return scale, beta - mean * scale


def _conv_attrs(cfg: Mapping[str, Any], kernel_hw: tuple[int, int]) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "kernel_shape": list(kernel_hw),
        "strides": list(cfg.get("strides", [1, 1])),
        "dilations": list(cfg.get("dilation_rate", [1, 1])),
    }
    padding = cfg.get("padding", "valid")
    if padding == "same":
        attrs["auto_pad"] = "SAME_UPPER"  # TF puts the odd padding pixel at the end
    elif padding == "valid":
        attrs["pads"] = [0, 0, 0, 0]
    else:
        raise UnsupportedLayer(f"padding {padding!r}")
    return attrs


def keras_to_onnx(
    topology: Mapping[str, Any],
    weights: Mapping[str, np.ndarray],
    *,
    input_name: str = "input",
    output_name: str = "probabilities",
    doc: str = "",
) -> onnx.ModelProto:
    """Convert a Keras functional `model_config` (as in a tfjs model.json) into ONNX."""
    model_config = topology.get("model_config", topology)
    if model_config.get("class_name") not in ("Model", "Functional"):
        raise UnsupportedLayer(f"model class {model_config.get('class_name')!r}")
    config = model_config["config"]
    layers = config["layers"]
    by_name = {layer["name"]: layer for layer in layers}
    consumers = Counter(src for layer in layers for src in _inbound(layer))

    # Which BatchNormalization layers fold into the convolution feeding them.
    fold_into: dict[str, Mapping[str, Any]] = {}
    for layer in layers:
        if layer["class_name"] == "BatchNormalization":
            (src,) = _inbound(layer)
            if by_name[src]["class_name"] in ("Conv2D", "DepthwiseConv2D") and consumers[src] == 1:
                fold_into[src] = layer

    g = _GraphBuilder(weights)
    value: dict[str, str] = {}
    graph_inputs: list[onnx.ValueInfoProto] = []

    for layer in layers:
        name, kind, cfg = layer["name"], layer["class_name"], layer["config"]
        srcs = [value[s] for s in _inbound(layer)]

        if kind == "InputLayer":
            shape = cfg["batch_input_shape"]
            graph_inputs.append(
                helper.make_tensor_value_info(
                    input_name, TensorProto.FLOAT, ["batch", *shape[1:]]
                )
            )
            value[name] = g.node("Transpose", [input_name], f"{name}/nchw", perm=[0, 3, 1, 2])
            continue

        if kind == "BatchNormalization" and any(bn is layer for bn in fold_into.values()):
            value[name] = value[_inbound(layer)[0]]  # already applied by its convolution
            continue

        if kind in ("Conv2D", "DepthwiseConv2D"):
            if kind == "Conv2D":
                kernel = g.weight(f"{name}/kernel")  # HWIO
                if kernel is None:
                    raise UnsupportedLayer(f"{name}: kernel missing")
                w = kernel.transpose(3, 2, 0, 1)  # OIHW
                group = 1
            else:
                kernel = g.weight(f"{name}/depthwise_kernel")  # [kh, kw, cin, mult]
                if kernel is None:
                    raise UnsupportedLayer(f"{name}: depthwise kernel missing")
                kh, kw, cin, mult = kernel.shape
                w = kernel.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
                group = cin
            out_ch = w.shape[0]
            bias = g.weight(f"{name}/bias") if cfg.get("use_bias", True) else None
            b = np.zeros(out_ch) if bias is None else bias
            out_name = name
            if name in fold_into:
                bn = fold_into[name]
                scale, shift = g.batchnorm_affine(bn, out_ch)
                w = w * scale[:, None, None, None]
                b = b * scale + shift
                out_name = bn["name"]
            attrs = _conv_attrs(cfg, (w.shape[2], w.shape[3]))
            y = g.node(
                "Conv",
                [srcs[0], g.const(f"{out_name}/W", w.astype(np.float32)),
                 g.const(f"{out_name}/B", b.astype(np.float32))],
                out_name,
                group=group,
                **attrs,
            )
            value[name] = g.activation(cfg.get("activation"), y, out_name)
            if name in fold_into:
                value[fold_into[name]["name"]] = value[name]
            continue

        if kind == "BatchNormalization":
            axis = cfg.get("axis", -1)
            if axis not in (-1, 3, [3], [-1]):
                raise UnsupportedLayer(f"{name}: BatchNormalization over axis {axis}")
            channels = len(
                weights.get(f"{name}/moving_mean", np.zeros(0))
            )
            scale, shift = g.batchnorm_affine(layer, channels)
            s = g.const(f"{name}/scale", scale.astype(np.float32).reshape(1, -1, 1, 1))
            t = g.const(f"{name}/shift", shift.astype(np.float32).reshape(1, -1, 1, 1))
            value[name] = g.node("Add", [g.node("Mul", [srcs[0], s], f"{name}/mul"), t], name)
            continue

        if kind == "ZeroPadding2D":
            (top, bottom), (left, right) = cfg["padding"]
            pads = g.const(f"{name}/pads", np.array([0, 0, top, left, 0, 0, bottom, right], np.int64))
            value[name] = g.node("Pad", [srcs[0], pads], name, mode="constant")
            continue

        if kind == "ReLU":
            max_value = cfg.get("max_value")
            slope = cfg.get("negative_slope", 0.0) or 0.0
            threshold = cfg.get("threshold", 0.0) or 0.0
            if slope or threshold:
                raise UnsupportedLayer(f"{name}: ReLU with slope/threshold")
            if max_value is None:
                value[name] = g.node("Relu", [srcs[0]], name)
            else:
                lo = g.const(f"{name}/min", np.array(0.0, np.float32))
                hi = g.const(f"{name}/max", np.array(float(max_value), np.float32))
                value[name] = g.node("Clip", [srcs[0], lo, hi], name)
            continue

        if kind == "Activation":
            value[name] = g.activation(cfg["activation"], srcs[0], name)
            continue

        if kind == "Add":
            value[name] = g.node("Sum" if len(srcs) > 2 else "Add", srcs, name)
            continue

        if kind == "Concatenate":
            axis = cfg.get("axis", -1)
            if axis not in (-1, 3):
                raise UnsupportedLayer(f"{name}: Concatenate over axis {axis}")
            value[name] = g.node("Concat", srcs, name, axis=1)
            continue

        if kind in ("AveragePooling2D", "MaxPooling2D"):
            pool = list(cfg["pool_size"])
            attrs = _conv_attrs({"strides": cfg.get("strides") or pool,
                                 "padding": cfg.get("padding", "valid")}, tuple(pool))
            attrs.pop("dilations")
            op = "AveragePool" if kind == "AveragePooling2D" else "MaxPool"
            if op == "AveragePool":
                attrs["count_include_pad"] = 0  # TF averages over real pixels only
            value[name] = g.node(op, [srcs[0]], name, **attrs)
            continue

        if kind == "GlobalAveragePooling2D":
            pooled = g.node("GlobalAveragePool", [srcs[0]], f"{name}/pool")
            value[name] = g.node("Flatten", [pooled], name, axis=1)
            continue

        if kind == "Flatten":
            # Keras flattens NHWC; go back to that order first so Dense weights line up.
            nhwc = g.node("Transpose", [srcs[0]], f"{name}/nhwc", perm=[0, 2, 3, 1])
            value[name] = g.node("Flatten", [nhwc], name, axis=1)
            continue

        if kind == "Dense":
            kernel = g.weight(f"{name}/kernel")
            if kernel is None:
                raise UnsupportedLayer(f"{name}: kernel missing")
            bias = g.weight(f"{name}/bias") if cfg.get("use_bias", True) else None
            b = np.zeros(kernel.shape[1]) if bias is None else bias
            y = g.node(
                "Gemm",
                [srcs[0], g.const(f"{name}/W", kernel.astype(np.float32)),
                 g.const(f"{name}/B", b.astype(np.float32))],
                name,
            )
            value[name] = g.activation(cfg.get("activation"), y, name)
            continue

        if kind == "Dropout":
            value[name] = srcs[0]  # identity at inference
            continue

        raise UnsupportedLayer(f"layer type {kind} ({name}) is not supported")

    unused = set(weights) - g.used
    if unused:
        raise UnsupportedLayer(f"weights not used by any layer: {sorted(unused)[:5]}")

    (out_layer,) = [entry[0] for entry in config["output_layers"]]
    g.nodes.append(helper.make_node("Identity", [value[out_layer]], [output_name], name=output_name))
    graph = helper.make_graph(
        g.nodes,
        "keras_model",
        graph_inputs,
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, ["batch", None])],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="contentguard"
    )
    model.ir_version = 8
    model.doc_string = doc
    onnx.checker.check_model(model)
    return model

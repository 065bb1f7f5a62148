"""ONNX Runtime sessions configured the same way for every detector."""

from __future__ import annotations

import os
from pathlib import Path

import onnxruntime as ort

from contentguard.settings import Settings


def create_session(model_path: Path, settings: Settings) -> ort.InferenceSession:
    """A CPU inference session with all graph optimisations and the configured thread count."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = settings.threads or (os.cpu_count() or 1)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    # Idle ORT threads spinning for work would steal the cores the decode threads need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(
        str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
    )

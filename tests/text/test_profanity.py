"""The profanity model: parity with alt-profanity-check itself, batching, evidence spans, the pull.

The reference package (`alt-profanity-check==1.9.1`, a dev dependency) is both the parity oracle
and, through its installed pickles, the source the exported model is built from without network.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from contentguard.detectors.text.profanity import ProfanityModel
from contentguard.errors import ModelIntegrityError, ModelUnavailable
from contentguard.models.download import file_sha256
from contentguard.models.sources import profanity
from contentguard.models.spec import PullContext
from contentguard.models.store import ModelStore
from contentguard.settings import Settings

NO_NETWORK = "http://127.0.0.1:9"  # the installed package's pickles must be used, not a download


def _pull(pypi_url: str, downloads: Path, dest: Path, *, use_installed: bool = True) -> str:
    """The profanity source's pull of `profanity-check` into `dest`."""
    ctx = PullContext(settings=Settings(pypi_url=pypi_url), dest=dest, downloads=downloads,
                      use_installed=use_installed)
    return profanity.pull(profanity.SPECS["profanity-check"], ctx)

MADE_UP = [
    "", " ", "!!! ??? ...", "a b c d", "the and of to in", "hello there, how are you?",
    "lazy", "dog", "you are a lazy dog", "What the FUCK is this shit?!", "fuck fuck fuck fuck",
    "Go to hell, you stupid idiot", "I love my mum's apple pie", "bitch@example.com http://x.io/ass",
    "snake_case_words and CamelCase and 12345 and __dunder__", "tabs\tand\nnewlines\r\nfuck",
    # non-ASCII: accents, Turkish dotted I (lowercases to 2 characters), Greek final sigma, ß,
    # CJK, emoji, RTL, combining marks, zero-width joiner, NUL
    "naïve café FUCKING résumé", "İSTANBUL İdiot shit", "ΟΔΟΣ ΣΑΣ Σ fuck", "STRASSE straße ass",
    "日本語のテキスト bitch", "you 💩 piece of shit 🤬", "مرحبا hell", "e\u0301tude damn",
    "zero\u200dwidth\u200djoiner", "nul\x00byte\x00fuck",
    # the word this code joins a batch with, in the input: the batch falls back to per-text tokens
    "cgsepx", "CGSEPX fuck \x00cgsepx\x00 cgsepx", "x" * 5000 + " shit " + "hello " * 1000,
]


def _random_texts(model: ProfanityModel, n: int, seed: int = 0) -> list[str]:
    """Texts drawn from the vocabulary, unknown words and punctuation, in random case."""
    rng = np.random.default_rng(seed)
    pool = np.array(model.terms + ["zzunknown", "the", "a", "I", "Ünïcode", "ǅ", "😀", "1", "_x_"])
    glue = [" ", "  ", ", ", "! ", "\n", "-", "'", "#", "@"]
    texts = []
    for _ in range(n):
        words = rng.choice(pool, size=int(rng.integers(0, 30)))
        words = [w.upper() if rng.random() < 0.2 else w for w in words]
        texts.append("".join(w + glue[int(rng.integers(len(glue)))] for w in words))
    return texts


@pytest.fixture(scope="module")
def reference(need):
    """`profanity_check.predict_prob`, the reference implementation."""
    need(
        importlib.util.find_spec("profanity_check") is not None,
        "alt-profanity-check==1.9.1 (a dev dependency) is not installed",
    )
    from profanity_check import predict_prob

    return predict_prob


@pytest.fixture(scope="module")
def exported(reference, tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("profanity") / "profanity-check.npz"
    origin = _pull(NO_NETWORK, dest.parent / "downloads", dest)
    assert origin.startswith("installed package alt-profanity-check==1.9.1")
    return dest


@pytest.fixture(scope="module")
def model(exported: Path) -> ProfanityModel:
    return ProfanityModel.load(exported)


def _max_delta(model: ProfanityModel, reference, texts: list[str]) -> float:
    ours, theirs = model.predict_proba(texts), reference(texts)
    assert ours.shape == theirs.shape == (len(texts),) and ours.dtype == np.float64
    return float(np.abs(ours - theirs).max())


def test_matches_the_reference_on_made_up_texts(model: ProfanityModel, reference) -> None:
    texts = MADE_UP + _random_texts(model, 3000)
    assert _max_delta(model, reference, texts) <= 1e-6
    assert _max_delta(model, reference, MADE_UP[:-3]) <= 1e-6  # without the separator fallback


@pytest.mark.realdata
def test_matches_the_reference_on_every_shared_text(
    model: ProfanityModel, reference, data_dir: Path, need
) -> None:
    folder = data_dir / "text"
    need(folder.is_dir(), f"{folder} is missing")
    with (folder / "davidson_hate_offensive_labeled_data.csv").open(newline="") as handle:
        tweets = [row["tweet"] for row in csv.DictReader(handle)]
    with (folder / "sms_spam_collection.tsv").open(newline="") as handle:
        sms = [r["msg"] for r in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)]
    assert (len(tweets), len(sms)) == (24783, 5574)
    assert _max_delta(model, reference, tweets + sms) <= 1e-6


def test_a_batch_gives_exactly_what_single_texts_give(model: ProfanityModel) -> None:
    texts = MADE_UP + _random_texts(model, 200, seed=1)
    batch = model.predict_proba(texts)
    singles = np.array([model.predict_proba([text])[0] for text in texts])
    assert np.array_equal(batch, singles)
    order = np.random.default_rng(2).permutation(len(texts))
    assert np.array_equal(model.predict_proba([texts[i] for i in order]), batch[order])


def test_empty_inputs(model: ProfanityModel, reference) -> None:
    assert model.predict_proba([]).shape == (0,)
    blank = model.predict_proba(["", "   ", "!!!", "a"])
    assert np.all(blank == blank[0])  # no known word: the intercepts alone decide
    assert abs(blank[0] - reference([""])[0]) <= 1e-12
    assert model.profane_terms("") == []


def test_known_false_positives_are_reproduced(model: ProfanityModel) -> None:
    lazy, dog = model.predict_proba(["lazy", "dog"])
    assert round(float(lazy), 2) == 0.67 and round(float(dog), 2) == 0.50


def test_profane_terms_point_at_the_words(model: ProfanityModel) -> None:
    text = "You are a LAZY dog. Fuck off, İİ FUCK!"  # "İ" lowercases to 2 characters
    found = model.profane_terms(text)
    assert [term for term, *_ in found] == ["lazy", "dog", "fuck", "fuck"]
    for term, start, end, weight in found:
        assert text[start:end].lower() == term and weight > 0
    assert [text[s:e] for _, s, e, _ in found] == ["LAZY", "dog", "Fuck", "FUCK"]
    # One occurrence's weight is idf x mean SVM coefficient / the text's tf-idf norm.
    ids = [model.vocabulary[t] for t in ("lazy", "dog", "fuck", "fuck")]
    norm = np.sqrt(sum((ids.count(i) * model.idf[i]) ** 2 for i in set(ids)))
    expected = [model.idf[i] * model.coef[:, i].mean() / norm for i in ids]
    assert np.allclose([w for *_, w in found], expected, rtol=1e-12)


def test_profane_terms_leave_out_words_that_lower_the_score(model: ProfanityModel) -> None:
    text = "thank you for the lovely dinner, have a good evening"
    found = model.profane_terms(text)
    assert all(model.coef[:, model.vocabulary[term]].mean() > 0 for term, *_ in found)
    negative = [w for w in ("thank", "lovely", "good") if model.coef[:, model.vocabulary[w]].mean() < 0]
    assert negative and not {term for term, *_ in found} & set(negative)


def test_serving_imports_neither_sklearn_nor_scipy(exported: Path) -> None:
    code = (
        "import sys; from contentguard.detectors.text.profanity import ProfanityModel; "
        f"ProfanityModel.load({str(exported)!r}).predict_proba(['fuck', 'hello']); "
        "print(sorted(m for m in ('sklearn', 'scipy', 'joblib') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


def test_export_is_deterministic_and_plain(exported: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.npz"
    _pull(NO_NETWORK, tmp_path, again)
    assert file_sha256(again) == file_sha256(exported)
    with np.load(exported, allow_pickle=False) as npz:
        assert sorted(npz.files) == sorted(profanity.ARRAYS)
        config = json.loads(npz["config"].tobytes())
    assert config["source"]["pickles_sha256"] == profanity.PICKLES
    assert config["vectorizer"]["token_pattern"] == r"(?u)\b\w\w+\b"


def test_files_of_another_kind_are_refused(exported: Path, tmp_path: Path) -> None:
    with np.load(exported, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    config = json.loads(arrays["config"].tobytes())
    config["vectorizer"]["ngram_range"] = [1, 2]
    arrays["config"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    profanity.write_npz(tmp_path / "bigrams.npz", arrays)
    with pytest.raises(ModelIntegrityError, match="unsupported"):
        ProfanityModel.load(tmp_path / "bigrams.npz")
    np.savez(tmp_path / "other.npz", idf=arrays["idf"])
    with pytest.raises(ModelIntegrityError, match="not a profanity model"):
        ProfanityModel.load(tmp_path / "other.npz")


def test_a_tampered_pickle_is_never_unpickled(tmp_path: Path) -> None:
    wheel = tmp_path / profanity.WHEEL
    with zipfile.ZipFile(wheel, "w") as archive:
        for member in profanity.PICKLES:
            archive.writestr(member, b"cos\nsystem\n(S'echo pwned'\ntR.")
    with pytest.raises(ModelIntegrityError, match="not unpickling"):
        profanity.wheel_pickles(wheel)


def test_pulling_with_another_sklearn_says_what_to_install(
    reference, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sklearn

    monkeypatch.setattr(sklearn, "__version__", "1.8.0")
    with pytest.raises(ModelUnavailable, match=r"scikit-learn==1\.9\.1"):
        _pull(NO_NETWORK, tmp_path, tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_the_store_pulls_verifies_and_describes_it(exported: Path, tmp_path: Path) -> None:
    store = ModelStore(Settings(model_dir=tmp_path / "models", pypi_url=NO_NETWORK), notify=print)
    card = store.pull("profanity-check")
    path = store.ensure("profanity-check")
    assert path.name == card.file == "profanity-check.npz"
    assert card.sha256 == file_sha256(path) == file_sha256(exported)
    assert card.version == "alt-profanity-check-1.9.1" and card.licence.startswith("MIT")
    assert card.classes == ["offensive"] and profanity.WHEEL_SHA256 in card.source_integrity
    assert "lazy" in card.description and "predict_prob" in card.parity
    assert store.verify("profanity-check").sha256 == card.sha256
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="does not match its card"):
        store.verify("profanity-check")


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
        return True
    except OSError:
        return False


def test_the_wheel_comes_from_pypi_with_pinned_hashes(
    exported: Path, tmp_path: Path, settings: Settings, need
) -> None:
    need(_pypi_reachable(), "PyPI must be reachable for the wheel download test")
    dest = tmp_path / "profanity-check.npz"
    origin = _pull(settings.pypi_url, tmp_path / "downloads", dest, use_installed=False)
    assert origin.startswith(f"PyPI {profanity.WHEEL}")
    wheel = tmp_path / "downloads" / profanity.WHEEL
    assert file_sha256(wheel) == profanity.WHEEL_SHA256
    assert file_sha256(dest) == file_sha256(exported)

"""Training and shipping the text heads: the fixed split, the corpus loaders, the serving `Head`
(round trip, parity with the training features, integrity), the selection helpers, a whole
`train_text` run on a small synthetic corpus, the shipped heads, and (real data) that the shipped
heads still give their card's figures on a sample of the test split."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from contentguard.detectors.text.heads import (
    CHAR_NGRAMS,
    EMBEDDING_DIMS,
    FeatureSpec,
    Head,
    char_tokens,
    lexical_tokens,
    packaged,
    softmax,
)
from contentguard.errors import ModelIntegrityError
from contentguard.training.text import datasets
from contentguard.training.text import train as training
from contentguard.training.text.datasets import DatasetError, in_test_split

DAVIDSON_HEADER = ["", "count", "hate_speech", "offensive_language", "neither", "class", "tweet"]


def expected_split(text: str) -> bool:
    """The issue's rule, written out again here rather than imported."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest(), 16) % 5 == 0


# --------------------------------------------------------------------------------------------------
# The split rule


@pytest.mark.parametrize(
    ("text", "remainder"),
    [
        ("", 4),
        ("hello", 0),
        ("spam", 3),
        ("café", 2),
        ("Ok lar... Joking wif u oni...", 1),
        ("Go until jurong point, crazy.. Available only in bugis n great world la e buffet... Cine there "
         "got amore wat...", 0),
        ("a &amp; b", 0),  # hashed as in the file: its unescaped form "a & b" would be train
    ],
)
def test_split_rule_on_known_strings(text: str, remainder: int) -> None:
    assert int(hashlib.sha256(text.encode("utf-8")).hexdigest(), 16) % 5 == remainder
    assert in_test_split(text) is (remainder == 0) is expected_split(text)


def test_split_hashes_the_raw_text_not_the_unescaped_one() -> None:
    assert in_test_split("a &amp; b") and not in_test_split("a & b")


# --------------------------------------------------------------------------------------------------
# Loaders, on small files in the real formats


def write_davidson(path: Path, rows: list[tuple[int, str]], votes: list[list[int]] | None = None) -> Path:
    """The Davidson CSV; each tweet unanimous among 3 annotators unless `votes` gives its votes."""
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(DAVIDSON_HEADER)
        for i, (label, tweet) in enumerate(rows):
            row_votes = votes[i] if votes else [3 if k == label else 0 for k in range(3)]
            writer.writerow([i, sum(row_votes), *row_votes, label, tweet])
    return path


def write_sms(path: Path, rows: list[tuple[str, str]]) -> Path:
    lines = ["label\tmsg"] + [f"{label}\t{msg}" for label, msg in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


TWEETS = [
    (2, "!!! RT @someone: a &amp; b"),
    (1, "you, sir, are a \"clown\""),
    (0, "two\nlines &#128514;"),
    (2, "hello"),
]


def test_davidson_loader(tmp_path: Path) -> None:
    write_davidson(tmp_path / datasets.DAVIDSON_FILE, TWEETS)
    d = datasets.load("hate", tmp_path)
    assert d.classes == ("hate", "offensive", "neither")
    assert d.labels.tolist() == [2, 1, 0, 2]
    assert d.raw[0] == "!!! RT @someone: a &amp; b" and d.texts[0] == "!!! RT @someone: a & b"
    assert d.raw[2] == "two\nlines &#128514;" and d.texts[2] == "two\nlines \U0001f602"
    assert d.raw[1] == 'you, sir, are a "clown"'
    assert d.test.tolist() == [expected_split(t) for _, t in TWEETS]
    assert d.duplicates_dropped == 0
    assert d.agreement is not None and d.agreement.tolist() == [1.0] * 4
    # the data path may be the file itself
    assert datasets.load("hate", tmp_path / datasets.DAVIDSON_FILE).raw == d.raw


def test_davidson_annotator_agreement(tmp_path: Path) -> None:
    """The share of annotators behind each label; votes that contradict the label are refused; a
    file without the vote columns still loads, with no agreement."""
    votes = [[0, 1, 2], [1, 2, 0], [3, 2, 1], [0, 0, 6]]
    write_davidson(tmp_path / datasets.DAVIDSON_FILE, TWEETS, votes)
    d = datasets.load("hate", tmp_path)
    np.testing.assert_allclose(d.agreement, [2 / 3, 2 / 3, 3 / 6, 1.0])
    write_davidson(tmp_path / datasets.DAVIDSON_FILE, TWEETS, [[0, 1, 2], [2, 1, 0], [3, 2, 1], [0, 0, 6]])
    with pytest.raises(DatasetError, match=r":3: bad annotator votes"):  # class 1, but hate has most votes
        datasets.load("hate", tmp_path)
    write_davidson(tmp_path / datasets.DAVIDSON_FILE, TWEETS, [[0, 1, 2], [1, 2, 0], [3, 2, 1], [0, 0, 0]])
    with pytest.raises(DatasetError, match="bad annotator votes"):  # nobody voted
        datasets.load("hate", tmp_path)
    with (tmp_path / datasets.DAVIDSON_FILE).open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["class", "tweet"])
        writer.writerows(TWEETS)
    d = datasets.load("hate", tmp_path)
    assert d.labels.tolist() == [2, 1, 0, 2] and d.agreement is None
    assert datasets.load("spam", write_sms(tmp_path / datasets.SMS_FILE, [("ham", "hi")])).agreement is None


def test_sms_loader_keeps_bare_quotes_and_drops_duplicates(tmp_path: Path) -> None:
    rows = [("ham", 'He said "ok'), ("spam", "WIN £100 now! txt 87121"), ("ham", 'He said "ok'),
            ("ham", "a &amp; b")]
    write_sms(tmp_path / datasets.SMS_FILE, rows)
    d = datasets.load("spam", tmp_path)
    assert d.classes == ("ham", "spam")
    assert d.raw == ['He said "ok', "WIN £100 now! txt 87121", "a &amp; b"]
    assert d.texts == d.raw  # SMS text is not HTML: nothing is unescaped
    assert d.labels.tolist() == [0, 1, 0] and d.duplicates_dropped == 1
    assert d.test.tolist() == [expected_split(t) for t in d.raw]
    assert datasets.describe(d)["total"] == {"ham": 2, "spam": 1}


def test_loader_errors(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        datasets.load("spam", tmp_path)
    with pytest.raises(DatasetError, match="unknown task"):
        datasets.load("toxicity", tmp_path)
    (tmp_path / datasets.SMS_FILE).write_text("type\ttext\nham\thi\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="header"):
        datasets.load("spam", tmp_path)
    write_sms(tmp_path / datasets.SMS_FILE, [("ham", "same"), ("spam", "same")])
    with pytest.raises(DatasetError, match="two labels"):
        datasets.load("spam", tmp_path)
    write_davidson(tmp_path / datasets.DAVIDSON_FILE, [(1, "x")])
    text = (tmp_path / datasets.DAVIDSON_FILE).read_text(encoding="utf-8").replace(",1,x", ",7,x")
    (tmp_path / datasets.DAVIDSON_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(DatasetError, match="bad row"):
        datasets.load("hate", tmp_path)


# --------------------------------------------------------------------------------------------------
# The serving head


def synthetic(n: int = 240, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str],
                                                                np.ndarray]:
    """Separable data: class-dependent embedding means, words and profanity."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    centres = rng.normal(size=(k, EMBEDDING_DIMS))
    emb = centres[y] + 0.5 * rng.normal(size=(n, EMBEDDING_DIMS))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    words = [["apple", "pear"], ["call 0800123456 now", "win £100"], ["you idiot", "damn it"]]
    texts = [f"{words[c][i % 2]} item {i}" for i, c in enumerate(y)]
    profanity = np.where(y == 2, 0.9, 0.1) + 0.05 * rng.random(n)
    return emb, profanity, texts, y


def fit_synthetic(spec: FeatureSpec, classes: list[str]) -> tuple[Head, training.FeatureBank, np.ndarray]:
    emb, profanity, texts, y = synthetic(k=len(classes))
    bank = training.FeatureBank(emb, profanity, texts=texts)
    rows = np.arange(len(y))
    idfs = bank.idfs(spec, rows)
    coef, intercept = training.fit_logreg(bank.matrix(spec, rows, idfs), y, len(classes), C=4.0, alpha=0.5)
    head = training.make_head(classes, spec, coef, intercept, idfs, temperature=1.3,
                              bias=np.linspace(-0.1, 0.1, len(classes)))
    return head, bank, y


@pytest.mark.parametrize(
    "spec", [FeatureSpec(), FeatureSpec(True, 0), FeatureSpec(True, 8), FeatureSpec(False, 0, 9),
             FeatureSpec(True, 8, 10)]
)
def test_head_round_trip(tmp_path: Path, spec: FeatureSpec) -> None:
    classes = ["hate", "offensive", "neither"]
    head, bank, y = fit_synthetic(spec, classes)
    card = head.save(tmp_path / "t.npz", {"name": "test", "data": {"licence": "n/a"}})
    assert card["classes"] == classes and card["features"]["dims"] == spec.dims
    loaded = Head.load(tmp_path / "t.npz")
    assert loaded.classes == classes and loaded.spec == spec and loaded.card["name"] == "test"
    probs = loaded.predict_proba(loaded.features(bank.embeddings, bank.profanity, list(bank.texts)))
    assert probs.shape == (len(y), 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    assert (loaded.decide(probs) == y).mean() == 1.0
    # the serving features are the training features, and the calibration is folded in
    rows = np.arange(len(y))
    z = training.logits(bank.matrix(spec, rows, loaded.idfs), head.coef.astype(np.float64), head.intercept)
    np.testing.assert_allclose(probs, softmax(z), atol=1e-5)
    # serving's sparse gather gives what the dense feature matrix gives
    gathered = loaded.probabilities(bank.embeddings, bank.profanity, list(bank.texts))
    np.testing.assert_allclose(gathered, probs, atol=1e-6)


def test_binary_head_and_operating_point(tmp_path: Path) -> None:
    head, bank, y = fit_synthetic(FeatureSpec(False, 6), ["ham", "spam"])
    head = dataclasses.replace(head, decision_weights=np.array([1.0, 2.0]))
    head.save(tmp_path / "spam.npz", {})
    loaded = Head.load(tmp_path / "spam.npz")
    assert loaded.card["operating_point"] == {"ham": 1.0, "spam": 2.0}
    probs = np.array([[0.6, 0.4], [0.7, 0.3]])
    assert loaded.decide(probs).tolist() == [1, 0]  # spam when 2 P(spam) > P(ham), P(spam) > 1/3


def test_head_refuses_tampered_or_mismatched_files(tmp_path: Path) -> None:
    head, _, _ = fit_synthetic(FeatureSpec(True, 0), ["a", "b", "c"])
    head.save(tmp_path / "h.npz", {})
    data = bytearray((tmp_path / "h.npz").read_bytes())
    data[-30] ^= 1
    (tmp_path / "h.npz").write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="sha256"):
        Head.load(tmp_path / "h.npz")
    with pytest.raises(ModelIntegrityError):
        Head.load(tmp_path / "missing.npz")
    with pytest.raises(ModelIntegrityError, match="do not fit"):
        Head(["a", "b"], FeatureSpec(), np.zeros((EMBEDDING_DIMS, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="profanity"):
        head.features(np.zeros((2, EMBEDDING_DIMS)))
    with pytest.raises(ValueError, match="features must be"):
        head.predict_proba(np.zeros((2, 10)))


def test_lexical_tokens() -> None:
    assert lexical_tokens("call 08001234567 for £100 now") == [
        "call", "D11", "for", "D3", "now", "call D11", "D11 for", "for D3", "D3 now",
    ]
    assert lexical_tokens("") == [] and lexical_tokens("hi 42") == ["hi", "42", "hi 42"]


def test_char_tokens() -> None:
    assert CHAR_NGRAMS == (1, 4)
    assert char_tokens("2 txt") == [
        " ", "2", " ",  " 2", "2 ", " 2 ",
        " ", "t", "x", "t", " ", " t", "tx", "xt", "t ", " tx", "txt", "xt ", " txt", "txt ",
    ]
    assert char_tokens("") == [] and char_tokens("  \n ") == []


def test_char_block_spec_round_trip_and_refusals() -> None:
    spec = FeatureSpec(True, 12, 15)
    assert spec.hashed == ("lexical", "chars") and spec.dims == EMBEDDING_DIMS + 1 + 4096 + 32768
    assert FeatureSpec.from_json(spec.to_json()) == spec
    assert FeatureSpec.from_json({"profanity": True, "lexical_bits": 12}) == FeatureSpec(True, 12)
    with pytest.raises(ModelIntegrityError, match="grams"):
        FeatureSpec.from_json({**spec.to_json(), "char_ngrams": [2, 5]})
    with pytest.raises(ModelIntegrityError, match="chars block"):
        Head(["a", "b"], FeatureSpec(False, 0, 6), np.zeros((EMBEDDING_DIMS + 64, 2)), np.zeros(2))


# --------------------------------------------------------------------------------------------------
# Selection helpers


def test_calibration_recovers_a_temperature() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(scale=3.0, size=(20000, 3))
    bias = np.array([0.5, 0.0, -0.5])
    p = softmax(z / 2.0 + bias)
    y = (rng.random(len(z))[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    temperature, fitted = training.fit_calibration(z, y)
    assert temperature == pytest.approx(2.0, rel=0.1)
    np.testing.assert_allclose(fitted - fitted.mean(), bias - bias.mean(), atol=0.1)


def test_operating_point_raises_an_under_called_class() -> None:
    y = np.array([0] * 80 + [1] * 20)
    p_spam = np.r_[np.full(80, 0.2), np.full(20, 0.4)]
    probs = np.column_stack([1 - p_spam, p_spam])
    weights = training.choose_operating_point(probs, y, training.task_metric("spam"))
    assert weights[0] == 1.0 and weights[1] > 1.5
    assert (np.argmax(probs * weights, axis=1) == y).all()


def test_class_weights() -> None:
    y = np.array([0] * 90 + [1] * 10)
    np.testing.assert_allclose(training.class_weights(y, 2, 0.0), [1, 1])
    np.testing.assert_allclose(training.class_weights(y, 2, 1.0), [100 / 180, 100 / 20])


# --------------------------------------------------------------------------------------------------
# A whole run on a small corpus (embeddings faked: this checks the plumbing, not MiniLM)


SMS_HAM = ["ok see you at {n}", "are you coming home tonight {n}", "sorry i missed your call {n}",
           "lunch at {n}? love you", "i'll be late, traffic {n}"]
SMS_SPAM = ["WIN £{n}00 cash now! txt WIN to 8{n}121", "FREE entry {n}: call 0800{n}23456 to claim",
            "URGENT your prize {n} awaits, reply YES", "Congratulations! you won a {n} holiday, call now"]


def fake_prepare(dataset: datasets.Dataset, settings, progress=None) -> training.Inputs:
    """Label-dependent random embeddings and profanity, so the run is fast and deterministic."""
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(len(dataset.classes), EMBEDDING_DIMS))
    emb = centres[dataset.labels] + 2.0 * rng.normal(size=(len(dataset), EMBEDDING_DIMS))
    emb = (emb / np.linalg.norm(emb, axis=1, keepdims=True)).astype(np.float32)
    normalized = [t.lower() for t in dataset.texts]
    info = {"name": "fake", "version": "0", "sha256": "0"}
    return training.Inputs(dataset, normalized, emb, rng.random(len(dataset)) * 0.2, info, info)


def test_train_text_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings) -> None:
    rows = [("ham", t.format(n=n)) for n in range(60) for t in SMS_HAM[n % 5 : n % 5 + 1]]
    rows += [("spam", t.format(n=n)) for n in range(30) for t in SMS_SPAM[n % 4 : n % 4 + 1]]
    write_sms(tmp_path / datasets.SMS_FILE, rows)
    monkeypatch.setattr(training, "prepare", fake_prepare)
    report = training.train_text("spam", tmp_path, settings, tmp_path / "heads",
                                 report_dir=tmp_path / "bench")
    head = Head.load(tmp_path / "heads" / "spam.npz")
    assert head.classes == ["ham", "spam"] and report.head_path == tmp_path / "heads" / "spam.npz"
    card = json.loads((tmp_path / "heads" / "spam.json").read_text())
    assert card["data"]["split_rule"] == datasets.SPLIT_RULE and "CC BY 4.0" in card["data"]["licence"]
    assert set(card["figures"]) >= {"head", "tfidf_lr", "tfidf_rf", "profanity", "head_calibration"}
    md = (tmp_path / "bench" / "text-spam.md").read_text()
    for label in ("our head", "TF-IDF + logistic regression", "TF-IDF + random forest",
                  "profanity-check alone", "Confusion matrices", "CV score"):
        assert label in md
    figures = json.loads((tmp_path / "bench" / "text-spam.json").read_text())
    test_n = sum(figures["test_counts"].values())
    assert test_n == sum(expected_split(t) for _, t in rows)
    assert all(np.sum(m["confusion"]) == test_n for m in figures["models"].values())
    assert figures["models"]["head"]["per_class"]["spam"]["f1"] > 0.9


HATE_TWEETS = ["i hate all {n} of those people, subhuman", "those {n} vermin should be gone",
               "shut up you stupid bitch {n}", "this damn game sucks {n}", "lol fuck off {n}",
               "lovely morning walk {n}", "new recipe tonight {n}", "the match starts at {n}"]


def test_train_text_hate_reports_figures_by_annotator_agreement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings
) -> None:
    """A hate run on a small Davidson-format corpus whose every fifth tweet had a split vote: the
    report and the card give the figures on unanimous and split tweets, and they add up."""
    rows = [(0 if k < 2 else 1 if k < 5 else 2, t.format(n=n)) for n in range(25)
            for k, t in enumerate(HATE_TWEETS)]
    votes = [[3 if c == label else 0 for c in range(3)] if i % 5 else
             [2 if c == label else 1 if c == (label + 1) % 3 else 0 for c in range(3)]
             for i, (label, _) in enumerate(rows)]
    write_davidson(tmp_path / datasets.DAVIDSON_FILE, rows, votes)
    monkeypatch.setattr(training, "prepare", fake_prepare)
    report = training.train_text("hate", tmp_path, settings, tmp_path / "heads",
                                 report_dir=tmp_path / "bench")
    view = report.figures["by_agreement"]
    test = [(label, v) for (label, t), v in zip(rows, votes, strict=True) if expected_split(t)]
    split_n = sum(max(v) < 3 for _, v in test)
    assert sum(view["counts"]["split"].values()) == split_n > 0
    assert sum(view["counts"]["unanimous"].values()) == len(test) - split_n
    for name, m in view["models"].items():
        confusion = np.array(report.figures["models"][name]["confusion"])
        assert 0 <= m["errors_on_split"] <= m["errors"] == confusion.sum() - np.trace(confusion)
        assert np.sum(m["split"]["confusion"]) == split_n
    assert "By annotator agreement" in report.markdown and "errors on split-vote texts" in report.markdown
    card = json.loads((tmp_path / "heads" / "hate.json").read_text())
    assert set(card["figures"]["head_by_agreement"]) == {"unanimous", "split"}


def test_agreement_view_needs_both_kinds_of_vote() -> None:
    """With only unanimous (or only split) votes there is nothing to compare: no view, no error."""
    y, classes = np.array([0, 1, 2, 1]), ["hate", "offensive", "neither"]
    pred = np.array([1, 1, 2, 1])
    assert training.agreement_view(y, {"head": pred}, np.ones(4), classes) is None
    assert training.agreement_view(y, {"head": pred}, np.full(4, 2 / 3), classes) is None
    view = training.agreement_view(y, {"head": pred}, np.array([2 / 3, 1, 1, 0.5]), classes)
    assert view["counts"] == {"unanimous": {"hate": 0, "offensive": 1, "neither": 1},
                              "split": {"hate": 1, "offensive": 1, "neither": 0}}
    assert view["models"]["head"]["errors"] == view["models"]["head"]["errors_on_split"] == 1
    assert view["models"]["head"]["unanimous"]["accuracy"] == 1.0


def test_cli_train_text_usage_errors(tmp_path: Path) -> None:
    from contentguard.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["train-text", "--task", "toxicity", "--data", str(tmp_path)])
    assert result.exit_code == 2 and "hate, spam" in result.output
    result = runner.invoke(app, ["train-text", "--task", "spam", "--data", str(tmp_path)])
    assert result.exit_code == 2 and "not found" in result.output


# --------------------------------------------------------------------------------------------------
# The heads shipped with the package


@pytest.mark.parametrize(("task", "classes"),
                         [("hate", ["hate", "offensive", "neither"]), ("spam", ["ham", "spam"])])
def test_shipped_heads(task: str, classes: list[str]) -> None:
    head = packaged(task)
    assert head.classes == classes == head.card["classes"]
    assert head.card["data"]["split_rule"] == datasets.SPLIT_RULE and head.card["data"]["licence"]
    assert set(head.card["figures"]) >= {"head", "tfidf_lr", "tfidf_rf", "profanity"}
    npz = training.PACKAGED_DIR / f"{task}.npz"
    assert npz.stat().st_size < 300_000
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(5, EMBEDDING_DIMS)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    texts = ["free prize call now", "hi", "", "you idiot", "txt 2nite"]
    profanity = rng.random(5)
    features = head.features(emb, profanity, texts)
    probs = head.predict_proba(features)
    assert probs.shape == (5, len(classes)) and np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)
    served = head.probabilities(emb, profanity, texts)  # the serving path: same numbers
    np.testing.assert_allclose(served, probs, atol=1e-6)


@pytest.mark.realdata
@pytest.mark.parametrize("task", ["hate", "spam"])
def test_shipped_heads_reproduce_their_card_on_test_texts(task: str, data_dir: Path, settings, need) -> None:
    """500 test-split texts (the first by sha256 of the raw text), scored through the serving
    pieces (normalise, MiniLM, profanity-check, Head): accuracy within a few points of the card."""
    from contentguard.detectors.text.encoder import SentenceEncoder
    from contentguard.detectors.text.profanity import ProfanityModel
    from contentguard.media.text import normalize
    from contentguard.models.store import ModelStore

    text_dir = data_dir / "text"
    need((text_dir / datasets.SOURCES[task]["file"]).is_file(), f"{text_dir} has no {task} corpus")
    d = datasets.load(task, text_dir)
    test = sorted(np.flatnonzero(d.test), key=lambda i: hashlib.sha256(d.raw[i].encode()).digest())[:500]
    forms = [normalize(d.texts[i]) for i in test]
    head = packaged(task)
    embeddings = SentenceEncoder(settings).encode([f.text for f in forms])
    profanity = ProfanityModel.load(ModelStore(settings).ensure("profanity-check"))
    both = profanity.predict_proba([f.text for f in forms] + [f.squeezed().text for f in forms])
    p = np.maximum(both[: len(forms)], both[len(forms) :])
    probs = head.probabilities(embeddings, p, [f.text for f in forms])
    accuracy = float((head.decide(probs) == d.labels[test]).mean())
    assert accuracy == pytest.approx(head.card["figures"]["head"]["accuracy"], abs=0.04)

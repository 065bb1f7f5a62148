"""`contentguard train-text`: train a text head and measure it against the baselines (the
training itself is training/text/)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from contentguard.cli.common import app, err, exit_code, fail, out
from contentguard.errors import ContentGuardError
from contentguard.settings import get_settings


@app.command("train-text")
def train_text(
    task: Annotated[str, typer.Option("--task", help="hate (hate / offensive / neither) or spam "
                                                     "(spam / ham).")],
    data: Annotated[
        Path | None, typer.Option("--data", help="The corpus file, or the folder holding it "
                                                  "(default: <data_dir>/text).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--out", help="Folder for <task>.npz and <task>.json "
                                                 "(default: the package's detectors/text/heads/).")
    ] = None,
    report: Annotated[
        Path, typer.Option("--report-dir", help="Folder for text-<task>.md and .json.")
    ] = Path("benchmarks"),
) -> None:
    """Train a text head on MiniLM embeddings and measure it against TF-IDF + LR, TF-IDF + RF
    and profanity-check on the fixed test split (docs/text-models.md)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from contentguard.training.text.datasets import TASKS, DatasetError
    from contentguard.training.text.train import train_text as run_training

    if task not in TASKS:
        raise fail(f"--task must be one of: {', '.join(TASKS)}", 2)
    settings = get_settings()
    folder = data or settings.data_dir / "text"
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err, transient=True) as progress:
            result = run_training(task, folder, settings, output, progress, report_dir=report)
    except DatasetError as exc:
        raise fail(f"{exc}; pass --data or set CONTENTGUARD_DATA_DIR", 2) from exc
    except ContentGuardError as exc:
        raise fail(exc.message, exit_code(exc)) from exc
    out.print(result.markdown.split("\n## ")[0], highlight=False)
    written = [result.head_path, result.card_path, *result.report_paths]
    err.print("wrote " + ", ".join(str(p) for p in written), highlight=False)

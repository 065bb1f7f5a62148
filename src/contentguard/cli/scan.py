"""`contentguard scan DIR`: moderate a folder tree into a resumable JSONL or CSV file (the work
itself is workers/scan.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from contentguard.cli.common import CascadeOpt, PolicyOpt, app, err, fail, image_moderator, out
from contentguard.settings import get_settings


@app.command()
def scan(
    directory: Annotated[Path, typer.Argument(help="Folder to moderate recursively.")],
    output: Annotated[
        Path | None,
        typer.Option("--out", help="Results file; an existing one is resumed."),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="jsonl or csv (default: from --out's suffix).")
    ] = "",
    policy: PolicyOpt = None,
    cascade: CascadeOpt = None,
) -> None:
    """Moderate every file under DIR with a progress bar; resumable; prints a summary."""
    from contentguard.workers.scan import run_scan

    if not directory.is_dir():
        raise fail(f"{directory} is not a directory", 2)
    fmt = fmt or (output.suffix.lstrip(".").lower() if output else "jsonl")
    if fmt not in ("jsonl", "csv"):
        raise fail(f"--format must be jsonl or csv, not {fmt!r}", 2)
    output = output or Path(f"contentguard-scan.{fmt}")
    settings = get_settings()
    with image_moderator(settings, policy, cascade) as moderator:
        summary = run_scan(moderator, directory, output, fmt, settings, console=err)
    summary.print(out)
    raise typer.Exit(1 if summary.errors else 0)

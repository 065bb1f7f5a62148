"""`contentguard export-labels --out DIR`: moderators' verdicts as a folder-per-class dataset
with a manifest (docs/review.md). Safe to repeat: nothing is duplicated."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from contentguard.cli.common import app, err
from contentguard.errors import ContentGuardError
from contentguard.settings import get_settings
from contentguard.store import labels_export
from contentguard.store.db import Database

DATE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


@app.command("export-labels")
def export_labels(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the dataset into "
                                                    "(created; re-running updates it).")],
    since: Annotated[datetime | None, typer.Option(
        formats=DATE_FORMATS, help="Only verdicts given at or after this time (UTC).")] = None,
    classes: Annotated[str, typer.Option(
        help="Class folders: `decision` (allow, block) or `reason` (allow and each reject "
             "reason).")] = "decision",
    database_url: Annotated[str | None, typer.Option(
        help="Read this database instead of the `database_url` setting.")] = None,
) -> None:
    """Write reviewed items (images and texts) as <kind>/<class>/<sha256>.<ext> with
    manifest.jsonl and manifest.csv (id, sha256, label, reviewer, time)."""
    if classes not in labels_export.CLASSES:
        err.print(f"[red]error:[/red] --classes must be one of "
                  f"{', '.join(labels_export.CLASSES)}", highlight=False)
        raise typer.Exit(2)
    settings = get_settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    try:
        db = Database(settings.resolved_database_url())
    except Exception as exc:  # a bad URL, an unknown or missing database driver
        message = exc.message if isinstance(exc, ContentGuardError) else f"cannot open the database: {exc}"
        err.print(f"[red]error:[/red] {message}", highlight=False)
        raise typer.Exit(2) from exc
    columns = (TextColumn("exporting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        db.require_schema()
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("export", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            summary = labels_export.export(db, out, since, classes, advance)
    except labels_export.ExportError as exc:
        err.print(f"[red]error:[/red] {exc.message}", highlight=False)
        raise typer.Exit(2) from exc
    except ContentGuardError as exc:
        err.print(f"[red]error:[/red] {exc.message}", highlight=False)
        raise typer.Exit(1) from exc
    except Exception as exc:  # the database is unreachable, the folder unwritable, …
        where = db.engine.url.render_as_string(hide_password=True)
        err.print(f"[red]error:[/red] export from {where} failed: {exc}", highlight=False)
        raise typer.Exit(1) from exc
    finally:
        db.close()
    err.print(
        f"{summary.total} items in {out} ({summary.written} written, {summary.unchanged} "
        f"unchanged, {summary.moved} relabelled); {summary.no_media} reviewed without stored "
        "media (purged or never kept) skipped", highlight=False)

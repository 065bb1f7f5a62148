"""`contentguard bench`, `bench-load` and `bench-text`: the benchmarks (the measuring itself is
bench/), each checking its data folder first."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from contentguard.cli.common import app, err, fail
from contentguard.settings import Settings, get_settings


def _image_folder(settings: Settings, data: Path | None) -> Path:
    """--data, else <data_dir>/images; a usage error when it is not a folder."""
    folder = data or settings.data_dir / "images"
    if not folder.is_dir():
        raise fail(f"benchmark images not found at {folder}; pass --data or set "
                   "CONTENTGUARD_DATA_DIR", 2)
    return folder


@app.command()
def bench(
    data: Annotated[
        Path | None, typer.Option("--data", help="Image folder (default: <data_dir>/images).")
    ] = None,
    output: Annotated[
        Path, typer.Option("--out", help="Where the figures go (JSON).")
    ] = Path("benchmarks/results.json"),
    repeat: Annotated[int, typer.Option(help="Timed repetitions per measurement.")] = 5,
    readme: Annotated[
        Path | None,
        typer.Option(help="README whose table (between bench markers) is rewritten."),
    ] = Path("README.md"),
    node: Annotated[bool, typer.Option("--node/--no-node", help="Compare with nsfwjs in Node.")] = True,
) -> None:
    """Measure speed against the FLOP floor, nsfwjs, NudeNet and plain Pillow."""
    from contentguard.bench.images import run_bench

    settings = get_settings()
    folder = _image_folder(settings, data)
    run_bench(settings, folder, output, repeat=repeat, use_node=node, console=err, readme=readme)


@app.command("bench-load")
def bench_load(
    duration: Annotated[float, typer.Option(help="Seconds of load per concurrency level.")] = 20.0,
    soak: Annotated[
        float, typer.Option(help="Seconds of the RSS soak run at 16 clients (0 skips it).")
    ] = 300.0,
    clients: Annotated[str, typer.Option(help="Concurrency levels, comma-separated.")] = "1,4,16,64",
    output: Annotated[
        Path, typer.Option("--out", help="Folder for load.json and load.md.")
    ] = Path("benchmarks"),
    data: Annotated[
        Path | None, typer.Option("--data", help="Image folder (default: <data_dir>/images).")
    ] = None,
    readme: Annotated[
        Path | None,
        typer.Option(help="README whose section (between load markers) is rewritten."),
    ] = Path("README.md"),
) -> None:
    """Load the HTTP service at 1–64 concurrent clients against in-process throughput."""
    from contentguard.bench.load import run_bench_load

    try:
        levels = [int(part) for part in clients.split(",") if part.strip()]
    except ValueError:
        levels = []
    if not levels or min(levels) < 1:
        raise fail(f"--clients must be positive whole numbers, comma-separated, not {clients!r}", 2)
    settings = get_settings()
    folder = _image_folder(settings, data)
    run_bench_load(settings, folder, output, duration=duration, soak=soak, clients=levels,
                   console=err, readme=readme)


@app.command("bench-text")
def bench_text(
    texts: Annotated[int, typer.Option("--texts", min=1, help="How many texts (tweets and SMS, "
                                                               "interleaved).")] = 2000,
    repeat: Annotated[int, typer.Option(min=1, help="Timed repetitions per measurement.")] = 3,
    output: Annotated[
        Path, typer.Option("--out", help="Folder for text.json and text.md.")
    ] = Path("benchmarks"),
    data: Annotated[
        Path | None, typer.Option("--data", help="Folder with the Davidson CSV and the SMS TSV "
                                                  "(default: <data_dir>/text).")
    ] = None,
    readme: Annotated[
        Path | None,
        typer.Option(help="README whose section (between text-bench markers) is rewritten."),
    ] = Path("README.md"),
) -> None:
    """Texts/s of normalisation, each text detector and end to end; our encoder against
    sentence-transformers."""
    from contentguard.bench.text import SMS_FILE, TWEETS_FILE, run_bench_text

    settings = get_settings()
    folder = data or settings.data_dir / "text"
    if not (folder / TWEETS_FILE).is_file() or not (folder / SMS_FILE).is_file():
        raise fail(f"benchmark texts not found: {folder} needs {TWEETS_FILE} and {SMS_FILE}; "
                   "pass --data or set CONTENTGUARD_DATA_DIR", 2)
    run_bench_text(settings, folder, output, n_texts=texts, repeat=repeat, console=err, readme=readme)

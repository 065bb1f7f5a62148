"""`contentguard check`: moderate images (files, URLs, stdin) and texts, and print each result
readably or as the result contract's JSON."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from contentguard.cli.common import CascadeOpt, PolicyOpt, app, fail, image_moderator, load_policy, out
from contentguard.errors import ContentGuardError
from contentguard.media import read_file, read_stream
from contentguard.moderation.image import Item, Skipped
from contentguard.schemas import ErrorResult, ModerationResult, Outcome
from contentguard.settings import Settings, get_settings

DECISION_STYLE = {"allow": "green", "review": "yellow", "block": "bold red"}


def _texts(texts: list[str], text_file: str | None) -> list[tuple[str, str]]:
    """(source, text) pairs: each --text, then each line of --text-file (`-`: stdin)."""
    pairs = [(f"text[{n}]", t) for n, t in enumerate(texts)]
    if text_file is not None:
        try:
            stream = sys.stdin if text_file == "-" else open(text_file, encoding="utf-8")  # noqa: SIM115
            with stream:
                lines = [line.rstrip("\r\n") for line in stream]
        except (OSError, UnicodeDecodeError) as exc:
            raise fail(f"cannot read {text_file}: {exc}", 2) from exc
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
        raise fail("nothing to check: give image paths or URLs, --text or --text-file", 2)
    outcomes: list[Outcome] = []
    if texts:
        outcomes += _check_texts(settings, texts, policy)
        for outcome in outcomes:
            _show(outcome, as_json)
    if paths:
        with image_moderator(settings, policy, cascade) as moderator:
            for outcome in moderator.moderate_many(_items(paths, settings)):
                assert not isinstance(outcome, Skipped)
                outcomes.append(outcome)
                _show(outcome, as_json)
    raise typer.Exit(1 if any(isinstance(o, ErrorResult) for o in outcomes) else 0)


def _check_texts(settings: Settings, texts: list[tuple[str, str]], policy_file: Path | None) -> list[Outcome]:
    from contentguard.moderation.text import TextModerator

    try:
        moderator = TextModerator(settings, load_policy(settings, policy_file, None))
    except ContentGuardError as exc:
        raise fail(exc.message, 1) from exc
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

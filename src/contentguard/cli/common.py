"""What every command module shares: the Typer `app` they register on, the two consoles
(results on stdout, progress and messages on stderr), the exit-code rules, the database as the
account commands open it, and the policy options of `check` and `scan`.

Exit codes: 0 every input was moderated, 1 some input failed (or a model is unavailable),
2 usage errors (bad options, unreadable policy) and a missing optional dependency (the message
names the pip extra to install).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from contentguard.errors import ContentGuardError, ExtraMissing, InvalidPolicy
from contentguard.moderation.image import Moderator
from contentguard.moderation.policy import Policy
from contentguard.settings import Settings
from contentguard.store.db import Database

app = typer.Typer(
    help="ContentGuard: self-hosted content moderation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int) -> typer.Exit:
    """Print `message` as an error on stderr; raise the returned Exit with `code`."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)  # "[train]" is not markup
    return typer.Exit(code)


def exit_code(exc: ContentGuardError) -> int:
    """2 for a missing optional dependency (the message says what to install), else 1."""
    return 2 if isinstance(exc, ExtraMissing) else 1


def refused_code(exc: ContentGuardError) -> int:
    """For the account commands: 2 when the input is refused (invalid, or taken: 422, 409),
    1 for anything else (no such row, the database)."""
    return 2 if exc.http_status in (409, 422) else 1


# --- the database, as the account commands open it ------------------------------------------------
def open_database(settings: Settings) -> Database:
    return Database(settings.resolved_database_url())


def where(db: Database) -> str:
    """The database's URL without its password, for messages."""
    return db.engine.url.render_as_string(hide_password=True)


# --- the policy options of check and scan ---------------------------------------------------------
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


def load_policy(settings: Settings, policy_file: Path | None, cascade: bool | None) -> Policy:
    """--policy, else the `policy_file` setting, else the default; --cascade overrides it."""
    try:
        policy = Policy.from_file(policy_file) if policy_file else None
        if policy is None and settings.policy_file:
            policy = Policy.from_file(settings.policy_file)
        policy = policy or Policy.default()
    except InvalidPolicy as exc:
        raise fail(exc.message, 2) from exc
    if cascade is not None:
        policy = policy.model_copy(
            update={"cascade": policy.cascade.model_copy(update={"enabled": cascade})}
        )
    return policy


def image_moderator(settings: Settings, policy_file: Path | None, cascade: bool | None) -> Moderator:
    policy = load_policy(settings, policy_file, cascade)
    try:
        return Moderator(settings, policy)
    except ContentGuardError as exc:
        raise fail(exc.message, exit_code(exc)) from exc

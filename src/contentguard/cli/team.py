"""`contentguard db …` and `contentguard users …`: the database and the people who use the UI."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from typing import Annotated

import typer

from contentguard.cli.common import app, err, open_database, refused_code, where
from contentguard.errors import ContentGuardError
from contentguard.settings import Settings, get_settings
from contentguard.store import accounts
from contentguard.store.db import Database

db_app = typer.Typer(help="Apply and inspect database migrations.", no_args_is_help=True)
users_app = typer.Typer(help="Web UI accounts (admins and moderators).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
INITIAL_PASSWORD_FILE = "initial-admin-password"


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration (safe to repeat; `serve` does it on start too)."""
    db = open_database(get_settings())
    try:
        db.upgrade()
        err.print(f"database {where(db)} at revision {db.current_revision()}", highlight=False)
    except Exception as exc:
        err.print(f"[red]migration failed on {where(db)}: {exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        db.close()


@db_app.command("current")
def db_current() -> None:
    """Print the database's migration revision (empty: none applied)."""
    db = open_database(get_settings())
    try:
        print(db.current_revision() or "")
    finally:
        db.close()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = typer.prompt("Password", hide_input=True)
    second = typer.prompt("Repeat it", hide_input=True)
    if first != second:
        err.print("[red]the passwords differ[/red]")
        raise typer.Exit(2)
    return first


def _create(username: str, role: str, password_stdin: bool) -> None:
    settings = get_settings()
    password = _read_password(password_stdin)
    db = open_database(settings)
    try:
        db.upgrade()
        with db.session() as session:
            user = accounts.create_user(session, username, password, role, actor="cli")
            err.print(f"created {role} {user.username!r} (id {user.id}) in {where(db)}",
                      highlight=False)
    except ContentGuardError as exc:
        err.print(f"[red]{exc.message}[/red]")
        raise typer.Exit(refused_code(exc)) from exc
    finally:
        db.close()


@users_app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Argument(help="Login name.")] = "admin",
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input (scripts).")] = False,
) -> None:
    """Create an administrator (asks for the password twice)."""
    _create(username, "admin", password_stdin)


@users_app.command("create")
def create_user(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="admin or moderator.")] = "moderator",
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from standard input (scripts).")] = False,
) -> None:
    """Create a moderator (or another admin)."""
    _create(username, role, password_stdin)


@users_app.command("list")
def list_users() -> None:
    """Print the accounts: name, role, active."""
    from sqlalchemy import select

    from contentguard.store.tables import User

    db = open_database(get_settings())
    try:
        db.upgrade()
        with db.session() as session:
            for user in session.scalars(select(User).order_by(User.id)):
                print(f"{user.id}\t{user.username}\t{user.role}\t"
                      f"{'active' if user.active else 'disabled'}")
    finally:
        db.close()


def bootstrap_admin(settings: Settings, db: Database) -> Path | None:
    """On the very first start (no accounts at all), create `admin` with a random password
    written to `data_home/initial-admin-password` (mode 0600); returns that path. The UI works
    at once, and no default password exists anywhere."""
    with db.session() as session:
        if accounts.count_users(session):
            return None
        password = secrets.token_urlsafe(18)
        accounts.create_user(session, "admin", password, "admin", actor="system")
    path = settings.data_home / INITIAL_PASSWORD_FILE
    settings.data_home.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return path

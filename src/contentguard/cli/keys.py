"""`contentguard keys …`: API keys from the command line, for an admin who sets a deployment up
with a script rather than the web form.

The commands call the same operations as the admin API and pages (service/admin.py), so a key
is made, listed and revoked exactly as there and audited under the actor `cli`. A new key is
printed once, alone on stdout (`KEY=$(contentguard keys create …)`); everything else goes to
stderr. Exit codes: 2 for a refused input (an unknown scope, a bad rate or callback URL, a
name an active key has), 1 for anything else (no such key, a key revoked already, the
database).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated

import typer
from pydantic import ValidationError

from contentguard.cli.common import app, err, fail, open_database, refused_code, where
from contentguard.errors import ContentGuardError
from contentguard.service import admin as ops
from contentguard.settings import Settings, get_settings
from contentguard.store.db import Database
from contentguard.store.tables import ROW_ID_MAX

keys_app = typer.Typer(help="API keys of client platforms (as Admin → API keys).",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")

OPTIONS = {"name": "NAME", "scopes": "--scopes", "rate_limit_per_min": "--rate",
           "callback_url": "--callback-url"}  # KeyIn's fields as the command names them


@contextmanager
def _database() -> Iterator[tuple[Settings, Database]]:
    """The settings and the database, migrated (as `users create` opens it) and closed after;
    an operation's refusal ends the command with its message and exit code."""
    settings = get_settings()
    try:
        db = open_database(settings)
    except Exception as exc:  # a bad URL, a missing driver
        raise fail(f"cannot open the database: {exc}", 1) from exc
    try:
        try:
            db.upgrade()
        except Exception as exc:
            raise fail(f"cannot open the database {where(db)}: {exc}", 1) from exc
        try:
            yield settings, db
        except ContentGuardError as exc:
            raise fail(exc.message, refused_code(exc)) from exc
    finally:
        db.close()


def _refusal(exc: ValidationError) -> str:
    """What is wrong, named by the options given (not KeyIn's field names)."""
    parts = []
    for error in exc.errors()[:5]:
        field, *item = error["loc"] or ("input",)
        what = OPTIONS.get(str(field), str(field))
        if item:  # one of the scopes
            what += f" {error['input']!r}"
        parts.append(f"{what}: {error['msg']}")
    return "; ".join(parts)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _cell(text: str) -> str:
    """A name on one line and in one column (the API lets a name hold tabs and line breaks)."""
    return " ".join(text.replace("\t", " ").splitlines())


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Who uses the key (1–100 characters).")],
    scopes: Annotated[str, typer.Option(
        "--scopes", help="What it may do, comma-separated: moderate (POST /v1/moderate/*), "
                         "results (GET /v1/results/*, its own), appeal (/v1/appeals).")],
    rate: Annotated[int, typer.Option(
        "--rate", help="Requests per minute.")] = ops.KeyIn.model_fields["rate_limit_per_min"].default,
    callback_url: Annotated[str | None, typer.Option(
        "--callback-url", help="Where its webhooks go (the rules of docs/url-fetching.md).")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="The whole answer as JSON on stdout, as POST /v1/admin/keys gives it "
                       "(the key and its webhook secret included).")] = False,
) -> None:
    """Create an API key and print it once on stdout (only its sha256 is stored)."""
    try:
        body = ops.KeyIn(name=name, scopes=[s.strip() for s in scopes.split(",") if s.strip()],
                         rate_limit_per_min=rate, callback_url=callback_url or None)
    except ValidationError as exc:
        raise fail(_refusal(exc), 2) from exc
    with _database() as (settings, db):
        same = [k for k in ops.list_keys(db, include_revoked=False) if k.name == body.name.strip()]
        if same:
            raise fail(f"an active key named {same[0].name!r} exists already (id {same[0].id}): "
                       "choose another name, or revoke that one first", 2)
        new = ops.create_key(db, settings, ops.CLI, body)
    if as_json:
        print(new.model_dump_json(), flush=True)
        return
    print(new.key, flush=True)
    err.print(f"created API key {new.id} {new.name!r} ({new.prefix}…): {', '.join(new.scopes)}; "
              f"{new.rate_limit_per_min} requests/min; callback {new.callback_url or 'none'}",
              highlight=False, markup=False)
    err.print(f"webhook secret (signs its webhooks): {new.webhook_secret}", highlight=False,
              markup=False)
    err.print("Copy both now: they are not shown again (only the key's sha256 is stored).",
              highlight=False)


@keys_app.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option(
        "--json", help="One JSON object per key, as GET /v1/admin/keys gives it.")] = False,
) -> None:
    """Print every key, newest first: id, name, prefix, scopes, rate per minute, created, last
    used, revoked (never a key itself)."""
    with _database() as (_, db):
        keys = ops.list_keys(db)
    if as_json:
        for key in keys:
            print(key.model_dump_json())
        return
    print("id\tname\tprefix\tscopes\trate/min\tcreated\tlast used\trevoked")
    for key in keys:
        print(f"{key.id}\t{_cell(key.name)}\t{key.prefix}…\t{','.join(key.scopes)}\t"
              f"{key.rate_limit_per_min}\t{_when(key.created_at)}\t{_when(key.last_used_at)}\t"
              f"{_when(key.revoked_at)}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(metavar="ID", min=1, max=ROW_ID_MAX,
                                          help="The key's id (`keys list`).")],
) -> None:
    """Revoke a key: refused (401) from now on; a running server may take up to 5 s to notice."""
    with _database() as (_, db):
        known = next((k for k in ops.list_keys(db) if k.id == key_id), None)
        if known is not None and known.revoked_at is not None:
            raise fail(f"API key {key_id} {known.name!r} was revoked already, at "
                       f"{_when(known.revoked_at)}", 1)
        key = ops.revoke_key(db, ops.CLI, key_id)
    err.print(f"revoked API key {key.id} {key.name!r} ({key.prefix}…)", highlight=False, markup=False)

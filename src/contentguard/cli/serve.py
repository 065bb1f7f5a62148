"""`contentguard serve` (the HTTP API and web UI) and `contentguard worker` (background tasks
with no HTTP server). Both migrate the database before they start."""

from __future__ import annotations

from typing import Annotated

import typer

from contentguard import __version__
from contentguard.cli.common import app, err, fail, open_database, where
from contentguard.cli.team import bootstrap_admin
from contentguard.errors import ContentGuardError
from contentguard.settings import Settings, get_settings


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

    settings = get_settings()
    host = host or settings.host
    port = settings.port if port is None else port
    shown = f"[{host}]" if ":" in host else host
    db = open_database(settings)
    try:
        db.upgrade()
        first = bootstrap_admin(settings, db)
    except ContentGuardError as exc:
        raise fail(exc.message, 1) from exc
    except Exception as exc:
        raise fail(f"cannot open the database {where(db)}: {exc}", 1) from exc
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

    try:
        settings = Settings(roles=roles) if roles else get_settings()  # type: ignore[call-arg]
    except ValidationError as exc:
        raise fail("; ".join(error["msg"] for error in exc.errors()), 2) from exc
    given = role_names.parse(settings.roles)
    names = [name for name in role_names.tasks_for(given) if name != "policy_sync" or "jobs" in given]
    if not names:
        raise fail("no background task among the roles: name some of "
                   f"{', '.join(role_names.TASK_ROLES)}", 2)
    db = open_database(settings)
    try:
        db.upgrade()
    except Exception as exc:
        raise fail(f"cannot open the database {where(db)}: {exc}", 1) from exc
    engine = Engine(settings, db)
    if "jobs" in given:
        engine.load()
        if engine.load_error:
            raise fail(f"models failed to load: {engine.load_error}", 1)
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

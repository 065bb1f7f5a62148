"""Work the service does on its own while it runs: retention, webhook deliveries, async jobs.

Each task is `async def task(app) -> None`, runs for the app's lifetime, and must survive its
own failures (log and go on); the lifespan cancels them on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI

from contentguard.server import async_jobs, webhooks
from contentguard.store import decisions

log = logging.getLogger("contentguard.server")
RETENTION_EVERY_S = 3600.0


async def retention(app: FastAPI) -> None:
    """Delete decisions and review media past their retention, hourly (and once at start)."""
    settings = app.state.settings
    while True:
        try:
            def purge() -> tuple[int, int]:
                with app.state.db.session() as session:
                    return decisions.purge_expired(session, settings.retention_days)

            removed, media = await asyncio.to_thread(purge)
            if removed or media:
                log.info("retention: deleted %d decisions and %d media", removed, media)
        except Exception:
            log.exception("retention purge failed; retrying in an hour")
        await asyncio.sleep(RETENTION_EVERY_S)


TASKS: list[Callable[[FastAPI], Awaitable[None]]] = [retention]
TASKS += [webhooks.delivery_worker, async_jobs.job_worker]

"""Work the service does on its own while it runs: retention, policy sync, webhook deliveries,
async jobs.

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


async def policy_sync(app: FastAPI) -> None:
    """Follow the active policy version in the database, so a change saved through one process
    reaches every process on the same database within `policy_sync_s`."""
    engine = app.state.engine
    while True:
        await asyncio.sleep(app.state.settings.policy_sync_s)
        try:
            version = await asyncio.to_thread(engine.sync_policy)
            if version is not None:
                log.info("policy: switched to version %s (changed by another process)", version)
        except Exception:
            log.exception("policy sync failed; retrying")


TASKS: list[Callable[[FastAPI], Awaitable[None]]] = [retention, policy_sync]
TASKS += [webhooks.delivery_worker, async_jobs.job_worker]

"""Work the service does on its own while it runs, as named background tasks: `retention`,
`policy_sync`, `webhooks` (deliveries) and `jobs` (`?async=true` moderation).

Each task is `async def task(engine) -> None`, runs for the process's lifetime, and must survive
its own failures (log and go on); whoever started it cancels it on shutdown (the HTTP app's
lifespan, or `contentguard worker`). The `roles` setting picks which ones a process runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from contentguard.service import jobs, webhooks
from contentguard.service.engine import Engine
from contentguard.store import decisions

log = logging.getLogger("contentguard.server")
RETENTION_EVERY_S = 3600.0


async def retention(engine: Engine) -> None:
    """Delete decisions and review media past their retention, hourly (and once at start)."""
    settings = engine.settings
    while True:
        try:
            def purge() -> tuple[int, int]:
                with engine.db.session() as session:
                    return decisions.purge_expired(session, settings.retention_days)

            removed, media = await asyncio.to_thread(purge)
            if removed or media:
                log.info("retention: deleted %d decisions and %d media", removed, media)
        except Exception:
            log.exception("retention purge failed; retrying in an hour")
        await asyncio.sleep(RETENTION_EVERY_S)


async def policy_sync(engine: Engine) -> None:
    """Follow the active policy version in the database, so a change saved through one process
    reaches every process on the same database within `policy_sync_s`."""
    while True:
        await asyncio.sleep(engine.settings.policy_sync_s)
        try:
            version = await asyncio.to_thread(engine.policy_holder.sync)
            if version is not None:
                log.info("policy: switched to version %s (changed by another process)", version)
        except Exception:
            log.exception("policy sync failed; retrying")


TASKS: dict[str, Callable[[Engine], Awaitable[None]]] = {
    "retention": retention,
    "policy_sync": policy_sync,
    "webhooks": webhooks.delivery_worker,
    "jobs": jobs.job_worker,
}


async def run(engine: Engine, names: list[str]) -> None:
    """Run the named tasks until cancelled (then cancel them and wait for them to end)."""
    tasks = [asyncio.create_task(TASKS[name](engine), name=f"cg-{name}") for name in names]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

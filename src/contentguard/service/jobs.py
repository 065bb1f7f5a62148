"""Asynchronous moderation jobs: admit them, run them in the background, deliver their results.

A job's input (image bytes, a URL, or a text) is committed as an AsyncJob row before the
caller is answered (over HTTP, server/jobs.py answers 202), so a killed server finishes it
after a restart. Its id is the future result id: the finished decision is stored under it
(`GET /v1/results/{id}` answers 202 until then) and a `moderation.completed` webhook is queued
in the same transaction as the decision. URLs are fetched by the job, not by the request.

Admission: at most `max_pending_jobs` jobs may be pending, counted in the jobs table so every
process on one database agrees; a request that would go over is refused whole with 429
`overloaded` (and `Retry-After`), before anything of it is stored. The runner moderates jobs
through the same bounded micro-batchers as the synchronous routes.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy import text as sql
from sqlalchemy.exc import IntegrityError

from contentguard.errors import ContentGuardError, NotReady, Overloaded
from contentguard.moderation.image import Item, Read
from contentguard.schemas import ErrorDetail, ErrorResult, ModerationResult, Outcome
from contentguard.service import webhooks
from contentguard.service.engine import Engine, Kept, error_result, fetch_item, save
from contentguard.service.wakes import nap
from contentguard.store import webhooks as outbox
from contentguard.store.db import Database
from contentguard.store.decisions import Requester
from contentguard.store.tables import AsyncJob, utcnow

log = logging.getLogger("contentguard.server")
POLL_S = 1.0  # pending jobs are looked for at least this often
CONCURRENCY = 16  # jobs in flight at once (the micro-batcher batches them together)
OVERLOADED_PAUSE_S = 0.5
ADMISSION_LOCK_KEY = 0x63676A6F6273  # "cgjobs": the advisory lock accepting jobs takes on PostgreSQL
WAKE = "jobs"  # the name of the job task's wake-up (service/wakes.py)


@dataclass(frozen=True)
class JobInput:
    kind: Literal["image", "text"]
    source: str
    data: bytes | None = None
    url: str | None = None
    text: str | None = None


# --- admitting -----------------------------------------------------------------------------------
async def admit(engine: Engine, items: list[JobInput], api_key_id: int | None) -> list[str]:
    """Commit the jobs and wake the worker; their ids (the future result ids). `Overloaded`,
    with nothing stored, when they would take the pending jobs over `max_pending_jobs`."""
    db: Database = engine.db
    limit: int = engine.settings.max_pending_jobs
    ids = [uuid.uuid4().hex for _ in items]

    def store() -> None:
        with db.session() as session:
            if db.dialect == "postgresql":  # one accepting transaction at a time, in every process
                session.execute(sql("SELECT pg_advisory_xact_lock(:key)"), {"key": ADMISSION_LOCK_KEY})
            for job_id, item in zip(ids, items, strict=True):
                session.add(AsyncJob(
                    id=job_id, api_key_id=api_key_id, kind=item.kind, source=item.source[:2048],
                    data=item.data, url=item.url, text=item.text,
                ))
            # Inserted first: on SQLite the insert holds the write lock, so this count and the
            # commit are one step for every process too. Over the limit: rolled back, whole.
            session.flush()
            pending = session.scalar(
                select(func.count()).select_from(AsyncJob).where(AsyncJob.status == "pending")
            ) or 0
            if pending > limit:
                jobs = "1 job" if len(items) == 1 else f"{len(items)} jobs"
                raise Overloaded(f"{jobs} would join {pending - len(items)} already pending "
                                 f"(max_pending_jobs {limit}); retry shortly")

    await asyncio.to_thread(store)
    engine.wakes.wake(WAKE)
    return ids


def unfinished(db: Database, result_id: str, api_key_id: int | None) -> AsyncJob | None:
    """The async job behind `result_id` while it is pending or after it failed (a finished
    job's result is a stored decision); None when there is none visible to `api_key_id`."""
    if len(result_id) != 32:
        return None
    with db.session() as session:
        job = session.get(AsyncJob, result_id)
        if job is None or (api_key_id is not None and job.api_key_id != api_key_id):
            return None
        if job.status == "pending" or (job.status == "failed" and job.error):
            session.expunge(job)
            return job
    return None


def failure_of(job: AsyncJob) -> ErrorResult:
    """A failed job's error object."""
    return ErrorResult(source=job.source, error=ErrorDetail.model_validate(job.error))


# --- running ------------------------------------------------------------------------------------
async def run_job(engine: Engine, job_id: str) -> None:
    """Moderate one pending job and finish it; models busy or not ready leave it pending."""
    job = await asyncio.to_thread(_load, engine.db, job_id)
    if job is None:
        return
    given: Read | str | None = job.text if job.kind == "text" else None
    try:
        if job.kind == "text":
            texts = engine.require_text()
            done = await asyncio.wrap_future(texts.submit((job.source or "text", job.text or "")))
            outcome = done.outcome
        else:
            item = (Item.from_bytes(job.data, job.source or "upload") if job.data is not None
                    else await fetch_item(job.url or "", engine.settings))
            if isinstance(item, ErrorResult):
                outcome = item
            else:
                done = await asyncio.wrap_future(engine.require_ready().submit(item))
                outcome, given = done.outcome, done.prepared.read
    except NotReady as exc:
        if job.kind != "text" or engine.text_error is None:
            return  # models still loading: the job stays pending
        outcome = error_result(job.source, exc)  # the text models failed to load in this run
    except Overloaded:
        await asyncio.sleep(OVERLOADED_PAUSE_S)  # still pending: the worker takes it up again
        return
    except ContentGuardError as exc:
        outcome = error_result(job.source, exc)
    except Exception as exc:
        log.exception("async job %s failed", job_id)
        outcome = error_result(job.source, ContentGuardError(f"unexpected {exc.__class__.__name__}"))
    (kept,) = await engine.kept_for_review([outcome], [given])
    await asyncio.to_thread(_finish, engine, job_id, outcome, kept)
    engine.wakes.wake(webhooks.WAKE)


def _load(db: Database, job_id: str) -> AsyncJob | None:
    with db.session() as session:
        job = session.get(AsyncJob, job_id)
        return job if job is not None and job.status == "pending" else None


def _finish(engine: Engine, job_id: str, outcome: Outcome, kept: Kept | None) -> None:
    """In one transaction: the decision under the job's id (queued for review like any other),
    the job done or failed, and the `moderation.completed` event for the key's callback."""
    try:
        with engine.db.session() as session:
            job = session.get(AsyncJob, job_id)
            if job is None or job.status != "pending":
                return  # finished by another process meanwhile
            if isinstance(outcome, ModerationResult):
                save(session, outcome, Requester(api_key_id=job.api_key_id), engine.retention,
                     kept, result_id=job.id)
                job.status = "done"
                payload = outcome.model_dump(mode="json")
            else:
                job.status = "failed"
                job.error = outcome.error.model_dump(mode="json")
                payload = {"result_id": job.id, **outcome.model_dump(mode="json")}
            job.finished_at = utcnow()
            job.data = job.text = None  # the input is not kept past its moderation
            outbox.enqueue_event(session, job.api_key_id, "moderation.completed", payload)
    except IntegrityError:  # another process stored this result id first
        log.info("async job %s was finished elsewhere", job_id)


def _pending(db: Database, exclude: set[str], limit: int) -> list[str]:
    with db.session() as session:
        stmt = select(AsyncJob.id).where(AsyncJob.status == "pending")
        if exclude:
            stmt = stmt.where(AsyncJob.id.not_in(exclude))
        return list(session.scalars(stmt.order_by(AsyncJob.created_at, AsyncJob.id).limit(limit)))


async def job_worker(engine: Engine) -> None:
    """Run pending jobs (those of a previous run first: oldest first) once the models are
    ready, up to CONCURRENCY at once; woken by new jobs (`engine.wakes.wake(WAKE)`), finished
    ones, or every POLL_S."""
    event = engine.wakes.event(WAKE)
    running: dict[str, asyncio.Task[None]] = {}

    def finished(job_id: str, task: asyncio.Task[None]) -> None:
        running.pop(job_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("async job %s crashed", job_id, exc_info=task.exception())
        event.set()

    try:
        while True:
            free = CONCURRENCY - len(running)
            try:
                if engine.ready and free > 0:
                    for job_id in await asyncio.to_thread(_pending, engine.db, set(running), free):
                        task = asyncio.create_task(run_job(engine, job_id))
                        running[job_id] = task
                        task.add_done_callback(lambda t, j=job_id: finished(j, t))
            except Exception:
                log.exception("async job task failed; retrying in %g s", POLL_S)
            await nap(event, POLL_S)
    finally:
        for task in list(running.values()):
            task.cancel()
        await asyncio.gather(*running.values(), return_exceptions=True)

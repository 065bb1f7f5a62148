"""What the routes moderate with: the moderator behind a micro-batcher, loaded in the background.

The service starts answering at once; `/readyz` and the moderation routes say `not_ready`
until the models have loaded and warmed up.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from contentguard.batcher import MicroBatcher, record
from contentguard.errors import ContentGuardError, NotReady, Overloaded
from contentguard.media.thumbnail import thumbnail
from contentguard.pipeline import Item, Moderator
from contentguard.schemas import ErrorDetail, ErrorResult, ModerationResult, Outcome
from contentguard.settings import Settings
from contentguard.store import decisions, policies
from contentguard.store.db import Database
from contentguard.store.decisions import Requester, Retention
from contentguard.text_moderation import TextModerator

log = logging.getLogger("contentguard.server")
NOBODY = Requester()


class Engine:
    """Owns the moderators, the batcher and the decision store of one app."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        make_moderator: Callable[[], Moderator] | None = None,
        make_text_moderator: Callable[[], TextModerator] | None = None,
    ):
        self.settings = settings
        self.db = db
        self.retention = Retention(
            media_days=settings.media_retention_days,
            sample_allow=settings.review_sample_allow,
            sample_block=settings.review_sample_block,
        )
        self._make = make_moderator or (lambda: Moderator(settings))
        self._make_text = make_text_moderator or (lambda: TextModerator(settings))
        self.text_moderator: TextModerator | None = None
        self.text_error: str | None = None
        self.moderator: Moderator | None = None
        self.batcher: MicroBatcher | None = None
        self.load_error: str | None = None
        self._stored_policy = None
        self._loaded = threading.Event()

    # --- life cycle ----------------------------------------------------------------------
    def load(self) -> None:
        """Load and warm the models (blocking; the lifespan runs it in a thread)."""
        try:
            moderator = self._make()
            active = policies.ensure_active_at_start(self.db, moderator.policy)
            self._stored_policy = active if active.version != moderator.policy.version else None
            if self._stored_policy is not None:  # an admin's newer version
                moderator.policy = active
            self.batcher = MicroBatcher(
                moderator,
                max_batch=self.settings.microbatch_size,
                max_wait_ms=self.settings.microbatch_wait_ms,
                max_queue=self.settings.max_queue,
            )
            self.moderator = moderator
            log.info("models ready: %s", ", ".join(d.name for d in moderator.detectors))
        except Exception as exc:
            self.load_error = f"{exc.__class__.__name__}: {exc}"
            log.error("models failed to load: %s", self.load_error)
        try:
            self.text_moderator = self._make_text()
            if self._stored_policy is not None:  # texts follow the same active version
                self.text_moderator.policy = self._stored_policy
        except Exception as exc:  # images keep working; text routes say why they can't
            self.text_error = f"{exc.__class__.__name__}: {exc}"
            log.error("text models failed to load: %s", self.text_error)
        finally:
            self._loaded.set()

    def close(self, own_moderator: bool = True) -> None:
        if self.batcher is not None:
            self.batcher.close()
        if self.moderator is not None and own_moderator:
            self.moderator.close()

    @property
    def ready(self) -> bool:
        return self.batcher is not None and self._loaded.is_set()

    def status(self) -> dict[str, object]:
        """What `/readyz` reports."""
        if self.ready:
            assert self.moderator is not None
            return {
                "status": "ready",
                "models": _model_status(self.moderator),
                "policy_version": self.moderator.policy.version,
                "text": (
                    {"status": "ready", "models": _model_status(self.text_moderator)}
                    if self.text_moderator is not None
                    else {"status": "failed", "error": self.text_error}
                ),
            }
        return {"status": "failed" if self.load_error else "loading", "error": self.load_error}

    def require_ready(self) -> MicroBatcher:
        if not self.ready or self.batcher is None:
            if self.load_error:
                raise NotReady(f"the models failed to load: {self.load_error}")
            raise NotReady("the models are still loading; retry when /readyz answers 200")
        return self.batcher

    def require_text(self) -> TextModerator:
        self.require_ready()
        if self.text_moderator is None:
            raise NotReady(f"the text models failed to load: {self.text_error}")
        return self.text_moderator

    def set_policy(self, policy) -> None:  # type: ignore[no-untyped-def]
        """Run `policy` from the next item on (an admin saved a new version)."""
        for moderator in (self.moderator, self.text_moderator):
            if moderator is not None:
                moderator.policy = policy

    def sync_policy(self) -> str | None:
        """Switch to the database's active policy version when it is not the one running (an
        admin changed it through another process on the same database). Blocking; returns the
        version switched to, or None."""
        running = self.moderator or self.text_moderator
        if running is None:
            return None
        with self.db.session() as session:
            row = policies.active(session)
            if row is None or row.version == running.policy.version:
                return None
            policy = policies.to_policy(row)
        self.set_policy(policy)
        return policy.version

    # --- moderation --------------------------------------------------------------------
    async def moderate_texts(
        self, texts: list[tuple[str, str]], requester: Requester = NOBODY
    ) -> list[Outcome]:
        """Texts in one batched call, off the event loop; every result is stored."""
        moderator = self.require_text()
        outcomes = await asyncio.to_thread(moderator.moderate_many, texts)
        for outcome in outcomes:
            record(outcome)
        bodies = [text for _, text in texts]
        await asyncio.to_thread(self._store_many, outcomes, requester, bodies)
        return outcomes

    async def moderate(self, item: Item, requester: Requester = NOBODY) -> Outcome:
        """One item through the micro-batcher; the result is stored."""
        future = self.require_ready().submit(item)
        outcome = await asyncio.wrap_future(future)
        await asyncio.to_thread(self._store_many, [outcome], requester, [item])
        return outcome

    async def moderate_all(
        self, items: list[Item | ErrorResult], requester: Requester = NOBODY
    ) -> list[Outcome]:
        """Items concurrently (so they share model runs); ready-made errors pass through."""
        batcher = self.require_ready()
        wanted = sum(not isinstance(item, ErrorResult) for item in items)
        if batcher.pending + wanted > batcher.max_queue:
            raise Overloaded(
                f"{wanted} items would join {batcher.pending} already waiting for the models "
                f"(max_queue {batcher.max_queue}); retry shortly"
            )
        futures: list[asyncio.Future[Outcome] | ErrorResult] = []
        for item in items:
            if isinstance(item, ErrorResult):
                futures.append(item)
                continue
            try:
                futures.append(asyncio.wrap_future(batcher.submit(item)))
            except ContentGuardError as exc:  # the queue filled up part-way through
                futures.append(error_result(item.source, exc))
        outcomes: list[Outcome] = []
        for f in futures:
            outcomes.append(f if isinstance(f, ErrorResult) else await f)
        await asyncio.to_thread(self._store_many, outcomes, requester, items)
        return outcomes

    def _store_many(
        self, outcomes: list[Outcome], requester: Requester, inputs: list[object]
    ) -> None:
        """Store the results in one transaction (sets each result's `result_id`). Inputs are
        the items (images) or texts, kept only for decisions that go to review."""
        with self.db.session() as session:
            for outcome, given in zip(outcomes, inputs, strict=True):
                if not isinstance(outcome, ModerationResult):
                    continue
                origin = decisions.queue_origin(outcome.decision, self.retention)
                keep = origin is not None
                media = text = thumb = None
                if keep and isinstance(given, str):
                    text = given
                elif keep and isinstance(given, Item):
                    media = given.load()
                    thumb = thumbnail(media)
                decisions.save(session, outcome, requester, self.retention,
                               media=media, text=text, thumbnail=thumb, origin=origin)


def _model_status(moderator: Moderator | TextModerator) -> list[dict[str, object]]:
    """Each model of a moderator for `/readyz`: name, version, and its warm-up error if any."""
    return [{"name": d.model_name, "version": d.version,
             "warm_up_error": moderator.warm_up_errors.get(d.name)} for d in moderator.detectors]


def error_result(source: str | None, exc: ContentGuardError) -> ErrorResult:
    """The contract's error object for an error raised before the pipeline saw the item."""
    return ErrorResult(
        source=source,
        error=ErrorDetail(
            code=exc.code,  # type: ignore[arg-type]
            message=exc.message,
            upstream_status=exc.details.get("upstream_status"),  # type: ignore[arg-type]
        ),
    )

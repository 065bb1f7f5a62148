"""What the routes moderate with: the image and text moderators, each behind its own
micro-batcher, loaded in the background.

The service starts answering at once; `/readyz` and the moderation routes say `not_ready`
until the models have loaded and warmed up. Model work (and image decoding) runs only on the
moderators' pools and the batchers' threads, each queue bounded by `max_queue`; the default
thread pool is left to storing results and reading the database, so those never wait behind
the models.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from contentguard import metrics
from contentguard.errors import ContentGuardError, NotReady
from contentguard.moderation.assemble import error_result  # also the service's (service/jobs.py)
from contentguard.moderation.batcher import MicroBatcher
from contentguard.moderation.image import Item, Moderator, Read
from contentguard.moderation.text import TextItem, TextModerator
from contentguard.net.fetch import check_url, fetch
from contentguard.schemas import ErrorResult, ModerationResult, Outcome
from contentguard.service.policy_holder import PolicyHolder
from contentguard.service.wakes import Wakes
from contentguard.settings import Settings
from contentguard.store import decisions
from contentguard.store.db import Database
from contentguard.store.decisions import Requester, Retention

log = logging.getLogger("contentguard.server")
NOBODY = Requester()


@dataclass(frozen=True)
class Kept:
    """What a decision that goes to review keeps: why it is queued, and its input."""

    origin: str  # review | sample
    media: bytes | None = None
    media_type: str | None = None  # sniffed when the media was read
    text: str | None = None
    thumbnail: bytes | None = None


class Engine:
    """Owns the moderators, their batchers and the decision store of one app."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        make_moderator: Callable[[], Moderator] | None = None,
        make_text_moderator: Callable[[], TextModerator] | None = None,
    ):
        self.settings = settings
        self.db = db
        self.wakes = Wakes()  # the background tasks' wake-ups (service/tasks.py)
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
        self.batcher: MicroBatcher[Item] | None = None
        self.text_batcher: MicroBatcher[TextItem] | None = None
        self.load_error: str | None = None
        self.policy_holder = PolicyHolder(db)  # the one place the active policy lives
        self._loaded = threading.Event()

    # --- life cycle ----------------------------------------------------------------------
    def load(self) -> None:
        """Load and warm the models (blocking; the lifespan runs it in a thread)."""
        try:
            moderator = self._make()
            self.policy_holder.attach(moderator)
            self.policy_holder.start()  # the database's active version (an admin's newer one)
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
            text_moderator = self._make_text()
            self.policy_holder.attach(text_moderator)  # texts follow the same active version
            self.text_batcher = MicroBatcher(
                text_moderator,
                max_batch=self.settings.microbatch_size,
                max_wait_ms=self.settings.microbatch_wait_ms,
                max_queue=self.settings.max_queue,
                name="cg-text-batcher",
                depth=metrics.TEXT_QUEUE_DEPTH,
            )
            self.text_moderator = text_moderator
        except Exception as exc:  # images keep working; text routes say why they can't
            self.text_error = f"{exc.__class__.__name__}: {exc}"
            log.error("text models failed to load: %s", self.text_error)
        finally:
            self._loaded.set()

    def close(self, own_moderator: bool = True, own_text_moderator: bool = True) -> None:
        for batcher in (self.batcher, self.text_batcher):
            if batcher is not None:
                batcher.close()
        if self.moderator is not None and own_moderator:
            self.moderator.close()
        if self.text_moderator is not None and own_text_moderator:
            self.text_moderator.close()

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
                "policy_version": self.policy_holder.current.version,  # type: ignore[union-attr]
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

    def require_text(self) -> MicroBatcher[TextItem]:
        self.require_ready()
        if self.text_batcher is None:
            raise NotReady(f"the text models failed to load: {self.text_error}")
        return self.text_batcher

    # --- moderation --------------------------------------------------------------------
    async def moderate_texts(
        self, texts: list[TextItem], requester: Requester = NOBODY
    ) -> list[Outcome]:
        """Texts through the text micro-batcher (all admitted or `Overloaded`); every result
        is stored."""
        futures = self.require_text().submit_all(texts)
        outcomes = [(await asyncio.wrap_future(f)).outcome for f in futures]
        await self.store(outcomes, requester, [text for _, text in texts])
        return outcomes

    async def moderate(self, item: Item, requester: Requester = NOBODY) -> Outcome:
        """One item through the micro-batcher; the result is stored."""
        done = await asyncio.wrap_future(self.require_ready().submit(item))
        await self.store([done.outcome], requester, [done.prepared.read])
        return done.outcome

    async def moderate_all(
        self, items: list[Item | ErrorResult], requester: Requester = NOBODY
    ) -> list[Outcome]:
        """Items concurrently (so they share model runs), all admitted or `Overloaded`;
        ready-made errors pass through."""
        wanted = [item for item in items if not isinstance(item, ErrorResult)]
        futures = iter(self.require_ready().submit_all(wanted))
        outcomes: list[Outcome] = []
        reads: list[Read | None] = []
        for item in items:
            if isinstance(item, ErrorResult):
                outcomes.append(item)
                reads.append(None)
            else:
                done = await asyncio.wrap_future(next(futures))
                outcomes.append(done.outcome)
                reads.append(done.prepared.read)
        await self.store(outcomes, requester, reads)
        return outcomes

    async def store(self, outcomes: Sequence[Outcome], requester: Requester,
                    inputs: Sequence[Read | str | None]) -> None:
        """Store the results in one transaction (sets each result's `result_id`); the
        thumbnails of images going to review are made first, on the decode pool."""
        kept = await self.kept_for_review(outcomes, inputs)
        await asyncio.to_thread(self._store_many, outcomes, requester, kept)

    async def kept_for_review(self, outcomes: Sequence[Outcome],
                              inputs: Sequence[Read | str | None]) -> list[Kept | None]:
        """Per outcome, what goes to the review queue with it (None: it does not go). Inputs
        are what the pipeline read of each image (`PreparedItem.read`: bytes, media type and
        first frame, so nothing is read or decoded again) or the texts."""
        async def keep(outcome: Outcome, given: Read | str | None) -> Kept | None:
            if not isinstance(outcome, ModerationResult):
                return None
            origin = decisions.queue_origin(outcome.decision, self.retention)
            if origin is None:
                return None
            if isinstance(given, str):
                return Kept(origin, text=given)
            if isinstance(given, Read) and self.moderator is not None:
                thumb = await asyncio.wrap_future(self.moderator.thumbnail_async(given))
                return Kept(origin, media=given.data, media_type=given.media_type, thumbnail=thumb)
            return Kept(origin)

        return list(await asyncio.gather(*(keep(o, g) for o, g in zip(outcomes, inputs, strict=True))))

    def _store_many(self, outcomes: Sequence[Outcome], requester: Requester,
                    kept: Sequence[Kept | None]) -> None:
        with self.db.session() as session:
            for outcome, keep in zip(outcomes, kept, strict=True):
                if isinstance(outcome, ModerationResult):
                    save(session, outcome, requester, self.retention, keep)


def save(session: Session, result: ModerationResult, requester: Requester, retention: Retention,
         kept: Kept | None, result_id: str | None = None) -> None:
    """One decision, with what it keeps for review (`kept`, from `Engine.kept_for_review`)."""
    decisions.save(session, result, requester, retention,
                   media=kept.media if kept else None,
                   media_type=kept.media_type if kept else None, text=kept.text if kept else None,
                   thumbnail=kept.thumbnail if kept else None,
                   origin=kept.origin if kept else None, result_id=result_id)


def _model_status(moderator: Moderator | TextModerator) -> list[dict[str, object]]:
    """Each model of a moderator for `/readyz`: name, version, and its warm-up error if any."""
    return [{"name": d.model_name, "version": d.version,
             "warm_up_error": moderator.warm_up_errors.get(d.name)} for d in moderator.detectors]


async def fetch_item(url: str, settings: Settings) -> Item | ErrorResult:
    """Fetch `url` under the SSRF rules; a refused or failed fetch is the item's error result."""
    try:
        check_url(url)
        fetched = await fetch(url, settings)
    except ContentGuardError as exc:
        return error_result(url, exc)
    return Item.from_bytes(fetched.data, url)

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
from contentguard.pipeline import Item, Moderator
from contentguard.schemas import ErrorDetail, ErrorResult, Outcome
from contentguard.server.results import ResultCache
from contentguard.settings import Settings
from contentguard.text_moderation import TextModerator

log = logging.getLogger("contentguard.server")


class Engine:
    """Owns the moderator, the batcher and the recent-results cache of one app."""

    def __init__(
        self,
        settings: Settings,
        make_moderator: Callable[[], Moderator] | None = None,
        make_text_moderator: Callable[[], TextModerator] | None = None,
    ):
        self.settings = settings
        self._make = make_moderator or (lambda: Moderator(settings))
        self._make_text = make_text_moderator or (lambda: TextModerator(settings))
        self.text_moderator: TextModerator | None = None
        self.text_error: str | None = None
        self.results = ResultCache(settings.results_cache_size, settings.results_ttl_s)
        self.moderator: Moderator | None = None
        self.batcher: MicroBatcher | None = None
        self.load_error: str | None = None
        self._loaded = threading.Event()

    # --- life cycle ----------------------------------------------------------------------
    def load(self) -> None:
        """Load and warm the models (blocking; the lifespan runs it in a thread)."""
        try:
            moderator = self._make()
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
                "models": [
                    {"name": d.model_name, "version": d.version,
                     "warm_up_error": self.moderator.warm_up_errors.get(d.name)}
                    for d in self.moderator.detectors
                ],
                "policy_version": self.moderator.policy.version,
                "text": (
                    {"status": "ready", "models": [
                        {"name": d.model_name, "version": d.version,
                         "warm_up_error": self.text_moderator.warm_up_errors.get(d.name)}
                        for d in self.text_moderator.detectors]}
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

    # --- moderation --------------------------------------------------------------------
    async def moderate_texts(self, texts: list[tuple[str, str]]) -> list[Outcome]:
        """Texts in one batched call, off the event loop; results kept for `/v1/results/{id}`."""
        moderator = self.require_text()
        outcomes = await asyncio.to_thread(moderator.moderate_many, texts)
        for outcome in outcomes:
            record(outcome)
            self.results.put(outcome)
        return outcomes

    async def moderate(self, item: Item) -> Outcome:
        """One item through the micro-batcher; the result is kept for `/v1/results/{id}`."""
        future = self.require_ready().submit(item)
        outcome = await asyncio.wrap_future(future)
        self.results.put(outcome)
        return outcome

    async def moderate_all(self, items: list[Item | ErrorResult]) -> list[Outcome]:
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
            outcome = f if isinstance(f, ErrorResult) else await f
            self.results.put(outcome)
            outcomes.append(outcome)
        return outcomes


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

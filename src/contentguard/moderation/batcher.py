"""Micro-batching across concurrent callers: items prepared on their own are moderated together.

One batcher fronts one two-stage moderator: the image `Moderator` or the `TextModerator`.
Each caller's item is prepared (decoded and pre-processed, or chunked and normalised) on the
moderator's own thread pool as soon as it arrives; the prepared items then wait at most
`max_wait_ms` for others, and the batcher's own thread runs the models over up to `max_batch`
of them at a time. While a batch runs, the next one fills up, so under load batches grow by
themselves and the wait costs nothing. At most `max_queue` items are admitted at once; past
that `submit` raises `Overloaded` (HTTP 429). No model work runs on any other thread, so the
threads that store results and answer health checks never wait behind it.

Each caller gets back its outcome together with what stage 1 made of its item (`Done`): the
image moderator's keeps the bytes it read and the first decoded frame, which the service stores
with an item sent to review instead of reading and decoding it again.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from prometheus_client import Gauge

from contentguard import metrics
from contentguard.errors import Overloaded
from contentguard.schemas import ErrorResult, ModerationResult, Outcome

log = logging.getLogger("contentguard.moderation.batcher")

_STOP = object()
ItemT = TypeVar("ItemT", contravariant=True)
T = TypeVar("T")


class TwoStage(Protocol[ItemT]):
    """What a batcher needs of a moderator (both `Moderator` and `TextModerator` are one)."""

    def prepare_async(self, item: ItemT) -> Future[Any]: ...

    def finish(self, prepared: Sequence[Any]) -> list[Outcome]: ...


@dataclass(frozen=True)
class Done:
    """One item's outcome, and what the moderator's stage 1 made of it (`Moderator.prepare`'s
    `PreparedItem`, `TextModerator.prepare`'s `PreparedText`)."""

    outcome: Outcome
    prepared: Any


def record(outcome: Outcome) -> None:
    """Count an outcome in the decision / error metrics."""
    if isinstance(outcome, ModerationResult):
        metrics.DECISIONS.labels(outcome.decision, outcome.label).inc()
    elif isinstance(outcome, ErrorResult):
        metrics.ITEM_ERRORS.labels(outcome.error.code).inc()


class MicroBatcher(Generic[T]):
    """Thread-safe front of a two-stage moderator for many concurrent callers (see module
    docstring)."""

    def __init__(self, moderator: TwoStage[T], max_batch: int, max_wait_ms: float, max_queue: int,
                 *, name: str = "cg-batcher", depth: Gauge = metrics.QUEUE_DEPTH):
        self.moderator = moderator
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self._depth = depth
        self._queue: queue.Queue[object] = queue.Queue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    # --- callers -----------------------------------------------------------------------
    def submit(self, item: T) -> Future[Done]:
        """Queue one item; the future resolves to its `Done` (never to an exception)."""
        (result,) = self.submit_all([item])
        return result

    def submit_all(self, items: Sequence[T]) -> list[Future[Done]]:
        """Queue all of `items` or none: `Overloaded` when they would take the queue over
        `max_queue` (one request is admitted whole or refused whole)."""
        with self._lock:
            if self._pending + len(items) > self.max_queue:
                what = (f"{self._pending} items are already waiting for the models" if len(items) == 1
                        else f"{len(items)} items would join {self._pending} already waiting for the models")
                raise Overloaded(f"{what} (max_queue {self.max_queue}); retry shortly")
            self._pending += len(items)
            self._depth.set(self._pending)
        return [self._start(item) for item in items]

    def _start(self, item: T) -> Future[Done]:
        result: Future[Done] = Future()
        prepared = self.moderator.prepare_async(item)
        prepared.add_done_callback(lambda f: self._queue.put((f, result)))
        return result

    @property
    def pending(self) -> int:
        return self._pending

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=30)

    # --- the model thread ----------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            deadline = time.monotonic() + self.max_wait
            stop = False
            while len(batch) < self.max_batch:
                try:
                    nxt = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            self._run(batch)  # type: ignore[arg-type]
            if stop:
                return

    def _run(self, batch: list[tuple[Future[Any], Future[Done]]]) -> None:
        try:
            prepared = [stage1.result() for stage1, _ in batch]
            outcomes = self.moderator.finish(prepared)
        except Exception as exc:  # a bug in stage 2: fail these callers, keep serving
            log.exception("model stage failed on a batch of %d", len(batch))
            for _, result in batch:
                result.set_exception(exc)
        else:
            for (_, result), outcome, item in zip(batch, outcomes, prepared, strict=True):
                record(outcome)
                result.set_result(Done(outcome, item))
        finally:
            with self._lock:
                self._pending -= len(batch)
                self._depth.set(self._pending)

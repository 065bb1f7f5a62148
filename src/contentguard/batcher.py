"""Micro-batching across concurrent callers: items prepared on their own are moderated together.

Each caller's item is decoded and pre-processed on the moderator's thread pool as soon as it
arrives; the prepared items then wait at most `microbatch_wait_ms` for others, and one thread
runs the models over up to `microbatch_size` of them at a time. While a batch runs, the next
one fills up, so under load batches grow by themselves and the wait costs nothing.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from concurrent.futures import Future

from contentguard import metrics
from contentguard.errors import Overloaded
from contentguard.pipeline import Item, Moderator, PreparedItem
from contentguard.schemas import ErrorResult, ModerationResult, Outcome

log = logging.getLogger("contentguard.batcher")

_STOP = object()


def record(outcome: Outcome) -> None:
    """Count an outcome in the decision / error metrics."""
    if isinstance(outcome, ModerationResult):
        metrics.DECISIONS.labels(outcome.decision, outcome.label).inc()
    elif isinstance(outcome, ErrorResult):
        metrics.ITEM_ERRORS.labels(outcome.error.code).inc()


class MicroBatcher:
    """Thread-safe front of a Moderator for many concurrent callers (see module docstring)."""

    def __init__(self, moderator: Moderator, max_batch: int, max_wait_ms: float, max_queue: int):
        self.moderator = moderator
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self._queue: queue.Queue[object] = queue.Queue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="cg-batcher", daemon=True)
        self._thread.start()

    # --- callers -----------------------------------------------------------------------
    def submit(self, item: Item) -> Future[Outcome]:
        """Queue one item; the future resolves to its outcome (never to an exception)."""
        with self._lock:
            if self._pending >= self.max_queue:
                raise Overloaded(
                    f"{self._pending} items are already waiting for the models "
                    f"(max_queue {self.max_queue}); retry shortly"
                )
            self._pending += 1
            metrics.QUEUE_DEPTH.set(self._pending)
        result: Future[Outcome] = Future()
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

    def _run(self, batch: list[tuple[Future[PreparedItem], Future[Outcome]]]) -> None:
        try:
            outcomes = self.moderator.finish([prepared.result() for prepared, _ in batch])
        except Exception as exc:  # a bug in stage 2: fail these callers, keep serving
            log.exception("model stage failed on a batch of %d", len(batch))
            for _, result in batch:
                result.set_exception(exc)
        else:
            for (_, result), outcome in zip(batch, outcomes, strict=True):
                record(outcome)
                result.set_result(outcome)
        finally:
            with self._lock:
                self._pending -= len(batch)
                metrics.QUEUE_DEPTH.set(self._pending)

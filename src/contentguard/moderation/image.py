"""The moderation pipeline: bytes in, a result (or an error object) out.

Reading, hashing, decoding and pre-processing run in a thread pool; the model runs are
batched across items on the calling thread (ONNX Runtime uses its own threads inside a run).
Still images go through in batches; an animation's sampled frames are moderated in order and
the walk stops at the first frame that is blocked.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from contentguard import metrics
from contentguard.detectors import registry
from contentguard.detectors.base import ImageDetector, Prepared, Signals, warm_up_all
from contentguard.errors import ContentGuardError
from contentguard.media import DecodedMedia, Frame, decode
from contentguard.media.thumbnail import thumbnail
from contentguard.moderation import assemble
from contentguard.moderation.base import BaseModerator
from contentguard.moderation.policy import ActivePolicy, Policy, three_way_label
from contentguard.schemas import Detection, ModelRun, ModerationResult, Outcome
from contentguard.settings import Settings

CLASSIFIER = "nsfw-classifier"
log = logging.getLogger("contentguard.moderation.image")


@dataclass(frozen=True)
class Item:
    """One thing to moderate: a name for the result and how to get its bytes."""

    source: str
    load: Callable[[], bytes]

    @classmethod
    def from_bytes(cls, data: bytes, source: str) -> Item:
        return cls(source, lambda: data)


@dataclass(frozen=True)
class Read:
    """What stage 1 read of an item: its bytes, the media type sniffed from them, and its first
    frame as the hardened decoder made it. Handed back with the outcome (`PreparedItem.read`),
    so keeping the item for review reads and decodes nothing a second time."""

    data: bytes
    media_type: str
    first_frame: Frame


@dataclass(frozen=True)
class Skipped:
    """An item left out because its content id was in the caller's `skip_ids`."""

    source: str
    id: str


@dataclass
class _Job:
    """An item after the thread-pool stage: decoded and pre-processed, or failed."""

    item: Item
    started: float
    id: str = ""
    media: DecodedMedia | None = None
    frame: Frame | None = None
    prepared: dict[str, Prepared] = field(default_factory=dict)
    prep_ms: dict[str, float] = field(default_factory=dict)
    error: ContentGuardError | None = None
    skipped: bool = False
    cpu_ms: float = 0.0  # read + hash + decode + pre-process time of this item
    read: Read | None = None  # kept by `prepare` only, once stage 1 succeeded


# What `Moderator.prepare` hands to `Moderator.finish`; opaque to callers but for `read`.
PreparedItem = _Job


@dataclass
class _FrameOutcome:
    signals: dict[str, Signals] = field(default_factory=dict)
    runs: dict[str, ModelRun] = field(default_factory=dict)


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


class Moderator(BaseModerator):
    """Moderates images and animations with the configured detectors and policy."""

    def __init__(
        self,
        settings: Settings,
        policy: Policy | None = None,
        detectors: Sequence[ImageDetector] | None = None,
    ) -> None:
        self.settings = settings
        # Its own until the service shares one with the other moderator (`PolicyHolder`).
        self.active_policy = ActivePolicy(policy or Policy.configured(settings))
        if detectors is None:
            detectors = registry.create_for_kind(  # type: ignore[assignment]
                "image", self.policy.detectors, settings)
        # Detectors the cascade may skip run last, once the others' scores are known.
        skippable = set(self.policy.cascade.skip) if self.policy.cascade.enabled else set()
        self.detectors: list[ImageDetector] = sorted(
            detectors, key=lambda d: d.name in skippable  # type: ignore[arg-type]
        )
        self._lazy = {d.name for d in self.detectors if d.name in skippable}
        self.warm_up_errors = warm_up_all(self.detectors, log)
        self.reduce_to = self._reduce_to()
        workers = settings.workers or (os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cg-prep")

    def _reduce_to(self) -> int | None:
        """Shorter side a large JPEG may be decoded down to (fast path; docs/media.md)."""
        if not self.settings.jpeg_fast_path:
            return None
        sizes = [getattr(d, "input_size", 0) for d in self.detectors]
        return self.settings.jpeg_fast_path_factor * max(sizes, default=0) or None

    # --- public API --------------------------------------------------------------------
    def moderate(self, data: bytes, source: str = "<bytes>") -> Outcome:
        outcome = next(self.moderate_many([Item.from_bytes(data, source)]))
        assert not isinstance(outcome, Skipped)
        return outcome

    def moderate_many(
        self, items: Iterable[Item], *, skip_ids: set[str] | frozenset[str] = frozenset()
    ) -> Iterator[Outcome | Skipped]:
        """Outcomes in input order; a failing item yields an ErrorResult, never an exception.

        Items whose content id is in `skip_ids` are only read and hashed, and yield `Skipped`.
        """
        window = self.settings.batch_size
        iterator = iter(items)
        pending: list[Future[_Job]] = []

        def fill() -> None:
            while len(pending) < 2 * window:
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                pending.append(self._pool.submit(self._prepare, item, skip_ids))

        fill()
        while pending:
            # Adaptive batch: the next item, plus those after it that are already prepared,
            # so the models never wait for a whole window to be decoded.
            count = 1
            pending[0].result()
            while count < min(window, len(pending)) and pending[count].done():
                count += 1
            jobs = [f.result() for f in pending[:count]]
            del pending[:count]
            fill()  # keep the pool busy while the models run
            yield from self._finish(jobs)

    def prepare(self, item: Item) -> PreparedItem:
        """Stage 1 alone (read, hash, decode, pre-process), for callers that batch stage 2
        themselves across requests (the HTTP service's micro-batcher). The result keeps what
        was read (`.read`) for after stage 2."""
        return self._prepare(item, keep_read=True)

    def prepare_async(self, item: Item) -> Future[PreparedItem]:
        """`prepare` on the moderator's own thread pool, so decoding never oversubscribes."""
        return self._pool.submit(self.prepare, item)

    def thumbnail_async(self, read: Read) -> Future[bytes]:
        """A JPEG thumbnail of the item's first frame for the review queue, made on the
        decoding pool (so image work never occupies the threads that store results)."""
        return self._pool.submit(thumbnail, read.first_frame)

    def finish(self, prepared: Sequence[PreparedItem]) -> list[Outcome]:
        """Stage 2 alone: one batched model run per detector over `prepared`, in order. The
        detectors' inputs are let go once they ran; what was read stays (`.read`)."""
        jobs = list(prepared)
        outcomes = list(self._finish(jobs))
        for job in jobs:
            job.prepared.clear()
        assert not any(isinstance(o, Skipped) for o in outcomes)
        return outcomes  # type: ignore[return-value]

    # --- stage 1: thread pool ----------------------------------------------------------
    def _prepare(self, item: Item, skip_ids: set[str] | frozenset[str] = frozenset(),
                 *, keep_read: bool = False) -> _Job:
        job = _Job(item=item, started=time.perf_counter())
        try:
            data = item.load()
            job.id = hashlib.sha256(data).hexdigest()
            if job.id in skip_ids:
                job.skipped = True
                return job
            job.media = decode(data, self.settings, reduce_to=self.reduce_to)
            if not job.media.animated:
                job.frame = next(job.media.frames())
                for det in self.detectors:
                    if det.name not in self._lazy:
                        self._preprocess(job, det)
            if keep_read:  # (`moderate_many` does not: a folder scan must not hold the bytes)
                assert job.media.first_frame is not None
                job.read = Read(data, job.media.media_type, job.media.first_frame)
        except ContentGuardError as exc:
            job.error = exc
        except Exception as exc:  # a bug or an unforeseen decoder failure: report, don't crash
            job.error = ContentGuardError(f"unexpected {exc.__class__.__name__}: {exc}")
        job.cpu_ms = _ms(time.perf_counter() - job.started)
        return job

    @staticmethod
    def _preprocess(job: _Job, det: ImageDetector) -> None:
        assert job.frame is not None
        t = time.perf_counter()
        job.prepared[det.name] = det.preprocess(job.frame)
        job.prep_ms[det.name] = _ms(time.perf_counter() - t)

    # --- stage 2: batched model runs ---------------------------------------------------
    def _finish(self, jobs: list[_Job]) -> Iterator[Outcome | Skipped]:
        stills = [j for j in jobs if j.error is None and j.frame is not None]
        frame_outcomes = dict(zip(map(id, stills), self._run_stills(stills), strict=True))
        for job in jobs:
            if job.skipped:
                yield Skipped(job.item.source, job.id)
            elif job.error is not None:
                yield assemble.error_result(job.item.source, job.error, job.started)
            elif job.frame is not None:
                yield self._result(job, [(job.frame, frame_outcomes[id(job)])])
            else:
                yield self._moderate_animation(job)

    def _run_stills(self, jobs: list[_Job]) -> list[_FrameOutcome]:
        outcomes = [_FrameOutcome() for _ in jobs]
        for det in self.detectors:
            todo: list[int] = []
            for i, out in enumerate(outcomes):
                if self.policy.skips(det.name, self.policy.categories_for(out.signals)):
                    out.runs[det.name] = ModelRun(
                        name=det.model_name, version=det.version, status="skipped", duration_ms=0
                    )
                else:
                    todo.append(i)
            if not todo:
                continue
            lazy = [jobs[i] for i in todo if det.name not in jobs[i].prepared]
            list(self._pool.map(self._preprocess, lazy, [det] * len(lazy)))
            self._run_detector(
                det,
                [jobs[i].prepared[det.name] for i in todo],
                [jobs[i].frame for i in todo],  # type: ignore[misc]
                [outcomes[i] for i in todo],
                [jobs[i].prep_ms[det.name] for i in todo],
            )
        return outcomes

    def _run_detector(
        self,
        det: ImageDetector,
        prepared: list[Prepared],
        frames: list[Frame],
        outcomes: list[_FrameOutcome],
        prep_ms: list[float],
    ) -> None:
        t = time.perf_counter()
        try:
            signals = det.predict_prepared(prepared, frames)
        except Exception as exc:  # one model failing keeps the others' results
            share = _ms((time.perf_counter() - t) / len(frames))
            for out, p_ms in zip(outcomes, prep_ms, strict=True):
                out.runs[det.name] = ModelRun(
                    name=det.model_name, version=det.version, status="error",
                    duration_ms=round(p_ms + share, 3), error=f"{exc.__class__.__name__}: {exc}",
                )
            return
        elapsed = time.perf_counter() - t
        metrics.MODEL_RUN_SECONDS.labels(det.name).observe(elapsed)
        metrics.MODEL_BATCH_SIZE.labels(det.name).observe(len(frames))
        share = _ms(elapsed / len(frames))
        for out, sig, p_ms in zip(outcomes, signals, prep_ms, strict=True):
            out.signals[det.name] = sig
            out.runs[det.name] = ModelRun(
                name=det.model_name, version=det.version, status="ok",
                duration_ms=round(p_ms + share, 3),
            )

    def _moderate_animation(self, job: _Job) -> Outcome:
        assert job.media is not None
        looked: list[tuple[Frame, _FrameOutcome]] = []
        try:
            for frame in job.media.frames():
                frame_job = _Job(item=job.item, started=job.started, frame=frame)
                for det in self.detectors:
                    if det.name not in self._lazy:
                        self._preprocess(frame_job, det)
                (outcome,) = self._run_stills([frame_job])
                looked.append((frame, outcome))
                categories = self.policy.categories_for(outcome.signals)
                reasons = self.policy.reasons_for(categories, {})
                if self.policy.decide(reasons, model_failed=False) == "block":
                    break  # one blocked frame decides the animation
        except ContentGuardError as exc:
            if not looked:
                return assemble.error_result(job.item.source, exc, job.started)
            # Frames already looked at still count; a later undecodable frame is reported
            # by moderating what could be read.
        return self._result(job, looked)

    # --- assembling results ------------------------------------------------------------
    def _result(self, job: _Job, looked: list[tuple[Frame, _FrameOutcome]]) -> ModerationResult:
        """The item's result from the frames looked at (`assemble`), with what only images
        have: the classifier's three-way label of the decisive frame, and the detections."""
        assert job.media is not None
        judged = assemble.judge(
            self.policy,
            [out.signals for _, out in looked],
            assemble.merge_runs(out.runs for _, out in looked),
            {d.name: d.model_name for d in self.detectors},
        )
        frame, outcome = looked[judged.decisive]
        scores = outcome.signals.get(CLASSIFIER, Signals()).scores
        label, confidence = three_way_label(scores) if scores else ("neutral", 0.0)

        detections: list[Detection] = []
        for _, out in looked:
            for sig in out.signals.values():
                detections.extend(sig.detections)
        detections.sort(key=lambda d: -d.score)

        model_ms = sum(r.duration_ms for r in judged.models)
        prep_ms = sum(job.prep_ms.values())
        return judged.result(
            id=job.id,
            source=job.item.source,
            kind="image",
            media_type=job.media.media_type,
            label=label,
            confidence=confidence,
            scores={k: round(v, 6) for k, v in scores.items()},
            detections=detections,
            frames=len(looked),
            total_frames=job.media.total_frames,
            decisive_frame=frame.index if job.media.animated else None,
            width=job.media.width,
            height=job.media.height,
            duration_ms=round(job.cpu_ms - prep_ms + model_ms, 3),
        )

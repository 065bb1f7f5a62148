"""Text moderation: texts in, results on the same contract and policy as images.

A text is split into chunks of `text_chunk_words` words (the encoder reads at most 256 word
pieces), each chunk is normalised against evasion, and every text detector scores all chunks
of all texts of a call in one batch. A category's score is its highest over the chunks; the
reasons carry `evidence`, the spans of the original text that drove them.

Like the image pipeline, the work comes in two stages so the HTTP service can batch texts of
concurrent requests (`batcher.MicroBatcher`): `prepare` (check, chunk, normalise; on the
moderator's own thread pool with `prepare_async`) and `finish` (the model runs, policy and
evidence, over many prepared texts at once).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from contentguard import metrics
from contentguard.detectors import registry
from contentguard.detectors.base import Signals, TextDetector, warm_up_all
from contentguard.errors import ContentGuardError, TooLarge
from contentguard.media.text import Normalized, normalize
from contentguard.moderation import assemble
from contentguard.moderation.base import BaseModerator
from contentguard.moderation.policy import ActivePolicy, Policy
from contentguard.schemas import Evidence, Label, ModelRun, Outcome, Reason
from contentguard.settings import Settings

log = logging.getLogger("contentguard.text")
_WORD = re.compile(r"\S+")
#: label of a text: its strongest category at or over this score, else neutral
LABEL_MIN = 0.5
TEXT_LABELS: tuple[Label, ...] = ("hate", "offensive", "profanity", "spam")
TextItem = tuple[str, str]  # (source, text)


@dataclass
class _Chunk:
    offset: int  # where the chunk starts in the original text
    norm: Normalized
    signals: dict[str, Signals] = field(default_factory=dict)


@dataclass
class _Text:
    source: str
    text: str
    started: float
    chunks: list[_Chunk] = field(default_factory=list)
    error: ContentGuardError | None = None


PreparedText = _Text  # what `TextModerator.prepare` hands to `TextModerator.finish`; opaque


def chunk_spans(text: str, words: int) -> list[tuple[int, int]]:
    """[start, end) spans of `text` holding at most `words` words each (whitespace kept inside)."""
    bounds = [m.span() for m in _WORD.finditer(text)]
    if not bounds:
        return [(0, len(text))]
    return [
        (bounds[i][0], bounds[min(i + words, len(bounds)) - 1][1]) for i in range(0, len(bounds), words)
    ]


class TextModerator(BaseModerator):
    """Moderates texts with the policy's text detectors (those whose `kinds` include text)."""

    def __init__(
        self,
        settings: Settings,
        policy: Policy | None = None,
        detectors: Sequence[TextDetector] | None = None,
    ) -> None:
        self.settings = settings
        # Its own until the service shares one with the other moderator (`PolicyHolder`).
        self.active_policy = ActivePolicy(policy or Policy.configured(settings))
        if detectors is None:
            detectors = registry.create_for_kind(  # type: ignore[assignment]
                "text", self.policy.detectors, settings)
        self.detectors: list[TextDetector] = list(detectors)  # type: ignore[arg-type]
        self.warm_up_errors = warm_up_all(self.detectors, log)
        workers = settings.text_workers or (os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cg-text-prep")

    # --- public API --------------------------------------------------------------------
    def moderate(self, text: str, source: str = "<text>") -> Outcome:
        return self.moderate_many([(source, text)])[0]

    def moderate_many(self, texts: Sequence[TextItem]) -> list[Outcome]:
        """(source, text) pairs → outcomes in order; one model run per detector per call."""
        return self.finish([self.prepare(item) for item in texts])

    def prepare(self, item: TextItem) -> PreparedText:
        """Stage 1 alone (length check, chunks, normalisation), on the calling thread."""
        source, text = item
        return self._prepare(source, text)

    def prepare_async(self, item: TextItem) -> Future[PreparedText]:
        """`prepare` on the moderator's own thread pool (`text_workers`), never a shared one."""
        return self._pool.submit(self.prepare, item)

    def finish(self, prepared: Sequence[PreparedText]) -> list[Outcome]:
        """Stage 2 alone: one model run per detector over every chunk of `prepared`, in order."""
        chunks = [c for item in prepared for c in item.chunks]
        runs = self._run(chunks)
        return [self._outcome(item, runs) for item in prepared]

    # --- stages --------------------------------------------------------------------------
    def _prepare(self, source: str, text: str) -> _Text:
        item = _Text(source, text, time.perf_counter())
        if len(text) > self.settings.max_text_chars:
            item.error = TooLarge(
                f"text of {len(text)} characters is over the limit of {self.settings.max_text_chars}"
            )
            return item
        words = self.settings.text_chunk_words
        item.chunks = [_Chunk(lo, normalize(text[lo:hi])) for lo, hi in chunk_spans(text, words)]
        return item

    def _run(self, chunks: list[_Chunk]) -> dict[str, ModelRun]:
        """Each detector over every chunk; returns per detector the run of one chunk (its
        status, its share of the batch's time, the error)."""
        runs: dict[str, ModelRun] = {}
        if not chunks:
            return runs
        for det in self.detectors:
            t = time.perf_counter()
            try:
                signals = det.predict([c.norm for c in chunks])
            except Exception as exc:  # one model failing keeps the others' results
                log.exception("text detector %s failed", det.name)
                share = (time.perf_counter() - t) * 1000 / len(chunks)
                runs[det.name] = ModelRun(name=det.model_name, version=det.version, status="error",
                                          duration_ms=share, error=f"{exc.__class__.__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - t
            metrics.MODEL_RUN_SECONDS.labels(det.name).observe(elapsed)
            metrics.MODEL_BATCH_SIZE.labels(det.name).observe(len(chunks))
            for chunk, sig in zip(chunks, signals, strict=True):
                chunk.signals[det.name] = sig
            runs[det.name] = ModelRun(name=det.model_name, version=det.version, status="ok",
                                      duration_ms=elapsed * 1000 / len(chunks))
        return runs

    def _outcome(self, item: _Text, runs: dict[str, ModelRun]) -> Outcome:
        """The text's result from its chunks (`assemble`), with what only texts have: the
        evidence of each reason, the label of the strongest text category."""
        if item.error is not None:
            return assemble.error_result(item.source, item.error, item.started)
        n = len(item.chunks)
        judged = assemble.judge(
            self.policy,
            [c.signals for c in item.chunks],
            assemble.merge_runs([runs] * n),  # every chunk took its share of each batched run
            {d.name: d.model_name for d in self.detectors},
        )
        judged = replace(judged, reasons=[self._with_evidence(r, item, judged.where) for r in judged.reasons])
        scores: dict[str, float] = {}
        for sig in item.chunks[judged.decisive].signals.values():
            scores.update({k: round(v, 6) for k, v in sig.scores.items()})
        label, confidence = text_label(judged.categories)
        return judged.result(
            id=hashlib.sha256(item.text.encode("utf-8")).hexdigest(),
            source=item.source,
            kind="text",
            media_type="text/plain",
            label=label,
            confidence=confidence,
            scores=scores,
            detections=[],
            frames=n,
            total_frames=n,
            decisive_frame=judged.decisive if n > 1 else None,
            duration_ms=assemble.elapsed_ms(item.started),
        )

    def _with_evidence(self, reason: Reason, item: _Text, where: dict[str, int]) -> Reason:
        """The reason with the spans of the original text that drove its category."""
        rule = self.policy.categories[reason.category]
        det = next((d for d in self.detectors if d.name == rule.detector), None)
        if det is None:
            return reason
        chunk = item.chunks[where[reason.category]]
        try:
            found = det.evidence(chunk.norm, rule.sum or rule.max or [])
        except Exception:  # evidence is an explanation; never lose the result over it
            log.exception("evidence from %s failed", det.name)
            return reason
        shifted = [
            Evidence(text=e.text, start=e.start + chunk.offset, end=e.end + chunk.offset, weight=e.weight)
            for e in found
        ]
        return reason.model_copy(update={"evidence": shifted})


def text_label(categories: dict[str, float]) -> tuple[Label, float]:
    """The strongest text category at or over LABEL_MIN, else neutral (with 1 − that score)."""
    present = {k: v for k, v in categories.items() if k in TEXT_LABELS}
    if not present:
        return "neutral", 1.0
    name = max(present, key=present.__getitem__)
    if present[name] >= LABEL_MIN:
        return name, round(present[name], 6)  # type: ignore[return-value]
    return "neutral", round(1.0 - present[name], 6)

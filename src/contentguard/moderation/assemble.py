"""One result and error assembler for every kind of media.

A moderator scores an item in parts (an image's frames, a text's chunks) and hands them here:
each category's peak over the parts, the policy's reasons and decision, the decisive part, the
model runs merged over the parts, and the contract's `ModerationResult` from those. What only
one kind knows stays with its moderator: the image's three-way label and detections, the
text's evidence spans. Every error object of the contract, whichever layer met the error, is
built by `error_result`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contentguard.detectors.base import Signals
from contentguard.errors import ContentGuardError, contract_code
from contentguard.moderation.policy import Policy
from contentguard.schemas import Decision, ErrorDetail, ErrorResult, ModelRun, ModerationResult, Reason


def elapsed_ms(started: float) -> float:
    """Milliseconds since `started` (a `time.perf_counter()` value), as results report them."""
    return round((time.perf_counter() - started) * 1000, 3)


def peak_categories(parts: Sequence[Mapping[str, float]]) -> tuple[dict[str, float], dict[str, int]]:
    """An item's categories from its parts (frames, text chunks): each category's highest score,
    and the index of the part where it peaked (the first, on ties)."""
    categories: dict[str, float] = {}
    where: dict[str, int] = {}
    for pos, cats in enumerate(parts):
        for name, score in cats.items():
            if name not in categories or score > categories[name]:
                categories[name], where[name] = score, pos
    return categories, where


def merge_runs(parts: Iterable[Mapping[str, ModelRun]]) -> list[ModelRun]:
    """One run per model over an item's parts: an error in any part is the item's error (the
    first message kept), else ok if the model ran on any part, else skipped; durations add up."""
    merged: dict[str, list[ModelRun]] = {}
    for runs in parts:
        for name, run in runs.items():
            merged.setdefault(name, []).append(run)
    out = []
    for runs in merged.values():
        statuses = {r.status for r in runs}
        status = "error" if "error" in statuses else "ok" if "ok" in statuses else "skipped"
        out.append(runs[0].model_copy(update={
            "status": status,
            "duration_ms": round(sum(r.duration_ms for r in runs), 3),
            "error": next((r.error for r in runs if r.error), None),
        }))
    return out


@dataclass(frozen=True)
class Judgement:
    """What the policy makes of an item's parts; `result` adds what the moderator knows."""

    categories: dict[str, float]
    where: dict[str, int]  # category → index of the part where it peaked
    reasons: list[Reason]
    decision: Decision
    decisive: int  # index of the part that decided
    models: list[ModelRun]
    policy_version: str

    def result(self, **item: Any) -> ModerationResult:
        """The contract's result: this judgement plus the item's own fields (id, source, kind,
        media type, label, scores, detections, frames, sizes, duration)."""
        return ModerationResult(
            decision=self.decision,
            categories=self.categories,
            reasons=self.reasons,
            models=self.models,
            policy_version=self.policy_version,
            **item,
        )


def judge(
    policy: Policy,
    parts: Sequence[Mapping[str, Signals]],
    models: list[ModelRun],
    model_of: Mapping[str, str],
) -> Judgement:
    """The policy over an item's parts (each part's signals by detector): categories at their
    peak, reasons, the decision (at least `on_model_error` when one of `models` failed) and
    the decisive part: where the most severe reason's category peaked, else the part with the
    highest category score. `model_of` names each detector's model in the reasons."""
    per_part = [policy.categories_for(signals) for signals in parts]
    categories, where = peak_categories(per_part)
    reasons = policy.reasons_for(categories, model_of)
    failed = any(run.status == "error" for run in models)
    if reasons:
        decisive = where[reasons[0].category]
    else:
        decisive = max(range(len(per_part)), key=lambda p: max(per_part[p].values(), default=0.0))
    return Judgement(
        categories=categories,
        where=where,
        reasons=reasons,
        decision=policy.decide(reasons, model_failed=failed),
        decisive=decisive,
        models=models,
        policy_version=policy.version,
    )


def error_result(source: str | None, exc: ContentGuardError, started: float | None = None) -> ErrorResult:
    """The contract's error object for `exc`, wherever it was met (a moderator, a URL fetch, a
    job); a code outside the contract (a plugin's own error) is `internal_error`. With
    `started`, the item's duration until the error."""
    return ErrorResult(
        source=source,
        error=ErrorDetail(
            code=contract_code(exc.code),  # type: ignore[arg-type]
            message=exc.message,
            upstream_status=exc.details.get("upstream_status"),  # type: ignore[arg-type]
        ),
        duration_ms=None if started is None else elapsed_ms(started),
    )

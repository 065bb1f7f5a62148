"""The public result contract: the CLI's `--json`, the HTTP API and the workers emit these objects.

Field names follow DESIGN.md exactly; see docs/result-contract.md for each field's meaning.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contentguard.errors import CODES

Decision = Literal["allow", "review", "block"]
# Images: the three-way answer; texts: the strongest text category, or neutral.
Label = Literal["explicit", "suggestive", "neutral", "hate", "offensive", "profanity", "spam"]
Kind = Literal["image", "text", "video"]
ModelStatus = Literal["ok", "error", "skipped"]

# The codes of `errors.CODES`, the one table of them (with each one's HTTP status and meaning).
ErrorCode = Literal[tuple(CODES)]  # type: ignore[valid-type]


class Detection(BaseModel):
    """A region a detector found; `box` is [x, y, w, h] in the original image's pixels."""

    model_config = ConfigDict(frozen=True)

    label: str
    score: float = Field(ge=0, le=1)
    box: list[int] = Field(min_length=4, max_length=4)
    frame: int | None = Field(None, description="Animation frame index the region is on.")


class Evidence(BaseModel):
    """A span of the original text that drove a text score: [start, end) in characters."""

    model_config = ConfigDict(frozen=True)

    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    weight: float = Field(description="How much this span moved the score (model-specific scale).")


class Reason(BaseModel):
    """Why the decision is what it is: a category over a threshold of the policy."""

    category: str
    score: float
    threshold: float
    action: Decision
    model: str
    note: str | None = Field(None, description="Why the action differs from the threshold's.")
    evidence: list[Evidence] | None = Field(
        None, description="Texts: the words or spans that drove the score, strongest first."
    )


class ModelRun(BaseModel):
    name: str
    version: str
    status: ModelStatus
    duration_ms: float
    error: str | None = None


class HumanVerdict(BaseModel):
    """A moderator's final verdict on a stored decision (it overrides the machine's)."""

    verdict: Literal["approve", "reject"]
    decision: Decision = Field(description="approve → allow, reject → block.")
    reason_category: str | None = None
    note: str | None = None
    reviewer: str | None = None
    at: datetime
    appeal: bool = Field(False, description="The verdict answered an appeal.")


class ModerationResult(BaseModel):
    id: str = Field(description="sha256 of the content bytes")
    result_id: str | None = Field(
        None, description="Id of the stored decision (32 hex); `GET /v1/results/{result_id}`."
    )
    source: str
    kind: Kind
    media_type: str
    decision: Decision
    label: Label
    confidence: float = Field(ge=0, le=1)
    scores: dict[str, float]
    categories: dict[str, float]
    detections: list[Detection]
    reasons: list[Reason]
    frames: int = Field(description="Frames looked at (1 for a still image; chunks for a text).")
    total_frames: int = Field(1, description="Frames in the file.")
    decisive_frame: int | None = Field(
        None, description="Index of the frame whose scores decided (animations)."
    )
    width: int | None = Field(None, description="Image width in pixels (null for text).")
    height: int | None = Field(None, description="Image height in pixels (null for text).")
    models: list[ModelRun]
    policy_version: str
    duration_ms: float
    machine_decision: Decision | None = Field(
        None, description="Set when a human verdict overrode the machine: its decision."
    )
    review: HumanVerdict | None = Field(None, description="The final human verdict, if any.")


class ErrorDetail(BaseModel):
    code: ErrorCode
    message: str
    upstream_status: int | None = Field(
        None, description="fetch_failed: the HTTP status the remote server answered with."
    )


class ErrorResult(BaseModel):
    """An item that could not be moderated; the HTTP service's request errors share this shape
    (with `source` null when no item is involved)."""

    source: str | None
    error: ErrorDetail
    duration_ms: float | None = None


Outcome = ModerationResult | ErrorResult

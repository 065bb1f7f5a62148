"""Policy: turns detector signals into categories, a decision and the reasons for it.

A policy is data (YAML, validated here), versioned; every result names the version that
produced it. See docs/policy.md for the file format.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contentguard.detectors.base import Signals
from contentguard.errors import InvalidPolicy
from contentguard.schemas import Decision, Label, Reason
from contentguard.settings import Settings

SEVERITY: dict[str, int] = {"allow": 0, "review": 1, "block": 2}


class CategoryRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = ""
    detector: str
    sum: list[str] | None = Field(None, description="Sum of these class scores.")
    max: list[str] | None = Field(None, description="Highest score among these labels.")
    review: float | None = Field(None, ge=0, le=1)
    block: float | None = Field(None, ge=0, le=1)
    confirm_with: list[str] | None = Field(
        None,
        description="A block needs one of these categories to reach `confirm_min` too; "
        "otherwise the models disagree and the item goes to review.",
    )
    confirm_min: float = Field(0.2, ge=0, le=1)

    @model_validator(mode="after")
    def _one_source(self) -> CategoryRule:
        if (self.sum is None) == (self.max is None):
            raise ValueError("give exactly one of `sum` or `max`")
        if self.review is not None and self.block is not None and self.review > self.block:
            raise ValueError("`review` threshold must not exceed `block`")
        return self

    def score(self, signals: Signals) -> float:
        if self.sum is not None:
            return min(1.0, sum(signals.scores.get(name, 0.0) for name in self.sum))
        assert self.max is not None
        return max((signals.scores.get(name, 0.0) for name in self.max), default=0.0)

    def action(self, score: float) -> Decision:
        if self.block is not None and score >= self.block:
            return "block"
        if self.review is not None and score >= self.review:
            return "review"
        return "allow"


class Cascade(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    skip: list[str] = Field(default_factory=lambda: ["nudity-detector"])
    safe_below: float = Field(0.1, ge=0, le=1)


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    categories: dict[str, CategoryRule]
    on_model_error: Literal["allow", "review", "block"] = "review"
    cascade: Cascade = Field(default_factory=Cascade)

    @model_validator(mode="after")
    def _confirming_categories_exist(self) -> Policy:
        for name, rule in self.categories.items():
            unknown = set(rule.confirm_with or ()) - set(self.categories)
            if unknown:
                raise ValueError(f"{name}.confirm_with names unknown categories {sorted(unknown)}")
        return self

    # --- loading ---------------------------------------------------------------------------
    @classmethod
    def default(cls) -> Policy:
        text = resources.files("contentguard.moderation.policies").joinpath("default.yaml").read_text()
        return cls.from_yaml(text, origin="built-in default policy")

    @classmethod
    def configured(cls, settings: Settings) -> Policy:
        """The policy file of the settings, else the built-in default."""
        return cls.from_file(settings.policy_file) if settings.policy_file else cls.default()

    @classmethod
    def from_file(cls, path: Path) -> Policy:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidPolicy(f"cannot read policy file {path}: {exc.strerror or exc}") from exc
        return cls.from_yaml(text, origin=str(path), fallback_name=Path(path).stem)

    @classmethod
    def from_yaml(cls, text: str, *, origin: str, fallback_name: str = "policy") -> Policy:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidPolicy(f"{origin} is not valid YAML: {exc}") from exc
        if not isinstance(data, Mapping):
            raise InvalidPolicy(f"{origin} must be a mapping with `categories`")
        data = dict(data)
        # An unversioned file is named after its content, so two different files never share
        # a version string.
        data.setdefault(
            "version", f"{fallback_name}@{hashlib.sha256(text.encode()).hexdigest()[:12]}"
        )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise InvalidPolicy(f"{origin}: {problems}") from exc

    @property
    def detectors(self) -> list[str]:
        """The detectors the categories rely on, each once, in the order they are named."""
        return list(dict.fromkeys(rule.detector for rule in self.categories.values()))

    # --- evaluation ------------------------------------------------------------------------
    def categories_for(self, signals: Mapping[str, Signals]) -> dict[str, float]:
        """Category scores from the signals of the detectors that ran (others are absent)."""
        return {
            name: round(rule.score(signals[rule.detector]), 6)
            for name, rule in self.categories.items()
            if rule.detector in signals
        }

    def reasons_for(self, categories: Mapping[str, float], model_of: Mapping[str, str]) -> list[Reason]:
        """Every category over a threshold, most severe first."""
        reasons: list[Reason] = []
        for name, score in categories.items():
            rule = self.categories[name]
            action = rule.action(score)
            if action == "allow":
                continue
            threshold = rule.block if action == "block" else rule.review
            assert threshold is not None
            note = None
            confirming = [categories[c] for c in rule.confirm_with or () if c in categories]
            if action == "block" and confirming and max(confirming) < rule.confirm_min:
                action = "review"
                note = (
                    f"block needs {' or '.join(rule.confirm_with or ())} >= {rule.confirm_min} "
                    f"(highest {max(confirming):.3f}); the models disagree, so a person decides"
                )
            reasons.append(
                Reason(
                    category=name,
                    score=score,
                    threshold=threshold,
                    action=action,
                    model=model_of.get(rule.detector, rule.detector),
                    note=note,
                )
            )
        reasons.sort(key=lambda r: (-SEVERITY[r.action], -r.score))
        return reasons

    def decide(self, reasons: list[Reason], *, model_failed: bool) -> Decision:
        decision: Decision = max(
            (r.action for r in reasons), key=SEVERITY.__getitem__, default="allow"
        )
        if model_failed and SEVERITY[self.on_model_error] > SEVERITY[decision]:
            decision = self.on_model_error
        return decision

    def skips(self, detector: str, categories: Mapping[str, float]) -> bool:
        """Whether the cascade lets `detector` be skipped given the categories so far."""
        cascade = self.cascade
        if not cascade.enabled or detector not in cascade.skip or not categories:
            return False
        return all(score < cascade.safe_below for score in categories.values())


class ActivePolicy:
    """The policy in force, in one shared place: the service hands one to both its moderators
    (service/policy_holder.py), which read `current` for every item, so images and texts never
    run different versions. A policy is swapped whole (one reference), never edited."""

    __slots__ = ("_policy",)

    def __init__(self, policy: Policy) -> None:
        self._policy = policy

    @property
    def current(self) -> Policy:
        return self._policy

    def switch(self, policy: Policy) -> None:
        self._policy = policy


def three_way_label(scores: Mapping[str, float]) -> tuple[Label, float]:
    """nsfwjs's web-app answer: explicit = porn + hentai, suggestive = sexy,
    neutral = neutral + drawing; the label is the largest, its sum the confidence."""
    groups: dict[Label, float] = {
        "explicit": scores.get("porn", 0.0) + scores.get("hentai", 0.0),
        "suggestive": scores.get("sexy", 0.0),
        "neutral": scores.get("neutral", 0.0) + scores.get("drawing", 0.0),
    }
    label = max(groups, key=groups.__getitem__)
    return label, round(min(1.0, groups[label]), 6)

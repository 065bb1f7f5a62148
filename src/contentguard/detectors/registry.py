"""The detector registry: every detector, built-in or plugin, comes from one entry-point group.

A plugin registers `[project.entry-points."contentguard.detectors"] my-detector = "pkg:Class"`;
the built-ins are registered the same way in our own pyproject.toml.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import entry_points

from contentguard.detectors.base import Detector
from contentguard.errors import ContentGuardError
from contentguard.settings import Settings

GROUP = "contentguard.detectors"


class UnknownDetector(ContentGuardError):
    """A policy names a detector no installed package registers (raised while models load)."""

    code = "unknown_detector"


def available() -> dict[str, type[Detector]]:
    """Detector classes by name, loaded from the entry-point group."""
    found: dict[str, type[Detector]] = {}
    for ep in entry_points(group=GROUP):
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Detector)):
            raise TypeError(f"entry point {ep.name} = {ep.value} is not a Detector subclass")
        if cls.name != ep.name:
            raise TypeError(f"entry point {ep.name} loads a detector named {cls.name!r}")
        found[ep.name] = cls
    return found


def create(name: str, settings: Settings) -> Detector:
    classes = available()
    if name not in classes:
        raise UnknownDetector(
            f"no detector named {name!r}; installed: {', '.join(sorted(classes)) or 'none'}"
        )
    return classes[name](settings)


def create_for_kind(kind: str, names: Iterable[str], settings: Settings) -> list[Detector]:
    """The named detectors that accept `kind` (unknown names raise, so a typo is not ignored)."""
    classes = available()
    out = []
    for name in dict.fromkeys(names):
        if name in classes and kind not in classes[name].kinds:
            continue
        out.append(create(name, settings))
    return out

"""Optional dependencies behind one guard, whose error names the extra to install.

Heavy packages (torch, PyAV, FAISS, Ray, Kafka clients, Spark) are imported only by the features
that need them, never at serving start-up. Each such module is declared once in `EXTRAS`, with
the pip extra that installs it; code asks for it with `require("torch", purpose="training")`
and gets the module, or one `ExtraMissing` error the CLI turns into exit 2 and the HTTP service
into the usual error object:

    training needs the optional dependency torch: pip install -e '.[train]'

Foundations layer: imports nothing of ours but `errors`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from contentguard.errors import ExtraMissing

# A checkout (editable install, or PYTHONPATH=src) has pyproject.toml two levels above the package.
_CHECKOUT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Extra:
    """One optional module: what to import, which pip extra installs it, under which name."""

    module: str
    extra: str
    package: str = ""  # the pip distribution, when it is not the module's name

    @property
    def distribution(self) -> str:
        return self.package or self.module

    def require(self, purpose: str = "this") -> ModuleType:
        """The imported module, or `ExtraMissing` naming the extra to install."""
        try:
            return importlib.import_module(self.module)
        except ImportError as exc:
            message = f"{purpose} needs the optional dependency {self.distribution}: " \
                      f"{install_hint(self.extra)}"
            top = self.module.split(".")[0]
            if exc.name is not None and exc.name.split(".")[0] != top:
                message += f" ({self.module} is installed but cannot import {exc.name})"
            raise ExtraMissing(message, module=self.module, extra=self.extra) from exc


# Every optional module ContentGuard imports, and the extra that brings it. The extras of the
# coming features (video, banks, ray, stream, spark) are declared here before pyproject.toml has
# them, so each feature's code uses the guard from its first line.
EXTRAS: dict[str, Extra] = {extra.module: extra for extra in (
    # training (text heads today; image classifiers, experiment tracking next)
    Extra("torch", "train"),
    Extra("sentence_transformers", "train", "sentence-transformers"),
    Extra("transformers", "train"),
    Extra("scipy", "train"),
    Extra("sklearn", "train", "scikit-learn"),
    Extra("joblib", "train"),
    Extra("mlflow", "train"),
    # video key frames
    Extra("av", "video"),
    # hash banks
    Extra("pdqhash", "banks"),
    Extra("faiss", "banks", "faiss-cpu"),
    # Ray Serve / Ray Data
    Extra("ray", "ray", "ray[serve,data]"),
    # stream workers
    Extra("confluent_kafka", "stream", "confluent-kafka"),
    Extra("redis", "stream"),
    # Spark UDF
    Extra("pyspark", "spark"),
    # reference implementations for the parity tests and benchmarks
    Extra("nudenet", "dev"),
)}


def install_hint(extra: str) -> str:
    """The pip command that installs `extra`: editable from a checkout, else from the index."""
    if (_CHECKOUT / "pyproject.toml").is_file() and _CHECKOUT.joinpath("src", "contentguard").is_dir():
        return f"pip install -e '.[{extra}]'"
    return f"pip install 'contentguard[{extra}]'"


def declared(module: str) -> Extra:
    """The table entry of `module` (or of its top-level package); a programming error if absent."""
    top = module.split(".")[0]
    entry = EXTRAS.get(module) or EXTRAS.get(top)
    if entry is None:
        raise KeyError(f"optional module {module!r} is not declared in contentguard.extras.EXTRAS")
    return entry if entry.module == module else Extra(module, entry.extra, entry.distribution)


def require(module: str, *, purpose: str = "this") -> ModuleType:
    """Import an optional `module` declared in `EXTRAS`, or raise `ExtraMissing` naming its extra."""
    return declared(module).require(purpose)


def optional(module: str) -> ModuleType | None:
    """The module if it is installed, else None: for features that skip rather than fail."""
    try:
        return require(module)
    except ExtraMissing:
        return None

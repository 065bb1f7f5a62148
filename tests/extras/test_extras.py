"""One guard for optional dependencies, whose error names the extra (issue #14, item 8)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from contentguard import extras
from contentguard.errors import ContentGuardError, ExtraMissing
from contentguard.extras import EXTRAS, Extra
from contentguard.schemas import ErrorDetail

SRC = Path(extras.__file__).resolve().parent
MADE_UP = "contentguard_test_no_such_module"


def test_a_missing_module_names_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(EXTRAS, MADE_UP, Extra(MADE_UP, "video", "made-up-package"))
    with pytest.raises(ExtraMissing) as info:
        extras.require(MADE_UP)
    assert info.value.message == \
        "this needs the optional dependency made-up-package: pip install -e '.[video]'"
    assert isinstance(info.value, ContentGuardError) and info.value.code == "model_unavailable"
    assert info.value.details == {"module": MADE_UP, "extra": "video"}
    # Its code is the contract's: the HTTP service and the workers can report it as they are.
    detail = ErrorDetail(code=info.value.code, message=info.value.message)
    assert detail.code == "model_unavailable" and ExtraMissing.http_status == 503
    with pytest.raises(ExtraMissing, match=r"^decoding video needs the optional dependency made-up-package"):
        extras.require(f"{MADE_UP}.sub", purpose="decoding video")  # found through its package
    assert extras.optional(MADE_UP) is None


def test_a_present_module_is_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(EXTRAS, "json", Extra("json", "dev"))
    assert extras.require("json") is json
    assert extras.optional("json") is json
    assert Extra("json.decoder", "dev").require() is sys.modules["json.decoder"]


def test_a_module_that_cannot_import_its_own_dependency_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cg_broken_pkg").mkdir()
    (tmp_path / "cg_broken_pkg" / "__init__.py").write_text("import cg_missing_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ExtraMissing) as info:
        Extra("cg_broken_pkg", "banks").require()
    assert info.value.message.endswith(
        "pip install -e '.[banks]' (cg_broken_pkg is installed but cannot import cg_missing_dependency_xyz)")


def test_an_undeclared_module_is_a_programming_error() -> None:
    with pytest.raises(KeyError, match="not declared in contentguard.extras.EXTRAS"):
        extras.require("numpy")


def test_the_hint_outside_a_checkout_names_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert extras.install_hint("train") == "pip install -e '.[train]'"  # these tests run from a checkout
    monkeypatch.setattr(extras, "_CHECKOUT", tmp_path)  # as in site-packages: no pyproject.toml
    assert extras.install_hint("train") == "pip install 'contentguard[train]'"


def test_the_table_declares_the_coming_extras() -> None:
    expected = {"torch": "train", "sentence_transformers": "train", "scipy": "train", "mlflow": "train",
                "sklearn": "train", "av": "video", "pdqhash": "banks", "faiss": "banks", "ray": "ray",
                "confluent_kafka": "stream", "redis": "stream", "pyspark": "spark"}
    assert {module: EXTRAS[module].extra for module in expected} == expected
    assert all(module == entry.module for module, entry in EXTRAS.items())


def test_no_other_module_checks_for_optional_packages_itself() -> None:
    """Every optional import goes through the guard; media/decode.py's ImageCms is part of the
    Pillow build, not a package."""
    allowed = {SRC / "extras.py", SRC / "media" / "decode.py"}
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                 if p not in allowed and re.search(r"except\s*\(?[\w, ]*(ImportError|ModuleNotFoundError)",
                                                   p.read_text())]
    assert offenders == []


# --- the command line: exit 2 with the hint -------------------------------------------------------

def _cli_without(module: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`contentguard ARGS` in a real process where `module` cannot be imported."""
    code = (f"import sys; sys.modules[{module!r}] = None; sys.argv = ['contentguard', *{list(args)!r}]; "
            "from contentguard.cli import main; main()")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize(("module", "package"), [("sklearn", "scikit-learn"), ("scipy", "scipy")])
def test_train_text_without_the_train_extra_exits_2(module: str, package: str, tmp_path: Path) -> None:
    proc = _cli_without(module, "train-text", "--task", "spam", "--data", str(tmp_path),
                        "--out", str(tmp_path / "out"), "--report-dir", str(tmp_path / "report"))
    assert proc.returncode == 2, proc.stderr
    assert f"training needs the optional dependency {package}: pip install -e '.[train]'" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_pulling_profanity_check_without_scikit_learn_exits_2(tmp_path: Path, need) -> None:
    import importlib.util

    need(importlib.util.find_spec("profanity_check") is not None,
         "alt-profanity-check==1.9.1 (a dev dependency) is not installed")
    proc = _cli_without("sklearn", "models", "pull", "profanity-check",
                        env={"CONTENTGUARD_MODEL_DIR": str(tmp_path), "CONTENTGUARD_PYPI_URL": "http://127.0.0.1:9"})
    assert proc.returncode == 2, proc.stderr
    assert "pulling profanity-check needs the optional dependency scikit-learn: pip install -e '.[train]'" \
        in proc.stderr
    assert not (tmp_path / "profanity-check.npz").exists()

"""The import contract (pyproject's [tool.importlinter], docs/architecture.md): a lower layer
never imports a higher one, only the HTTP surface knows the web framework, torch stays off the
serving path. `make test` fails on any upward import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(src: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([str(LINT), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_the_tree_keeps_the_import_contract() -> None:
    done = _lint(ROOT / "src")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    """The contract is not vacuous: one upward import (media → service) in a copy breaks it."""
    copy = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "contentguard", copy / "contentguard",
                    ignore=shutil.ignore_patterns("*.npz", "__pycache__", "static", "templates"))
    sniff = copy / "contentguard" / "media" / "sniff.py"
    sniff.write_text(sniff.read_text() + "\n\ndef _upward():\n    from contentguard.service import engine\n"
                     "    return engine\n")
    done = _lint(copy)
    assert done.returncode != 0
    assert "contentguard.media.sniff -> contentguard.service.engine" in done.stdout

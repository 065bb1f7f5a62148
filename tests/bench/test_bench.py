"""`contentguard bench` keeps working (figures are not asserted: they belong to the report)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from contentguard.bench.images import model_gflop, update_readme
from contentguard.models.store import ModelStore
from contentguard.settings import Settings


def test_mobilenet_v2_costs_its_published_flops(settings: Settings) -> None:
    # MobileNetV2 1.0 at 224 px is ~300 M multiply-adds (+ our 3-layer head).
    gflop = model_gflop(ModelStore(settings).ensure("nsfw-mobilenet-v2"))
    assert 0.55 < gflop < 0.68


def test_update_readme_replaces_only_the_marked_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:start -->\nold\n<!-- bench:end -->\noutro\n")
    assert update_readme(readme, "| new |\n")
    assert readme.read_text() == "intro\n<!-- bench:start -->\n| new |\n<!-- bench:end -->\noutro\n"
    plain = tmp_path / "PLAIN.md"
    plain.write_text("no markers")
    assert not update_readme(plain, "x") and plain.read_text() == "no markers"


def test_bench_runs_end_to_end_and_writes_its_files(tmp_path: Path) -> None:
    pytest.importorskip("nudenet", reason="the dev extra (nudenet) is needed for the benchmark")
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)).save(
            images / f"{i}.jpg", quality=90
        )
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "contentguard.cli", "bench", "--data", str(images), "--out", str(out),
         "--repeat", "1", "--no-node", "--readme", str(tmp_path / "absent.md")],
        capture_output=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    report = json.loads(out.read_text())
    assert report["files"] == 3
    assert report["nsfwjs_wasm"] is None
    for key in ("classifier_vs_flop_floor", "full_vs_nudenet_detect", "cascade_vs_nudenet_detect",
                "large_jpeg_vs_pillow", "peak_rss_mb"):
        assert report["ratios"][key] > 0, key
    assert "| what | ContentGuard |" in out.with_suffix(".md").read_text()

"""`contentguard bench-load` runs end to end against a real service (figures are not asserted:
they belong to the report; only the report's shape and sanity are)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import psutil
from helpers.samples import image_bytes
from rich.console import Console

from contentguard.bench.load import (
    README_END,
    README_START,
    load_photos,
    replace_section,
    rss_summary,
    run_bench_load,
)
from contentguard.settings import Settings


def _photos(folder: Path) -> Path:
    photos = folder / "images" / "photos"
    photos.mkdir(parents=True)
    for seed in range(3):
        (photos / f"{seed}.png").write_bytes(image_bytes(seed))
    (photos / "3.jpg").write_bytes(image_bytes(3, (320, 240), "JPEG"))
    (photos / "4.raw").write_bytes(image_bytes(4))  # no image suffix: sent as octet-stream
    return folder / "images"


def test_photos_carry_the_content_type_of_their_suffix(tmp_path: Path) -> None:
    types = {p.name: p.content_type for p in load_photos(_photos(tmp_path))}
    assert types == {"0.png": "image/png", "1.png": "image/png", "2.png": "image/png",
                     "3.jpg": "image/jpeg", "4.raw": "application/octet-stream"}


def test_rss_summary_compares_the_first_and_last_fifths() -> None:
    rss = [(float(t), mb) for t, mb in enumerate([100, 100, 300, 100, 100, 110, 110, 110, 110, 110])]
    summary = rss_summary(rss)
    assert (summary["rss_start_mb"], summary["rss_end_mb"], summary["rss_max_mb"]) == (100, 110, 300)
    assert round(summary["rss_growth_pct"], 6) == 10.0


def test_replace_section_touches_only_the_load_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    bench = "<!-- bench:start -->\nb\n<!-- bench:end -->"
    readme.write_text(f"a\n{bench}\n{README_START}\nold\n{README_END}\nz\n")
    assert replace_section(readme, "| new |\n")
    assert readme.read_text() == f"a\n{bench}\n{README_START}\n| new |\n{README_END}\nz\n"
    plain = tmp_path / "PLAIN.md"
    plain.write_text("no markers")
    assert not replace_section(plain, "x") and plain.read_text() == "no markers"


def test_bench_load_runs_end_to_end_and_writes_its_files(settings: Settings, tmp_path: Path) -> None:
    folder = _photos(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_START}\nold\n{README_END}\n")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    run_bench_load(
        settings, folder, tmp_path / "out", duration=1.0, soak=2.0, clients=[1, 4], warmup=0.3,
        sample_every=0.5, min_items=10, console=Console(file=io.StringIO()), readme=readme,
    )
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= before  # service stopped

    report = json.loads((tmp_path / "out" / "load.json").read_text())
    assert report["photos"] == 5 and report["in_process"]["images_per_s"] > 0
    assert report["settings"]["microbatch_size"] == settings.microbatch_size
    assert [lv["clients"] for lv in report["closed_loop"]] == [1, 4]
    for phase in [*report["closed_loop"], report["half_rate"], report["soak"]]:
        assert phase["requests"] > 0 and phase["errors"] == 0, phase
        assert 0 < phase["p50_ms"] <= phase["p95_ms"] <= phase["p99_ms"] <= phase["max_ms"]
    for level in report["closed_loop"]:
        assert level["req_per_s"] > 0 and level["ratio_to_in_process"] > 0
        assert level["mean_batch"] >= 1 and level["server_cpu_pct"] > 0
    assert report["half_rate"]["rate"] == 0.5 * max(lv["req_per_s"] for lv in report["closed_loop"])
    soak = report["soak"]
    assert len(soak["rss_samples"]) >= 3 and soak["rss_start_mb"] > 0 and soak["rss_max_mb"] > 0
    assert set(report["targets"]) == {"throughput_ratio_at_16", "half_rate_p99_ms", "soak_rss_growth_pct"}
    assert report["targets"]["throughput_ratio_at_16"]["verdict"] == "not measured"  # no 16 here

    table = (tmp_path / "out" / "load.md").read_text()
    assert "| clients | req/s | p50 ms |" in table and "p99 at half the peak rate" in table
    assert table in readme.read_text() and "old" not in readme.read_text()

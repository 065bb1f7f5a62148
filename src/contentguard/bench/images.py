"""`contentguard bench`: speed figures, each against a reference run in the same process.

Every figure is a median over repetitions on the same files; ratios compare runs made in
this process on this machine (the FLOP floor is a float32 matmul measured on the spot).
Results go to a JSON file and a Markdown table next to it (quoted in the README).
"""

from __future__ import annotations

import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import shape_inference
from PIL import Image
from rich.console import Console

from contentguard import __version__, extras
from contentguard.detectors.image.nsfw_classifier import NsfwClassifier
from contentguard.media import decode
from contentguard.media.types import Frame
from contentguard.models.store import ModelStore
from contentguard.moderation.image import Item, Moderator
from contentguard.moderation.policy import Policy
from contentguard.settings import Settings

NODE_TOOL = Path(__file__).resolve().parents[3] / "tools" / "nsfwjs-reference"

TARGETS = {
    "classifier_vs_flop_floor": (">=", 0.85),
    "classifier_vs_nsfwjs_wasm": (">=", 15.0),
    "full_vs_nudenet_detect": (">=", 1.0),
    "cascade_vs_nudenet_detect": (">=", 3.0),
    "large_jpeg_vs_pillow": ("<=", 0.3),
    "peak_rss_mb": ("<=", 700.0),
}


def _median_time(fn: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def matmul_gflops(repeat: int, n: int = 2048) -> float:
    """float32 matmul rate of this machine right now (NumPy's BLAS, all cores)."""
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = np.random.default_rng(1).random((n, n), dtype=np.float32)
    seconds = _median_time(lambda: a @ b, max(repeat, 5), warmup=2)
    return 2 * n**3 / seconds / 1e9


def model_gflop(path: Path) -> float:
    """Multiply-adds ×2 of the Conv and Gemm nodes for one image, from the graph's shapes."""
    model = onnx.load(str(path))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[0].ClearField("dim_param")
    dims[0].dim_value = 1
    model = shape_inference.infer_shapes(model)
    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in list(model.graph.value_info) + list(model.graph.output)
    }
    weights = {t.name: list(t.dims) for t in model.graph.initializer}
    flops = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            w = weights[node.input[1]]  # [cout, cin/group, kh, kw]
            out = shapes[node.output[0]]
            flops += 2 * int(np.prod(out)) * w[1] * w[2] * w[3]
        elif node.op_type == "Gemm":
            k, n = weights[node.input[1]]
            flops += 2 * k * n
    return flops / 1e9


def _images(folder: Path) -> list[Path]:
    root = folder / "photos" if (folder / "photos").is_dir() else folder
    return sorted(p for p in root.iterdir() if p.is_file() and not p.name.startswith("."))


def _decoded(paths: list[Path], settings: Settings) -> list[tuple[Path, np.ndarray]]:
    out = []
    for path in paths:
        try:
            media = decode(path.read_bytes(), settings)
        except Exception:
            continue
        out.append((path, next(media.frames()).pixels))
    return out


def bench_classifier(settings: Settings, frames: list[np.ndarray], repeat: int) -> dict[str, Any]:
    classifier = NsfwClassifier(settings)
    prepared = np.stack([classifier.preprocess(Frame(f)).tensor for f in frames])
    batch = np.concatenate([prepared] * (32 // len(prepared) + 1))[:32]
    single = _median_time(lambda: [classifier.run(p[None]) for p in prepared], repeat)
    batched = _median_time(lambda: classifier.run(batch), repeat)
    pre = _median_time(lambda: [classifier.preprocess(Frame(f)) for f in frames], repeat)
    # nsfwjs' wasm backend runs on one thread in Node; this is the like-for-like figure.
    one_thread = NsfwClassifier(settings.model_copy(update={"threads": 1}))
    batched_1t = _median_time(lambda: one_thread.run(batch), repeat)
    return {
        "batch32_ms_per_image_one_thread": 1000 * batched_1t / 32,
        "model": classifier.model_name,
        "single_ms_per_image": 1000 * single / len(prepared),
        "batch32_ms_per_image": 1000 * batched / 32,
        "batch32_images_per_s": 32 / batched,
        "preprocess_ms_per_image": 1000 * pre / len(frames),
        "gflop_per_image": model_gflop(ModelStore(settings).ensure(classifier.model_name)),
    }


def bench_nsfwjs(decoded: list[tuple[Path, np.ndarray]], repeat: int, console: Console) -> dict | None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm or not NODE_TOOL.is_dir():
        console.print("nsfwjs comparison skipped: Node.js/npm or tools/nsfwjs-reference missing")
        return None
    if not (NODE_TOOL / "node_modules").is_dir():
        console.print("installing the nsfwjs reference tool (npm ci)…")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_TOOL, check=True,
                       stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, (path, pixels) in enumerate(decoded):
            dest = Path(tmp) / f"{i:03d}_{path.stem}.png"
            Image.fromarray(pixels).save(dest, compress_level=1)
            files.append(str(dest))
        out = Path(tmp) / "nsfwjs.json"
        console.print(f"running nsfwjs (tfjs wasm) on {len(files)} images…")
        subprocess.run(
            [node, "bench.mjs", "--model", "mobilenet_v2", "--backend", "wasm",
             "--repeat", str(max(1, min(repeat, 3))), "--batch", "32", "--out", str(out), *files],
            cwd=NODE_TOOL, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        report = json.loads(out.read_text())
    return {
        "backend": report.get("backend"),
        "threads": report.get("threads"),
        "single_ms_per_image": report["single"]["median_ms"],
        "batch32_ms_per_image": report["batch"]["median_ms_per_image"],
    }


def bench_moderation(
    settings: Settings, paths: list[Path], repeat: int, *, cascade: bool
) -> dict[str, Any]:
    policy = Policy.default()
    policy = policy.model_copy(
        update={"cascade": policy.cascade.model_copy(update={"enabled": cascade})}
    )
    with Moderator(settings, policy) as moderator:
        def run() -> list:
            items = [Item(str(p), p.read_bytes) for p in paths]
            return list(moderator.moderate_many(items))

        outcomes = run()
        seconds = _median_time(run, repeat, warmup=0)
        reduce_to = moderator.reduce_to
    skipped = sum(
        1 for o in outcomes if hasattr(o, "models") and any(m.status == "skipped" for m in o.models)
    )
    return {
        "files": len(paths),
        "ms_per_image": 1000 * seconds / len(paths),
        "images_per_s": len(paths) / seconds,
        "detector_skipped": skipped,
        "reduce_to": reduce_to,
        "decisions": {
            d: sum(1 for o in outcomes if getattr(o, "decision", None) == d)
            for d in ("allow", "review", "block")
        },
    }


def bench_nudenet(paths: list[Path], repeat: int) -> dict[str, Any] | None:
    nudenet = extras.optional("nudenet")
    if nudenet is None:
        return None
    detector = nudenet.NudeDetector()
    usable = []
    for p in paths:
        try:
            detector.detect(str(p))
            usable.append(p)
        except Exception:
            continue
    seconds = _median_time(lambda: [detector.detect(str(p)) for p in usable], repeat, warmup=0)
    return {"files": len(usable), "ms_per_image": 1000 * seconds / len(usable),
            "paths": [str(p) for p in usable]}


def bench_large_jpeg(
    settings: Settings, source: Path, repeat: int, *, reduce_to: int | None
) -> dict[str, Any]:
    """A 12-megapixel JPEG (4000×3000, made from a real photo) to the classifier's input."""
    with Image.open(source) as im:
        big = im.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    big.save(buffer, "JPEG", quality=92)
    data = buffer.getvalue()
    classifier = NsfwClassifier(settings)
    size = classifier.input_size

    def plain() -> object:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB").resize((size, size)))

    def ours() -> object:
        media = decode(data, settings, reduce_to=reduce_to)
        return classifier.preprocess(next(media.frames()))

    plain_s = _median_time(plain, repeat)
    ours_s = _median_time(ours, repeat)
    return {
        "bytes": len(data),
        "pillow_decode_resize_ms": 1000 * plain_s,
        "ours_to_model_input_ms": 1000 * ours_s,
        "reduce_to": reduce_to,
    }


_PEAK_RSS_CHILD = """
import sys
from contentguard.cli import app
try:
    app(sys.argv[2:], standalone_mode=False)
finally:
    status = open("/proc/self/status").read()
    peak = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
    open(sys.argv[1], "w").write(peak)
"""


def peak_rss_mb(folder: Path) -> float:
    """Peak RSS (VmHWM) of a separate `contentguard scan` process over the benchmark photos.

    VmHWM, read by the process itself, starts at its own exec; the rusage of a child would
    also count the pages it shared with this (large) process before exec.
    """
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "peak"
        subprocess.run(
            [sys.executable, "-c", _PEAK_RSS_CHILD, str(report), "scan", str(folder),
             "--out", str(Path(tmp) / "scan.jsonl")],
            check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        return int(report.read_text()) / 1024.0


def _verdict(name: str, value: float | None) -> str:
    return verdict(TARGETS, name, value)


def run_bench(
    settings: Settings, folder: Path, output: Path, *, repeat: int, use_node: bool,
    console: Console, readme: Path | None = None,
) -> dict[str, Any]:
    paths = _images(folder)
    decoded = _decoded(paths, settings)
    frames = [pixels for _, pixels in decoded]
    console.print(f"benchmark on {len(paths)} files from {folder} ({len(decoded)} decodable)")

    gflops = matmul_gflops(repeat)
    console.print(f"float32 matmul: {gflops:.0f} GFLOP/s")
    classifier = bench_classifier(settings, frames, repeat)
    floor_ms = classifier["gflop_per_image"] / gflops * 1000
    console.print(f"classifier: {classifier['batch32_ms_per_image']:.2f} ms/image at batch 32 "
                  f"(FLOP floor {floor_ms:.2f} ms)")
    nsfwjs = bench_nsfwjs(decoded, repeat, console) if use_node else None

    console.print("NudeNet detect() on the same files…")
    nudenet = bench_nudenet(paths, repeat)
    same = [Path(p) for p in nudenet["paths"]] if nudenet else paths
    console.print("full moderation (both models on every image)…")
    full = bench_moderation(settings, same, repeat, cascade=False)
    console.print("cascade moderation…")
    cascade = bench_moderation(settings, same, repeat, cascade=True)
    largest = max(paths, key=lambda p: p.stat().st_size if p.suffix.lower() in (".jpg", ".jpeg")
                  else 0)
    console.print("12 MP JPEG to model input…")
    large = bench_large_jpeg(settings, largest, repeat, reduce_to=full["reduce_to"])
    console.print("peak RSS of a scan process…")
    rss = peak_rss_mb(folder / "photos" if (folder / "photos").is_dir() else folder)

    ratios: dict[str, float | None] = {
        "classifier_vs_flop_floor": floor_ms / classifier["batch32_ms_per_image"],
        "classifier_vs_nsfwjs_wasm": (
            nsfwjs["batch32_ms_per_image"] / classifier["batch32_ms_per_image"] if nsfwjs else None
        ),
        "classifier_vs_nsfwjs_wasm_one_thread": (
            nsfwjs["batch32_ms_per_image"] / classifier["batch32_ms_per_image_one_thread"]
            if nsfwjs else None
        ),
        "classifier_vs_nsfwjs_wasm_single": (
            nsfwjs["single_ms_per_image"] / classifier["single_ms_per_image"] if nsfwjs else None
        ),
        "full_vs_nudenet_detect": (
            nudenet["ms_per_image"] / full["ms_per_image"] if nudenet else None
        ),
        "cascade_vs_nudenet_detect": (
            nudenet["ms_per_image"] / cascade["ms_per_image"] if nudenet else None
        ),
        "large_jpeg_vs_pillow": large["ours_to_model_input_ms"] / large["pillow_decode_resize_ms"],
        "peak_rss_mb": rss,
    }
    if nudenet:
        nudenet.pop("paths")
    report = {
        "contentguard": __version__,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpu": _cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
            "matmul_gflops": gflops,
        },
        "settings": {"batch_size": settings.batch_size, "threads": settings.threads or os.cpu_count(),
                     "jpeg_fast_path": settings.jpeg_fast_path, "repeat": repeat},
        "files": len(paths),
        "classifier": {**classifier, "flop_floor_ms_per_image": floor_ms},
        "nsfwjs_wasm": nsfwjs,
        "nudenet_detect": nudenet,
        "full_moderation": full,
        "cascade_moderation": cascade,
        "large_jpeg": large,
        "ratios": ratios,
        "targets": {k: _verdict(k, v) for k, v in ratios.items() if k in TARGETS},
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    table = markdown_table(report)
    output.with_suffix(".md").write_text(table)
    console.print(table)
    console.print(f"wrote {output} and {output.with_suffix('.md')}")
    if readme is not None and readme.exists() and update_readme(readme, table):
        console.print(f"updated the benchmark table in {readme}")
    return report


README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


def update_readme(readme: Path, table: str) -> bool:
    """Replace the table between the bench markers of the README; False if no markers."""
    return replace_section(readme, table, README_START, README_END)


def replace_section(readme: Path, text: str, start_marker: str, end_marker: str) -> bool:
    """Replace what is between two markers of the README; False if it lacks them."""
    content = readme.read_text(encoding="utf-8")
    start, end = content.find(start_marker), content.find(end_marker)
    if start < 0 or end < start:
        return False
    readme.write_text(
        content[: start + len(start_marker)] + "\n" + text + content[end:], encoding="utf-8"
    )
    return True


def verdict(targets: dict[str, tuple[str, float]], name: str, value: float | None) -> str:
    """`met (>= 0.8)` / `missed (...)` / `not measured` for a figure against its target."""
    if value is None:
        return "not measured"
    op, target = targets[name]
    ok = value >= target if op == ">=" else value <= target
    return f"{'met' if ok else 'missed'} ({op} {target:g})"


def write_report(
    report: dict[str, Any], markdown_text: str, out_dir: Path, stem: str, console: Console,
    readme: Path | None, markers: tuple[str, str],
) -> dict[str, Any]:
    """`<stem>.json` and `<stem>.md` in `out_dir`, and the README section between `markers`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / f"{stem}.md").write_text(markdown_text)
    console.print(markdown_text)
    console.print(f"wrote {out_dir / (stem + '.json')} and {out_dir / (stem + '.md')}")
    if readme is not None and readme.exists() and replace_section(readme, markdown_text, *markers):
        console.print(f"updated the {stem} section of {readme}")
    return report


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def markdown_table(report: dict[str, Any]) -> str:
    c, r, t = report["classifier"], report["ratios"], report["targets"]
    full, cas, large = report["full_moderation"], report["cascade_moderation"], report["large_jpeg"]
    nn, js = report["nudenet_detect"], report["nsfwjs_wasm"]

    def x(v: float | None, unit: str = "×") -> str:
        return "—" if v is None else f"{v:.2f}{unit}"

    rows = [
        ("Classifier (MobileNetV2), batch 32", f"{c['batch32_ms_per_image']:.2f} ms/img "
         f"({c['batch32_images_per_s']:.0f} img/s)",
         f"FLOP floor {c['flop_floor_ms_per_image']:.2f} ms/img", x(r["classifier_vs_flop_floor"]),
         t["classifier_vs_flop_floor"]),
        ("Classifier vs nsfwjs (tfjs wasm), batch 32", f"{c['batch32_ms_per_image']:.2f} ms/img",
         f"{js['batch32_ms_per_image']:.1f} ms/img" if js else "—",
         x(r["classifier_vs_nsfwjs_wasm"]), t["classifier_vs_nsfwjs_wasm"]),
        ("Classifier vs nsfwjs, batch 32, both on one thread",
         f"{c['batch32_ms_per_image_one_thread']:.2f} ms/img",
         f"{js['batch32_ms_per_image']:.1f} ms/img" if js else "—",
         x(r["classifier_vs_nsfwjs_wasm_one_thread"]), "—"),
        ("Classifier vs nsfwjs, one image", f"{c['single_ms_per_image']:.2f} ms/img",
         f"{js['single_ms_per_image']:.1f} ms/img" if js else "—",
         x(r["classifier_vs_nsfwjs_wasm_single"]), "—"),
        ("Full moderation (both models), files → decisions", f"{full['ms_per_image']:.1f} ms/img",
         f"NudeNet detect() {nn['ms_per_image']:.1f} ms/img" if nn else "—",
         x(r["full_vs_nudenet_detect"]), t["full_vs_nudenet_detect"]),
        ("Cascade moderation, photo set", f"{cas['ms_per_image']:.1f} ms/img "
         f"(detector skipped on {cas['detector_skipped']}/{cas['files']})",
         f"NudeNet detect() {nn['ms_per_image']:.1f} ms/img" if nn else "—",
         x(r["cascade_vs_nudenet_detect"]), t["cascade_vs_nudenet_detect"]),
        ("12 MP JPEG → model input", f"{large['ours_to_model_input_ms']:.0f} ms",
         f"Pillow decode + resize {large['pillow_decode_resize_ms']:.0f} ms",
         x(r["large_jpeg_vs_pillow"]), t["large_jpeg_vs_pillow"]),
        ("Peak RSS of `contentguard scan`", f"{r['peak_rss_mb']:.0f} MB", "—", "—",
         t["peak_rss_mb"]),
    ]
    m = report["machine"]
    lines = [
        f"Measured {report['when']} on {m['cpu']} ({m['cores']} cores, float32 matmul "
        f"{m['matmul_gflops']:.0f} GFLOP/s), {report['files']} photos, medians of "
        f"{report['settings']['repeat']} runs.",
        "",
        "| what | ContentGuard | reference (same run) | ratio | target |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c_} | {d} | {e} |" for a, b, c_, d, e in rows]
    return "\n".join(lines) + "\n"

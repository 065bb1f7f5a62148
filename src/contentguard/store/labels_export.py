"""Reviewed items as a training dataset: folder per class, one manifest (the training input).

Layout under the output folder (one folder-per-class dataset per content kind):

    image/<class>/<sha256>.<ext>     the stored media bytes, as received
    text/<class>/<sha256>.txt        the stored text, UTF-8
    manifest.jsonl, manifest.csv     one row per item: id, path, sha256, label, reviewer, time…
                                     (the CSV's text cells escaped for spreadsheets, see csvfile)

Classes are the human decision (`allow`, `block`), or with `classes="reason"` `allow` and the
reject reason (`sexual_explicit`, `hate`, …). Each content sha256 appears once, with its newest
verdict. Exports accumulate: rows already in the manifest stay (the service purges old media),
a file is written only when missing or different, and a relabelled item moves. Files and the
manifest are written to a temporary name and renamed, so an interrupted run leaves no half file.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from contentguard.csvfile import CsvWriter
from contentguard.errors import ContentGuardError
from contentguard.fileio import write_atomic
from contentguard.store.db import Database
from contentguard.store.tables import StoredDecision, StoredMedia, User

CLASSES = ("decision", "reason")
MANIFEST = "manifest.jsonl"
MANIFEST_CSV = "manifest.csv"
EXTENSIONS = {
    "image/jpeg": "jpg", "image/png": "png", "image/apng": "png", "image/gif": "gif",
    "image/webp": "webp", "image/bmp": "bmp", "image/tiff": "tif", "image/x-icon": "ico",
    "image/vnd.microsoft.icon": "ico", "image/mpo": "jpg", "video/mp4": "mp4",
    "video/webm": "webm", "video/quicktime": "mov",
}
_SAFE = re.compile(r"^[a-z0-9_-]{1,64}$")


class ExportError(ContentGuardError):
    code = "bad_request"


@dataclass
class LabelRow:
    """One exported item, as written to the manifest."""

    id: str  # content sha256 (also the file's name)
    path: str  # relative to the output folder, with `/`
    sha256: str  # of the file's bytes
    kind: str
    label: str
    decision: str
    machine_decision: str
    reason_category: str | None
    reviewer: str | None
    reviewed_at: str
    result_id: str
    media_type: str

    FIELDS = ("id", "path", "sha256", "kind", "label", "decision", "machine_decision",
              "reason_category", "reviewer", "reviewed_at", "result_id", "media_type")


@dataclass
class Summary:
    written: int = 0
    unchanged: int = 0
    moved: int = 0
    no_media: int = 0
    total: int = 0  # rows in the manifest after the run
    skipped_ids: list[str] = field(default_factory=list)


def label_of(decision: str, reason: str | None, classes: str) -> str:
    if classes == "reason" and decision == "block":
        return reason if reason and _SAFE.match(reason) else "other"
    return decision


def _folder(name: str) -> str:
    return name if _SAFE.match(name) else "other"


def _reviewed(session: Session, since: datetime | None) -> list[tuple[str, str]]:
    """(decision id, content id) of the newest human verdict per content, oldest first."""
    stmt = select(StoredDecision.id, StoredDecision.content_id, StoredDecision.human_at).where(
        StoredDecision.human_decision.is_not(None), StoredDecision.human_at.is_not(None))
    if since is not None:
        stmt = stmt.where(StoredDecision.human_at >= since)
    newest: dict[str, tuple[datetime, str]] = {}
    for decision_id, content_id, at in session.execute(stmt):
        if content_id not in newest or at >= newest[content_id][0]:
            newest[content_id] = (at, decision_id)
    ordered = sorted(newest.items(), key=lambda kv: (kv[1][0], kv[0]))
    return [(decision_id, content_id) for content_id, (_, decision_id) in ordered]


def _read_manifest(out: Path) -> dict[str, LabelRow]:
    path = out / MANIFEST
    if not path.exists():
        return {}
    rows: dict[str, LabelRow] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                row = LabelRow(**{k: data.get(k) for k in LabelRow.FIELDS})
            except (ValueError, TypeError) as exc:
                raise ExportError(f"{path}:{number} is not a manifest row ({exc}); move the "
                                  "folder away or pick another --out") from exc
            rows[row.id] = row
    return rows


def _same_file(path: Path, sha: str) -> bool:
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha


def _write_manifest(out: Path, rows: list[LabelRow]) -> None:
    lines = "".join(json.dumps({k: getattr(r, k) for k in LabelRow.FIELDS}, ensure_ascii=False)
                    + "\n" for r in rows)
    write_atomic(out / MANIFEST, lines.encode("utf-8"))
    table = io.StringIO(newline="")
    writer = CsvWriter(table, LabelRow.FIELDS)
    writer.write_header()
    writer.write_rows({k: getattr(row, k) for k in LabelRow.FIELDS} for row in rows)
    write_atomic(out / MANIFEST_CSV, table.getvalue().encode("utf-8"))


def export(db: Database, out: Path, since: datetime | None = None, classes: str = "decision",
           progress: Callable[[int, int], None] | None = None) -> Summary:
    """Export every reviewed item (since `since`) into `out`; `progress(done, total)`."""
    if classes not in CLASSES:
        raise ExportError(f"classes must be one of {', '.join(CLASSES)}")
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    rows = _read_manifest(out)
    summary = Summary()
    with db.session() as session:
        wanted = _reviewed(session, since)
        for done, (decision_id, content_id) in enumerate(wanted, 1):
            row = _export_one(session, out, decision_id, classes, rows.get(content_id), summary)
            if row is not None:
                rows[row.id] = row
            else:
                summary.skipped_ids.append(content_id)
            if progress is not None:
                progress(done, len(wanted))
    ordered = sorted(rows.values(), key=lambda r: (r.reviewed_at, r.id))
    _write_manifest(out, ordered)
    summary.total = len(ordered)
    return summary


def _export_one(session: Session, out: Path, decision_id: str, classes: str,
                old: LabelRow | None, summary: Summary) -> LabelRow | None:
    decision = session.get(StoredDecision, decision_id)
    media = session.get(StoredMedia, decision_id)
    if decision is None or media is None or (media.data is None and media.text is None):
        summary.no_media += 1
        return old  # an earlier export may still hold it
    assert decision.human_decision is not None and decision.human_at is not None
    if media.data is not None:
        data, ext = media.data, EXTENSIONS.get(media.media_type.split(";")[0].strip(), "bin")
    else:
        data, ext = (media.text or "").encode("utf-8"), "txt"
    sha = hashlib.sha256(data).hexdigest()
    label = label_of(decision.human_decision, decision.human_reason, classes)
    reviewer = session.get(User, decision.human_by) if decision.human_by else None
    relative = f"{_folder(decision.kind)}/{_folder(label)}/{decision.content_id}.{ext}"
    row = LabelRow(
        id=decision.content_id, path=relative, sha256=sha, kind=decision.kind, label=label,
        decision=decision.human_decision, machine_decision=decision.decision,
        reason_category=decision.human_reason, reviewer=reviewer.username if reviewer else None,
        reviewed_at=decision.human_at.isoformat(), result_id=decision.id,
        media_type=media.media_type,
    )
    target = out / relative
    if _same_file(target, sha):
        summary.unchanged += 1
    else:
        write_atomic(target, data)
        summary.written += 1
    if old is not None and old.path != relative:
        stale = (out / old.path).resolve()
        if stale.is_relative_to(out.resolve()) and stale.is_file():
            stale.unlink()
        summary.moved += 1
    return row

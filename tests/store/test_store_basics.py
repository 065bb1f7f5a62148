"""The schema, migrations and the account/decision basics on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from contentguard.errors import Conflict, InvalidRequest
from contentguard.schemas import ModerationResult
from contentguard.store import accounts, decisions
from contentguard.store.db import Database
from contentguard.store.decisions import Requester, Retention
from contentguard.store.tables import AuditEntry, ReviewItem, StoredMedia


def result(decision: str = "review", content: str = "a" * 64) -> ModerationResult:
    return ModerationResult(
        id=content, source="x.png", kind="image", media_type="image/png", decision=decision,
        label="neutral", confidence=0.9, scores={"neutral": 0.9}, categories={"sexual_explicit": 0.6},
        detections=[], reasons=[], frames=1, models=[], policy_version="default@2", duration_ms=3.0,
    )


def test_migrations_are_idempotent_and_at_head(db: Database) -> None:
    db.upgrade()
    assert db.current_revision() == "0001"


def test_audit_log_refuses_update_and_delete_in_the_database(db: Database) -> None:
    with db.session() as session:
        session.add(AuditEntry(actor="test", action="x", target_type="y"))
    for statement in ("UPDATE audit_log SET actor = 'evil'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), db.session() as session:
            session.execute(text(statement))
    with db.session() as session:
        assert session.query(AuditEntry).one().actor == "test"


def test_passwords_are_argon2_and_checked(db: Database) -> None:
    with db.session() as session:
        user = accounts.create_user(session, "alice", "a long password", "moderator", actor="t")
        assert user.password_hash.startswith("$argon2id$")
        assert "a long password" not in user.password_hash
    with db.session() as session:
        assert accounts.authenticate(session, "alice", "a long password") is not None
        assert accounts.authenticate(session, "ALICE", "a long password") is not None
        assert accounts.authenticate(session, "alice", "wrong password!") is None
        assert accounts.authenticate(session, "nobody", "a long password") is None
    with pytest.raises(Conflict), db.session() as session:
        accounts.create_user(session, "Alice", "another password", "admin", actor="t")
    with pytest.raises(InvalidRequest), db.session() as session:
        accounts.create_user(session, "bob", "short", "moderator", actor="t")


def test_api_keys_are_stored_hashed_and_revocable(db: Database) -> None:
    with db.session() as session:
        new = accounts.create_api_key(session, "acme", ["moderate"], 60, actor="t")
    assert new.key.startswith("cg_") and len(new.key) > 40
    with db.session() as session:
        stored = session.execute(text("SELECT key_hash, prefix FROM api_keys")).one()
        assert new.key not in stored.key_hash and stored.prefix == new.key[:11]
        assert accounts.find_api_key(session, new.key) is not None
        assert accounts.find_api_key(session, new.key + "x") is None
        accounts.revoke_api_key(session, new.row.id, actor="t")
    with db.session() as session:
        assert accounts.find_api_key(session, new.key) is None
        actions = [e.action for e in session.query(AuditEntry).order_by(AuditEntry.id)]
        assert actions == ["key.create", "key.revoke"]


def test_last_admin_cannot_be_demoted_or_disabled(db: Database) -> None:
    with db.session() as session:
        admin = accounts.create_user(session, "root", "a long password", "admin", actor="t")
    for change in ({"role": "moderator"}, {"active": False}):
        with pytest.raises(Conflict), db.session() as session:
            accounts.update_user(session, admin.id, "t", **change)  # type: ignore[arg-type]


def test_decisions_are_stored_and_review_ones_queued_with_media(db: Database) -> None:
    keep = Retention(media_days=1)
    with db.session() as session:
        reviewed = decisions.save(session, result("review"), Requester(), keep, media=b"png")
        allowed = decisions.save(session, result("allow", "b" * 64), Requester(), keep, media=b"png")
    with db.session() as session:
        assert session.query(ReviewItem).count() == 1
        assert session.query(StoredMedia).count() == 1  # media only for the queued item
        back = decisions.as_result(session, decisions.find(session, reviewed.id))
        assert back.result_id == reviewed.id and back.decision == "review"
        assert decisions.find(session, "b" * 64).id == allowed.id  # by content sha256
        assert decisions.find(session, "b" * 64, api_key_id=12345) is None


def test_sampling_queues_a_share_of_allow_decisions(db: Database) -> None:
    everything = Retention(media_days=1, sample_allow=1.0)
    with db.session() as session:
        decisions.save(session, result("allow"), Requester(), everything)
        decisions.save(session, result("block", "c" * 64), Requester(), everything)
    with db.session() as session:
        origins = [i.origin for i in session.query(ReviewItem)]
    assert origins == ["sample"]


def test_retention_purges_old_decisions_and_media_but_keeps_the_audit_log(db: Database) -> None:
    from datetime import timedelta

    from contentguard.store.tables import StoredDecision, utcnow

    keep = Retention(media_days=1)
    with db.session() as session:
        old = decisions.save(session, result("review"), Requester(), keep, media=b"png")
        new = decisions.save(session, result("review", "d" * 64), Requester(), keep, media=b"png")
        session.get(StoredDecision, old.id).created_at = utcnow() - timedelta(days=100)
        session.get(StoredMedia, new.id).expires_at = utcnow() - timedelta(seconds=1)
    with db.session() as session:
        assert decisions.purge_expired(session, retention_days=90) == (1, 1)  # + cascaded media
    with db.session() as session:
        assert [d.id for d in session.query(StoredDecision)] == [new.id]
        assert session.query(StoredMedia).count() == 0
        assert session.query(ReviewItem).count() == 1  # the old one's item went with it
        assert session.query(AuditEntry).filter_by(action="retention.purge").count() == 1


def test_two_processes_starting_on_a_fresh_database_agree_on_the_policy(db: Database) -> None:
    """Both find the configured version missing and insert it; the one that loses the race
    reads the winner's row instead of failing to start (it did: a UNIQUE error at load)."""
    import threading

    from contentguard.moderation.policy import Policy
    from contentguard.store import policies

    configured = Policy.default()
    first = db.sessions()
    first.begin()
    policies.ensure_active(first, configured)  # inserted, not committed yet
    outcome: dict[str, object] = {}

    def second_process() -> None:
        try:
            outcome["policy"] = policies.ensure_active_at_start(db, configured)
        except Exception as exc:  # the test reports it below
            outcome["error"] = exc

    thread = threading.Thread(target=second_process)
    thread.start()
    thread.join(0.5)  # it has read "missing" and now waits for the first one's lock
    first.commit()
    first.close()
    thread.join(30)
    assert "error" not in outcome, outcome
    assert outcome["policy"].version == configured.version  # type: ignore[attr-defined]
    with db.session() as session:
        assert policies.active(session).version == configured.version  # type: ignore[union-attr]
        assert len(session.scalars(text("SELECT version FROM policy_versions")).all()) == 1


MIGRATE_WHEN_TOLD = """
import pathlib, sys, time
from contentguard.store.db import Database
database = Database(sys.argv[1])
go = pathlib.Path(sys.argv[2])
while not go.exists():
    time.sleep(0.002)
database.upgrade()
"""


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_three_processes_migrating_a_fresh_database_at_once(backend: str, tmp_path, request) -> None:  # type: ignore[no-untyped-def]
    """Services started together on an empty database all run the migrations on start: one
    applies them, the others wait and find the schema at head (without the lock, one failed
    with "table alembic_version already exists")."""
    import subprocess
    import sys
    import time

    from alembic.script import ScriptDirectory

    from contentguard.store.db import alembic_config

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        url = request.getfixturevalue("pg_url")
        empty = Database(url)
        with empty.engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        empty.close()
    go = tmp_path / "go"
    services = [subprocess.Popen([sys.executable, "-c", MIGRATE_WHEN_TOLD, url, str(go)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for _ in range(3)]
    time.sleep(3)  # every one has imported and is waiting for the word
    go.touch()
    outputs = [service.communicate(timeout=120)[0] for service in services]
    assert [service.returncode for service in services] == [0, 0, 0], outputs
    database = Database(url)
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert database.current_revision() == head
    database.require_schema()
    database.close()


@pytest.mark.parametrize("name", ["alice\n", "a", "bob smith", "=1+1", "x" * 65])
def test_user_names_outside_the_allowed_characters_are_refused(db: Database, name: str) -> None:
    """The whole name is checked (`re.match` with `$` let a final newline through)."""
    with db.session() as session, pytest.raises(InvalidRequest, match="username"):
        accounts.create_user(session, name, "a long enough password", "moderator", actor="test")

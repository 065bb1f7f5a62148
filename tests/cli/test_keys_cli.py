"""`contentguard keys create / list / revoke` as a platform admin's set-up script runs them: real
processes on a SQLite file and on PostgreSQL, the key checked against the real API."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from contentguard.store.db import Database
from contentguard.store.tables import ApiKey, AuditEntry

SOME_RESULT = "/v1/results/" + "ab" * 32  # a content sha256 nothing was stored for


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path: Path) -> str:  # type: ignore[no-untyped-def]
    """An empty database of each kind: the commands migrate it themselves."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'keys.db'}"
    url = request.getfixturevalue("pg_url")
    fresh = Database(url)
    with fresh.engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    fresh.close()
    return url


def runner(url: str, home: Path):  # type: ignore[no-untyped-def]
    """`run(*args)`: `contentguard keys ARGS` on the database at `url`; the finished process."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "CONTENTGUARD_DATA_HOME": str(home), "CONTENTGUARD_DATABASE_URL": url}
        done = subprocess.run([sys.executable, "-m", "contentguard.cli", "keys", *args], env=env,
                              capture_output=True, text=True, timeout=120)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    return run


@pytest.fixture
def keys(url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    return runner(url, tmp_path / "home")


@pytest.fixture
def database(url: str) -> Iterator[Database]:
    db = Database(url)
    try:
        yield db
    finally:
        db.close()


def rows(db: Database) -> tuple[list[ApiKey], list[AuditEntry]]:
    with db.session() as session:
        return (list(session.scalars(select(ApiKey).order_by(ApiKey.id))),
                list(session.scalars(select(AuditEntry).where(AuditEntry.target_type == "api_key")
                                     .order_by(AuditEntry.id))))


def test_a_key_made_on_the_command_line_works_until_it_is_revoked(
    keys, database: Database, url: str, make_client,  # type: ignore[no-untyped-def]
) -> None:
    made = keys("create", "acme", "--scopes", "moderate,results,appeal", "--rate", "120")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert made.stdout == key + "\n" and key.startswith("cg_")  # the key alone on stdout
    assert "created API key 1 'acme'" in made.stderr and "webhook secret" in made.stderr
    assert key not in made.stderr

    stored, audited = rows(database)
    assert len(stored) == 1
    row = stored[0]
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()  # only the hash is kept
    assert row.prefix == key[:11] and row.scopes == ["appeal", "moderate", "results"]
    assert row.rate_limit_per_min == 120 and row.revoked_at is None and row.created_by is None
    assert key not in json.dumps([e.after for e in audited])
    assert [(e.actor, e.action, e.target_id) for e in audited] == [("cli", "key.create", "1")]

    listed = keys("list")
    assert listed.returncode == 0, listed.stderr
    header, line = listed.stdout.splitlines()
    assert header.split("\t") == ["id", "name", "prefix", "scopes", "rate/min", "created",
                                  "last used", "revoked"]
    cells = line.split("\t")
    assert cells[:5] == ["1", "acme", f"{key[:11]}…", "appeal,moderate,results", "120"]
    assert cells[6:] == ["-", "-"]  # never used, not revoked
    as_json = keys("list", "--json")
    (entry,) = [json.loads(text) for text in as_json.stdout.splitlines()]
    assert entry["name"] == "acme" and entry["revoked_at"] is None
    assert "key" not in entry and "key_hash" not in entry and "webhook_secret" not in entry
    for shown in (listed.stdout, as_json.stdout):
        assert key not in shown and row.key_hash not in shown

    with make_client(auth=False, database_url=url) as client:
        assert client.get(SOME_RESULT, headers={"Authorization": f"Bearer {key}"}).status_code == 404
        assert client.get(SOME_RESULT, headers={"Authorization": "Bearer cg_x"}).status_code == 401
        assert keys("list").stdout.splitlines()[1].split("\t")[6] != "-"  # used now

        revoked = keys("revoke", "1")
        assert revoked.returncode == 0, revoked.stderr
        assert "revoked API key 1 'acme'" in revoked.stderr
        deadline = time.monotonic() + 10  # a running server notices within 5 s (its key cache)
        while client.get(SOME_RESULT, headers={"Authorization": f"Bearer {key}"}).status_code != 401:
            assert time.monotonic() < deadline, "the revoked key still works"
            time.sleep(0.25)

    again = keys("revoke", "1")
    assert again.returncode == 1 and "revoked already" in again.stderr
    unknown = keys("revoke", "2")
    assert unknown.returncode == 1 and "no API key 2" in unknown.stderr
    assert keys("list").stdout.splitlines()[1].split("\t")[7] != "-"
    _, audited = rows(database)
    assert [(e.actor, e.action, e.target_id) for e in audited] == [
        ("cli", "key.create", "1"), ("cli", "key.revoke", "1")]


def test_create_json_holds_the_key_and_its_webhook_secret(keys, database: Database) -> None:  # type: ignore[no-untyped-def]
    made = keys("create", "hooks", "--scopes", "moderate", "--callback-url",
                "https://hooks.example.com/cg", "--json")
    assert made.returncode == 0, made.stderr
    answer = json.loads(made.stdout)
    assert answer["key"].startswith("cg_") and answer["webhook_secret"]
    assert answer["callback_url"] == "https://hooks.example.com/cg" and answer["rate_limit_per_min"] == 60
    (row,), _ = rows(database)
    assert row.key_hash == hashlib.sha256(answer["key"].encode()).hexdigest()
    assert row.webhook_secret == answer["webhook_secret"]


@pytest.mark.parametrize(("args", "code", "message"), [
    (["create", "acme", "--scopes", "moderate,nope"], 2, "--scopes 'nope'"),
    (["create", "acme", "--scopes", ","], 2, "--scopes"),
    (["create", "acme", "--scopes", "moderate", "--rate", "0"], 2, "--rate"),
    (["create", "acme", "--scopes", "moderate", "--rate", "many"], 2, "--rate"),
    (["create", " ", "--scopes", "moderate"], 2, "a name of 1–100 characters"),
    (["create", "acme", "--scopes", "moderate", "--callback-url", "http://127.0.0.1/hook"], 2,
     "loopback"),
    (["create", "acme"], 2, "--scopes"),
    (["revoke", "999"], 1, "no API key 999"),
    (["revoke", "0"], 2, "ID"),
    (["revoke", str(2**31)], 2, "ID"),
])
def test_refusals_say_why_and_change_nothing(tmp_path: Path, args: list[str], code: int,
                                             message: str) -> None:
    """(On SQLite only: the refusals before the database are the same on both, and the one
    after it, the unknown id, is the store's NotFound that the first test meets on both.)"""
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    db = Database(url)
    db.upgrade()
    try:
        done = runner(url, tmp_path / "home")(*args)
        assert done.returncode == code, done.stderr
        assert message in done.stderr and done.stdout == ""
        assert rows(db) == ([], [])
    finally:
        db.close()


def test_a_name_an_active_key_holds_is_refused_until_it_is_revoked(keys, database: Database) -> None:  # type: ignore[no-untyped-def]
    assert keys("create", "acme", "--scopes", "moderate").returncode == 0
    twice = keys("create", "acme", "--scopes", "results")
    assert twice.returncode == 2 and "an active key named 'acme' exists already (id 1)" in twice.stderr
    assert len(rows(database)[0]) == 1
    assert keys("revoke", "1").returncode == 0
    assert keys("create", "acme", "--scopes", "results").returncode == 0  # the rotation
    assert [k.revoked_at is None for k in rows(database)[0]] == [False, True]


def test_an_unreachable_database_fails_clearly(tmp_path: Path) -> None:
    env = {**os.environ, "CONTENTGUARD_DATA_HOME": str(tmp_path),
           "CONTENTGUARD_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    done = subprocess.run([sys.executable, "-m", "contentguard.cli", "keys", "list"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "cannot open the database" in done.stderr
    assert "Traceback" not in done.stderr

"""`contentguard db …`, `contentguard users …` and the first start of `serve`, as a user runs them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from helpers.accounts import PASSWORD

from contentguard.cli.team import bootstrap_admin
from contentguard.settings import Settings
from contentguard.store import accounts
from contentguard.store.db import Database


def run(
    args: list[str], home: Path, stdin: str = "", url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CONTENTGUARD_DATA_HOME": str(home)}
    env.pop("CONTENTGUARD_DATABASE_URL", None)
    if url:
        env["CONTENTGUARD_DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "contentguard.cli", *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=120)


def test_db_upgrade_is_idempotent_and_creates_the_sqlite_file(tmp_path: Path) -> None:
    for _ in range(2):
        done = run(["db", "upgrade"], tmp_path)
        assert done.returncode == 0, done.stderr
        assert "at revision 0001" in done.stderr
    assert (tmp_path / "contentguard.db").is_file()
    fresh = tmp_path / "new-home"
    assert run(["db", "upgrade"], fresh).returncode == 0
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700  # a folder we make is private
    assert run(["db", "current"], tmp_path).stdout.strip() == "0001"


def test_db_upgrade_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    done = run(["db", "upgrade"], tmp_path, url=pg_url)
    assert done.returncode == 0, done.stderr
    assert run(["db", "current"], tmp_path, url=pg_url).stdout.strip() == "0001"


def test_db_upgrade_with_an_unreachable_database_fails_clearly(tmp_path: Path) -> None:
    done = run(["db", "upgrade"], tmp_path, url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert done.returncode == 1
    assert "migration failed" in done.stderr and "Traceback" not in done.stderr


def test_create_admin_from_stdin_then_sign_in(tmp_path: Path) -> None:
    made = run(["users", "create-admin", "boss", "--password-stdin"], tmp_path, stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    assert "created admin 'boss'" in made.stderr
    again = run(["users", "create-admin", "boss", "--password-stdin"], tmp_path, stdin=PASSWORD + "\n")
    assert again.returncode == 2 and "exists already" in again.stderr
    weak = run(["users", "create", "mod", "--password-stdin"], tmp_path, stdin="short\n")
    assert weak.returncode == 2 and "at least" in weak.stderr
    listed = run(["users", "list"], tmp_path)
    assert "boss\tadmin\tactive" in listed.stdout
    db = Database(f"sqlite:///{tmp_path / 'contentguard.db'}")
    with db.session() as session:
        assert accounts.authenticate(session, "boss", PASSWORD) is not None
    db.close()


def test_first_start_makes_one_admin_with_a_private_random_password(tmp_path: Path) -> None:
    settings = Settings(data_home=tmp_path)
    db = Database(settings.resolved_database_url())
    db.upgrade()
    path = bootstrap_admin(settings, db)
    assert path is not None and stat.S_IMODE(path.stat().st_mode) == 0o600
    password = path.read_text().strip()
    assert len(password) >= 20
    with db.session() as session:
        assert accounts.authenticate(session, "admin", password) is not None
    assert bootstrap_admin(settings, db) is None  # later starts leave accounts alone
    assert path.read_text().strip() == password
    db.close()

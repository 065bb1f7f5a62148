"""Shared fixtures. Real data lives outside the repo: tests that need it skip on a user's clone
(with a message) and fail under CI=true, where the data must be present."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from accounts import make_key
from apps import wait_ready
from fastapi.testclient import TestClient

from contentguard.moderation.image import Moderator
from contentguard.server import create_app
from contentguard.settings import Settings

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, what: str) -> None:
    """Skip on a developer machine, fail in CI, when something a test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{what} (required because CI=true)")
    pytest.skip(what)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The environment's settings, with the service's data (database, first admin's password)
    in a temporary folder so tests never touch the user's own."""
    home = tmp_path_factory.mktemp("data_home")
    return Settings(data_home=home, database_url=f"sqlite:///{home / 'contentguard.db'}")


@pytest.fixture(scope="session")
def data_dir(settings: Settings) -> Path:
    """`../shared/data` (or CONTENTGUARD_DATA_DIR): the real photos, drawings and bad inputs."""
    path = settings.data_dir.resolve()
    require(
        (path / "images").is_dir(),
        f"real test data not found at {path}; set CONTENTGUARD_DATA_DIR to the shared data folder",
    )
    return path


@pytest.fixture(scope="session")
def need():
    """`need(condition, what)`: skip here / fail in CI when a test's prerequisite is missing."""
    return require


@pytest.fixture(scope="session")
def shared_moderator(settings: Settings):
    """One loaded moderator (real models) for every test that only needs *a* moderator."""
    with Moderator(settings) as moderator:
        yield moderator


@pytest.fixture(scope="session")
def shared_text_moderator(settings: Settings):
    """One loaded text moderator (real models, default policy)."""
    from contentguard.moderation.text import TextModerator

    return TextModerator(settings)


PG_ADMIN_URL = os.environ.get(
    "CONTENTGUARD_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="session")
def pg_url():  # type: ignore[no-untyped-def]
    """URL of a fresh, empty PostgreSQL database on the local server (dropped afterwards).
    Skips here / fails in CI when the server is unreachable."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:
        admin.dispose()
        require(False, f"PostgreSQL not reachable at {PG_ADMIN_URL} ({exc.__class__.__name__}); "
                       "install and start postgresql, or set CONTENTGUARD_TEST_PG_URL")
    name = f"cg_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
            ), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):  # type: ignore[no-untyped-def]
    """A migrated, empty database of each kind (SQLite file; PostgreSQL on the local server,
    emptied between tests)."""
    from contentguard.store.db import Database

    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'cg.db'}")
    else:
        database = Database(request.getfixturevalue("pg_url"))
        with database.engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    database.upgrade()
    try:
        yield database
    finally:
        database.close()


# --- the real app on the real models (one moderator shared by every app the tests build) ----------
@pytest.fixture(scope="session")
def make_client(
    shared_moderator: Moderator, shared_text_moderator, settings: Settings,  # type: ignore[no-untyped-def]
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[..., object]:
    """`with make_client(**setting_overrides) as client:` a ready TestClient on its own fresh
    SQLite database, signed with an API key holding every scope (`auth=False`: no key;
    `database_url=...` overrides the database)."""

    @contextmanager
    def make(auth: bool = True, **overrides: object) -> Iterator[TestClient]:
        if "database_url" not in overrides:
            overrides["database_url"] = f"sqlite:///{tmp_path_factory.mktemp('db') / 'cg.db'}"
        changed = settings.model_copy(update=overrides)
        # the shared text moderator holds the default text settings; others build their own
        texts = None if any(k.startswith(("text_", "max_text")) for k in overrides) else shared_text_moderator
        app = create_app(changed, moderator=shared_moderator, text_moderator=texts)
        with TestClient(app, raise_server_exceptions=False) as client:
            wait_ready(client)
            if auth:
                client.headers["Authorization"] = f"Bearer {make_key(app.state.db)}"
            yield client

    return make



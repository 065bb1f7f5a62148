"""Shared fixtures. Real data lives outside the repo: tests that need it skip on a user's clone
(with a message) and fail under CI=true, where the data must be present.

Two tiers of apps: `make_client` runs the real models (pulled once per machine); the fast tier,
`make_dummy_client` and the other `dummy_*` fixtures, runs the same app and moderators over the
dummy detectors of helpers/dummy.py, for tests of the surface rather than of the models."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers import dummy
from helpers.accounts import make_key
from helpers.apps import Models, app_over, wait_ready

from contentguard.moderation.image import Moderator
from contentguard.moderation.text import TextModerator
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


# --- the app over a tier's moderators: the real models, or the dummies of the fast tier ------
@pytest.fixture(scope="session")
def real_models(shared_moderator: Moderator, shared_text_moderator) -> Models:  # type: ignore[no-untyped-def]
    return Models(shared_moderator, shared_text_moderator, own_text=lambda _: nullcontext(None))


@pytest.fixture(scope="session")
def dummy_moderator(settings: Settings) -> Iterator[Moderator]:
    """The fast tier's image moderator: the real moderator over the dummy detectors
    (helpers/dummy.py) and the default policy; no pulled models."""
    with dummy.moderator(settings) as moderator:
        yield moderator


@pytest.fixture(scope="session")
def dummy_text_moderator(settings: Settings) -> Iterator[TextModerator]:
    """The fast tier's text moderator (dummy detectors, default policy)."""
    with dummy.text_moderator(settings) as moderator:
        yield moderator


@pytest.fixture(scope="session")
def dummy_models(dummy_moderator: Moderator, dummy_text_moderator: TextModerator) -> Models:
    return Models(dummy_moderator, dummy_text_moderator, own_text=dummy.text_moderator)


def _client_factory(models: Models, settings: Settings,
                    tmp_path_factory: pytest.TempPathFactory) -> Callable[..., object]:
    @contextmanager
    def make(auth: bool = True, **overrides: object) -> Iterator[TestClient]:
        if "database_url" not in overrides:
            overrides["database_url"] = f"sqlite:///{tmp_path_factory.mktemp('db') / 'cg.db'}"
        with app_over(models, settings, **overrides) as app, \
                TestClient(app, raise_server_exceptions=False) as client:
            wait_ready(client)
            if auth:
                client.headers["Authorization"] = f"Bearer {make_key(app.state.db)}"
            yield client

    return make


@pytest.fixture(scope="session")
def make_client(real_models: Models, settings: Settings,
                tmp_path_factory: pytest.TempPathFactory) -> Callable[..., object]:
    """`with make_client(**setting_overrides) as client:` a ready TestClient of the app on the
    real models, on its own fresh SQLite database, signed with an API key holding every scope
    (`auth=False`: no key; `database_url=...` overrides the database)."""
    return _client_factory(real_models, settings, tmp_path_factory)


@pytest.fixture(scope="session")
def make_dummy_client(dummy_models: Models, settings: Settings,
                      tmp_path_factory: pytest.TempPathFactory) -> Callable[..., object]:
    """`make_client` on the dummy detectors: for tests of the surface (routes, auth, limits,
    jobs, webhooks, review), not of the models."""
    return _client_factory(dummy_models, settings, tmp_path_factory)

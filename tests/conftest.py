"""Shared fixtures. Real data lives outside the repo: tests that need it skip on a user's clone
(with a message) and fail under CI=true, where the data must be present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contentguard.pipeline import Moderator
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
    from contentguard.text_moderation import TextModerator

    return TextModerator(settings)

"""The app for the review tests, with a policy that sends every image to review (so items reach
the queue through the real moderation route), and clients signed in as people. `review_app`
runs the real models (the client journey); `dummy_review_app`, the dummy detectors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from helpers import dummy
from helpers.accounts import signed_in_client
from helpers.apps import Models, app_over, wait_ready
from helpers.samples import REVIEW_ALL_POLICY

from contentguard.moderation.image import Moderator
from contentguard.moderation.policy import Policy
from contentguard.settings import Settings


def _review_app(models: Models, moderator: Moderator, settings: Settings,
                tmp_path_factory: pytest.TempPathFactory) -> Callable[..., object]:
    @contextmanager
    def make(**overrides: object) -> Iterator[TestClient]:
        overrides.setdefault("database_url", f"sqlite:///{tmp_path_factory.mktemp('db') / 'cg.db'}")
        with app_over(models, settings, moderator, **overrides) as app, \
                TestClient(app, raise_server_exceptions=False) as client:
            wait_ready(client)
            yield client

    return make


@pytest.fixture(scope="session")
def review_moderator(settings: Settings) -> Iterator[Moderator]:
    with Moderator(settings, policy=Policy.from_yaml(REVIEW_ALL_POLICY, origin="test")) as moderator:
        yield moderator


@pytest.fixture(scope="session")
def review_app(real_models: Models, review_moderator: Moderator, settings: Settings,
               tmp_path_factory: pytest.TempPathFactory) -> Callable[..., object]:
    """`with review_app(**overrides) as client:` a ready TestClient (no credentials of its own)
    on a fresh SQLite database, moderating images with REVIEW_ALL_POLICY on the real models."""
    return _review_app(real_models, review_moderator, settings, tmp_path_factory)


@pytest.fixture(scope="session")
def dummy_review_app(dummy_models: Models, settings: Settings,
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., object]]:
    """`review_app` on the dummy detectors."""
    policy = Policy.from_yaml(REVIEW_ALL_POLICY, origin="test")
    with dummy.moderator(settings, policy) as moderator:
        yield _review_app(dummy_models, moderator, settings, tmp_path_factory)


@pytest.fixture
def signed_in() -> Callable[..., TestClient]:
    """`signed_in(client, username, role="moderator")`: another client on the same app, signed
    in as `username` (made if new), sending its CSRF token with every request."""

    return signed_in_client

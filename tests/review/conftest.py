"""The real app for the review tests, with a policy that sends every image to review (so items
reach the queue through the real moderation route), and clients signed in as people."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from accounts import signed_in_client
from apps import wait_ready
from fastapi.testclient import TestClient
from samples import REVIEW_ALL_POLICY

from contentguard.moderation.image import Moderator
from contentguard.moderation.policy import Policy
from contentguard.server import create_app
from contentguard.settings import Settings


@pytest.fixture(scope="session")
def review_moderator(settings: Settings) -> Iterator[Moderator]:
    with Moderator(settings, policy=Policy.from_yaml(REVIEW_ALL_POLICY, origin="test")) as moderator:
        yield moderator


@pytest.fixture(scope="session")
def review_app(review_moderator: Moderator, shared_text_moderator, settings: Settings,  # type: ignore[no-untyped-def]
               tmp_path_factory: pytest.TempPathFactory) -> Callable[..., object]:
    """`with review_app(**overrides) as client:` a ready TestClient (no credentials of its own)
    on a fresh SQLite database, moderating images with REVIEW_ALL_POLICY."""

    @contextmanager
    def make(**overrides: object) -> Iterator[TestClient]:
        overrides.setdefault("database_url", f"sqlite:///{tmp_path_factory.mktemp('db') / 'cg.db'}")
        app = create_app(settings.model_copy(update=overrides), moderator=review_moderator,
                         text_moderator=shared_text_moderator)
        with TestClient(app, raise_server_exceptions=False) as client:
            wait_ready(client)
            yield client

    return make


@pytest.fixture
def signed_in() -> Callable[..., TestClient]:
    """`signed_in(client, username, role="moderator")`: another client on the same app, signed
    in as `username` (made if new), sending its CSRF token with every request."""

    return signed_in_client

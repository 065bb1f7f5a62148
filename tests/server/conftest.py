"""The real app on the real models; one moderator is shared by every app the tests build."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from accounts import make_key
from fastapi.testclient import TestClient

from contentguard.pipeline import Moderator
from contentguard.server import create_app
from contentguard.settings import Settings


def wait_ready(client: TestClient, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.02)
    raise AssertionError(f"/readyz not 200 after {timeout} s: {client.get('/readyz').json()}")


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


@pytest.fixture(scope="module")
def client(make_client) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with make_client(fetch_allow_networks=["127.0.0.0/8"]) as client:
        yield client

"""The real app on the real models; one moderator is shared by every app the tests build."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
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
    shared_moderator: Moderator, shared_text_moderator, settings: Settings  # type: ignore[no-untyped-def]
) -> Callable[..., object]:
    """`with make_client(**setting_overrides) as client:` a ready TestClient."""

    @contextmanager
    def make(**overrides: object) -> Iterator[TestClient]:
        changed = settings.model_copy(update=overrides)
        # the shared text moderator holds the default text settings; others build their own
        texts = None if any(k.startswith(("text_", "max_text")) for k in overrides) else shared_text_moderator
        app = create_app(changed, moderator=shared_moderator, text_moderator=texts)
        with TestClient(app, raise_server_exceptions=False) as client:
            wait_ready(client)
            yield client

    return make


@pytest.fixture(scope="module")
def client(make_client) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with make_client(fetch_allow_networks=["127.0.0.0/8"]) as client:
        yield client

"""For tests that build their own app: the moderators a test tier shares (real or dummy), the
app over them, waiting until it is ready, and serving it with uvicorn on a real socket."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from contentguard.moderation.image import Moderator
from contentguard.moderation.text import TextModerator
from contentguard.server import create_app
from contentguard.settings import Settings
from helpers.accounts import SERVED as DATABASES


@dataclass(frozen=True)
class Models:
    """The moderators every app of a test tier shares: the real ones (pulled models, loaded
    once) or the dummies (helpers/dummy.py). A shared text moderator holds the default text
    settings, so an app whose overrides change them gets `own_text(settings)` instead: a context
    manager giving a text moderator (None: the app builds, and closes, its own)."""

    image: Moderator
    text: TextModerator
    own_text: Callable[[Settings], AbstractContextManager[TextModerator | None]]


def changes_texts(overrides: Mapping[str, object]) -> bool:
    """Whether setting overrides change what a text moderator is built with."""
    return any(k.startswith(("text_", "max_text")) for k in overrides)


@contextmanager
def app_over(models: Models, settings: Settings, moderator: Moderator | None = None,
             **overrides: object) -> Iterator[FastAPI]:
    """`create_app` with `overrides` over the tier's moderators (`moderator`: another image
    moderator, e.g. one with a test policy)."""
    changed = settings.model_copy(update=overrides)
    texts = models.own_text(changed) if changes_texts(overrides) else nullcontext(models.text)
    with texts as text_moderator:
        yield create_app(changed, moderator=moderator or models.image, text_moderator=text_moderator)


def wait_ready(client: TestClient, timeout: float = 120.0) -> None:
    """Return once `/readyz` answers 200; fail with its last answer after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/readyz").status_code == 200:
            return
        time.sleep(0.02)
    raise AssertionError(f"/readyz not 200 after {timeout} s: {client.get('/readyz').json()}")


@contextmanager
def serve_app(app: object, ready_timeout: float = 120.0) -> Iterator[str]:
    """Run `app` with uvicorn in a thread on 127.0.0.1 (a free port), with the connection
    settings `serve` uses; yield its base URL once `/readyz` answers 200, i.e. the models are
    loaded."""
    from contentguard.server.transport import uvicorn_options

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",  # type: ignore[arg-type]
                            **uvicorn_options(app.state.settings))  # type: ignore[attr-defined]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + ready_timeout
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped before it started (see the log above)"
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        while httpx.get(f"{base}/readyz").status_code != 200:
            assert time.monotonic() < deadline, f"{base}/readyz not 200 after {ready_timeout} s"
            time.sleep(0.05)
        DATABASES[base] = app.state.db  # type: ignore[attr-defined]
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def backend_overrides(request) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Settings overrides for the database backend a fixture is parametrised with: none for
    "sqlite" (the app's own fresh file), the test server's database emptied for "postgresql"."""
    if request.param != "postgresql":
        return {}
    from contentguard.store.db import Database

    url = request.getfixturevalue("pg_url")
    fresh = Database(url)
    with fresh.engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    fresh.close()
    return {"database_url": url}

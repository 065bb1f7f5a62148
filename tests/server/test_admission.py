"""Admission and starvation (issue #13 items 9 and 12), on a real uvicorn server.

Texts go through their own bounded micro-batcher: while text model runs are busy, storing
results, reading them back and the health checks still answer, and texts beyond `max_queue`
get 429 `overloaded` with `Retry-After`. `?async=true` is bounded the same way by
`max_pending_jobs`, counted in the jobs table, whole requests at a time.

The load is a gate: a text detector that holds every model run while it is closed, standing in
for long texts keeping the text models busy (what is under test is our scheduling around the
models, not the models); the dummy text and image detectors (helpers/dummy.py) run beside it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
from helpers.accounts import make_key
from helpers.apps import serve_app
from helpers.samples import Reply, http_server, image_bytes
from sqlalchemy import func, select

from contentguard.detectors.base import Signals, TextDetector
from contentguard.media.text import Normalized
from contentguard.moderation.text import TextModerator
from contentguard.server import create_app
from contentguard.settings import Settings
from contentguard.store.db import Database
from contentguard.store.tables import AsyncJob

PNG = image_bytes(13)
#: As many concurrent texts as the default thread pool has threads (asyncio's default): were
#: texts run there, storing and database reads would find no thread left.
DEFAULT_POOL = min(32, (os.cpu_count() or 1) + 4)
HOLD_S = 120.0  # the gate opens by itself after this long, so a failing test cannot hang


class Gate(TextDetector):
    """Holds every model run while closed; counts the texts (one chunk each) held."""

    name = "gate"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self.held = 0

    @property
    def model_name(self) -> str:
        return "gate"

    @property
    def version(self) -> str:
        return "1"

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    def predict(self, batch: Sequence[Normalized]) -> list[Signals]:
        if not self._open.is_set():
            with self._lock:
                self.held += len(batch)
            self._open.wait(HOLD_S)
            with self._lock:
                self.held -= len(batch)
        return [Signals() for _ in batch]


@pytest.fixture
def gated(settings: Settings, dummy_text_moderator: TextModerator) -> Iterator[tuple[TextModerator, Gate]]:
    """A text moderator whose model runs pass the gate first, then the dummy text detectors."""
    gate = Gate(settings)
    moderator = TextModerator(settings, detectors=[gate, *dummy_text_moderator.detectors])
    try:
        yield moderator, gate
    finally:
        gate.open()
        moderator.close()


@pytest.fixture
def serve_gated(settings, dummy_moderator, gated, tmp_path):  # type: ignore[no-untyped-def]
    """`with serve_gated(database=None, **setting_overrides) as (base, headers, app):` the app
    with the gated text moderator on uvicorn, and the headers of an API key."""
    moderator, _ = gated

    @contextmanager
    def make(database: Database | None = None, **overrides: object) -> Iterator[tuple[str, dict, object]]:
        overrides.setdefault("database_url", f"sqlite:///{tmp_path / 'cg.db'}")
        app = create_app(settings.model_copy(update=overrides), moderator=dummy_moderator,
                         text_moderator=moderator, database=database)
        with serve_app(app) as base:
            yield base, {"Authorization": f"Bearer {make_key(app.state.db)}"}, app

    return make


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not after {timeout} s: {what}"
        time.sleep(0.02)


def texts_held(app: object, gate: Gate) -> int:
    """Texts the server holds unfinished: those in the text queue (with the gate's among
    them), or, were texts run outside a queue, those waiting at the gate."""
    queue = getattr(app.state.engine, "text_batcher", None)  # type: ignore[attr-defined]
    return max(gate.held, queue.pending if queue is not None else 0)


def assert_overloaded(answer: httpx.Response) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.json()["error"]["code"] == "overloaded"
    assert int(answer.headers["retry-after"]) >= 1


# --- item 9: texts do not starve storing or health checks; their queue is bounded ----------------
def test_storing_reading_and_health_answer_while_text_models_are_busy(serve_gated, gated) -> None:
    _, gate = gated
    n = DEFAULT_POOL
    with serve_gated(max_queue=n) as (base, headers, app), \
            httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        stored = client.post("/v1/moderate/image", content=PNG, headers={"content-type": "image/png"})
        assert stored.status_code == 200, stored.text
        result_id = stored.json()["result_id"]

        gate.close()
        answers: list[httpx.Response] = []
        with ThreadPoolExecutor(n) as senders:
            busy = [senders.submit(httpx.post, f"{base}/v1/moderate/text", headers=headers,
                                   json={"text": f"text number {i}"}, timeout=HOLD_S + 60) for i in range(n)]
            try:
                wait_for(lambda: texts_held(app, gate) >= n and gate.held >= 1,
                         f"{n} texts held by the server")
                # While every one of them waits for the text models:
                assert client.get("/healthz").status_code == 200
                assert client.get("/readyz").status_code == 200
                assert client.get(f"/v1/results/{result_id}").json()["result_id"] == result_id
                image = client.post("/v1/moderate/image", content=image_bytes(14),
                                    headers={"content-type": "image/png"})
                assert image.status_code == 200, image.text  # moderated *and stored*
                assert client.get(f"/v1/results/{image.json()['result_id']}").status_code == 200
                later = client.post("/v1/moderate/image?async=true", content=image_bytes(15),
                                    headers={"content-type": "image/png"})
                assert later.status_code == 202, later.text
                assert not any(f.done() for f in busy), "a text finished while the gate was closed"

                # The text queue is full: one more text, or a request of two, is refused at once.
                assert_overloaded(client.post("/v1/moderate/text", json={"text": "one more"}))
                assert_overloaded(client.post("/v1/moderate/text", json={"texts": ["a", "b"]}))
            finally:
                gate.open()
            answers = [f.result() for f in busy]
        assert [a.status_code for a in answers] == [200] * n
        assert {a.json()["source"] for a in answers} == {"text"}
        # Drained: texts are admitted again, and every result was stored.
        again = client.post("/v1/moderate/text", json={"texts": ["a", "b"]})
        assert again.status_code == 200, again.text
        for answer in answers:
            assert client.get(f"/v1/results/{answer.json()['result_id']}").status_code == 200


def test_a_text_request_over_the_queue_is_refused_whole(serve_gated, gated) -> None:
    _, gate = gated
    with serve_gated(max_queue=3) as (base, headers, app), \
            httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        gate.close()
        with ThreadPoolExecutor(1) as sender:
            held = sender.submit(client.post, "/v1/moderate/text", json={"texts": ["x", "y"]},
                                 timeout=HOLD_S + 60)
            try:
                wait_for(lambda: texts_held(app, gate) >= 2, "two texts held")
                # One place is left: a request of two is refused, and none of it is queued.
                assert_overloaded(client.post("/v1/moderate/text", json={"texts": ["a", "b"]}))
                assert app.state.engine.text_batcher.pending == 2
            finally:
                gate.open()
            assert held.result().status_code == 200


# --- item 12: the async backlog is bounded ------------------------------------------------------
def job_rows(app: object) -> int:
    with app.state.db.session() as session:  # type: ignore[attr-defined]
        return session.scalar(select(func.count()).select_from(AsyncJob)) or 0


def poll(client: httpx.Client, status_url: str, timeout: float = 60.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while (answer := client.get(status_url)).status_code == 202:
        assert time.monotonic() < deadline, f"{status_url} stayed pending"
        time.sleep(0.05)
    return answer


def test_async_submissions_beyond_the_backlog_get_429_and_none_is_lost(serve_gated, gated, db) -> None:
    """Text jobs wait at the gate and an image job for its slow URL, so all stay pending."""
    _, gate = gated
    release = threading.Event()

    def slow_png() -> Reply:
        release.wait(HOLD_S)
        return Reply(PNG, content_type="image/png")

    png = {"content-type": "image/png"}
    files = [("file", (f"{n}.png", image_bytes(20 + n), "image/png")) for n in range(2)]
    with http_server({"/slow.png": slow_png}) as images, \
            serve_gated(database=db, max_pending_jobs=4, fetch_allow_networks=["127.0.0.0/8"]) \
            as (base, headers, app), httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        gate.close()
        try:
            texts = client.post("/v1/moderate/text?async=true", json={"texts": ["a", "b", "c"]})
            assert texts.status_code == 202, texts.text
            accepted = [r["status_url"] for r in texts.json()["results"]]
            # 3 pending of 4: a batch of two would go over and is refused whole.
            over = client.post("/v1/moderate/batch?async=true", files=files)
            assert_overloaded(over)
            assert "max_pending_jobs 4" in over.json()["error"]["message"]
            assert job_rows(app) == 3
            one = client.post("/v1/moderate/image?async=true", json={"url": f"{images}/slow.png"})
            assert one.status_code == 202, one.text
            accepted.append(one.json()["status_url"])
            # 4 of 4: every kind of async request is refused now.
            assert_overloaded(client.post("/v1/moderate/text?async=true", json={"text": "more"}))
            assert_overloaded(client.post("/v1/moderate/text?async=true", json={"texts": ["d"]}))
            assert_overloaded(client.post("/v1/moderate/image?async=true", content=PNG, headers=png))
            assert_overloaded(client.post("/v1/moderate/batch?async=true", files=files[:1]))
            assert job_rows(app) == 4
        finally:
            gate.open()
            release.set()
        results = [poll(client, url) for url in accepted]
        assert [r.status_code for r in results] == [200] * 4  # none of the accepted is lost
        # Drained: new async work is accepted again, and finished.
        again = client.post("/v1/moderate/batch?async=true", files=files)
        assert again.status_code == 202, again.text
        text = client.post("/v1/moderate/text?async=true", json={"text": "after"})
        assert text.status_code == 202, text.text
        for url in [r["status_url"] for r in again.json()["results"]] + [text.json()["status_url"]]:
            assert poll(client, url).status_code == 200


def test_concurrent_async_submissions_never_overshoot_the_backlog(serve_gated, gated, db) -> None:
    """Many clients at once: exactly `max_pending_jobs` accepted, the rest 429 (counting and
    inserting are one step for every process on the database, on both backends)."""
    _, gate = gated
    with serve_gated(database=db, max_pending_jobs=5) as (base, headers, app):
        gate.close()
        try:
            def submit(i: int) -> int:
                return httpx.post(f"{base}/v1/moderate/text?async=true", headers=headers,
                                  json={"text": f"t{i}"}, timeout=60).status_code

            with ThreadPoolExecutor(12) as clients:
                statuses = list(clients.map(submit, range(24)))
            assert sorted(set(statuses)) == [202, 429], statuses
            assert statuses.count(202) == 5 == job_rows(app)
        finally:
            gate.open()

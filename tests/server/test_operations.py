"""Health, readiness, metrics, the committed OpenAPI schema and the micro-batcher."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from fastapi.testclient import TestClient
from helpers.accounts import make_key
from helpers.samples import image_bytes
from prometheus_client import REGISTRY

from contentguard.errors import Overloaded
from contentguard.moderation.batcher import MicroBatcher
from contentguard.moderation.image import Item, Moderator
from contentguard.schemas import ModerationResult
from contentguard.server import create_app
from contentguard.service.engine import Engine
from contentguard.store.db import Database

OPENAPI = Path(__file__).parents[2] / "docs" / "openapi.json"


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_healthz_and_readyz(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready"
    assert {m["name"] for m in body["models"]} >= {"dummy-colour-classifier", "dummy-colour-regions"}
    assert body["policy_version"]


def test_not_ready_while_loading_then_ready(settings, dummy_moderator, tmp_path) -> None:
    gate = threading.Event()

    def slow() -> Moderator:
        gate.wait(30)
        return dummy_moderator

    db = Database(f"sqlite:///{tmp_path / 'cg.db'}")
    db.upgrade()
    engine = Engine(settings, db, make_moderator=slow)
    loader = threading.Thread(target=engine.load)
    loader.start()
    assert engine.status()["status"] == "loading"
    try:
        engine.require_ready()
        raise AssertionError("require_ready passed while loading")
    except Exception as exc:
        assert getattr(exc, "code", None) == "not_ready"
    gate.set()
    loader.join(30)
    assert engine.ready and engine.status()["status"] == "ready"
    engine.close(own_moderator=False)


def test_models_that_fail_to_load_make_readyz_and_moderation_503(settings, tmp_path) -> None:
    broken = settings.model_copy(update={"model_dir": tmp_path / "empty", "auto_pull": False})
    with TestClient(create_app(broken), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {make_key(client.app.state.db)}"
        for _ in range(500):
            body = client.get("/readyz").json()
            if body["status"] != "loading":
                break
            threading.Event().wait(0.01)
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["status"] == "failed"
        assert response.json()["error"]["code"] == "not_ready"
        moderated = client.post(
            "/v1/moderate/image", content=image_bytes(1), headers={"content-type": "image/png"}
        )
        assert moderated.status_code == 503
        assert moderated.json()["error"]["code"] == "not_ready"
        assert "models pull" in moderated.json()["error"]["message"]
        assert client.get("/healthz").status_code == 200  # alive, just not ready


def test_metrics_count_requests_models_and_decisions(client) -> None:
    route = {"method": "POST", "route": "/v1/moderate/image", "status": "200"}
    before = sample("contentguard_http_requests_total", route)
    runs_before = sample("contentguard_model_batch_size_count", {"model": "nsfw-classifier"})
    client.post("/v1/moderate/image", content=image_bytes(3), headers={"content-type": "image/png"})
    client.get(f"/v1/results/{'a' * 64}")
    text = client.get("/metrics").text
    assert sample("contentguard_http_requests_total", route) == before + 1
    assert sample("contentguard_model_batch_size_count", {"model": "nsfw-classifier"}) > runs_before
    # ids don't become labels: the route template does
    assert 'route="/v1/results/{result_id}"' in text
    for name in ("contentguard_http_request_duration_seconds_bucket", "contentguard_model_run_seconds_bucket",
                 "contentguard_decisions_total", "contentguard_http_requests_in_flight",
                 "contentguard_url_fetch_total", "contentguard_queue_depth"):
        assert name in text, name


def test_concurrent_items_share_model_runs(dummy_moderator) -> None:
    batcher = MicroBatcher(dummy_moderator, max_batch=16, max_wait_ms=200, max_queue=64)
    try:
        runs = sample("contentguard_model_batch_size_count", {"model": "nsfw-classifier"})
        items = sample("contentguard_model_batch_size_sum", {"model": "nsfw-classifier"})
        futures = [batcher.submit(Item.from_bytes(image_bytes(100 + n), f"{n}.png")) for n in range(8)]
        done = [f.result(60) for f in futures]
        outcomes = [d.outcome for d in done]
        assert all(isinstance(o, ModerationResult) for o in outcomes)
        assert [o.source for o in outcomes] == [f"{n}.png" for n in range(8)]
        # each caller gets back what was read for it, for storing it without reading it again
        assert [d.prepared.read.data for d in done] == [image_bytes(100 + n) for n in range(8)]
        assert all(d.prepared.read.media_type == "image/png" for d in done)
        new_runs = sample("contentguard_model_batch_size_count", {"model": "nsfw-classifier"}) - runs
        new_items = sample("contentguard_model_batch_size_sum", {"model": "nsfw-classifier"}) - items
        assert new_items == 8
        assert new_runs < 8, "eight concurrent items should not take eight model runs"
        assert batcher.pending == 0
    finally:
        batcher.close()


def test_a_full_queue_refuses_new_items(dummy_moderator) -> None:
    batcher = MicroBatcher(dummy_moderator, max_batch=4, max_wait_ms=100, max_queue=2)
    try:
        first = [batcher.submit(Item.from_bytes(image_bytes(n), "x")) for n in range(2)]
        try:
            batcher.submit(Item.from_bytes(image_bytes(9), "y"))
            raise AssertionError("a third item was accepted over max_queue=2")
        except Overloaded as exc:
            assert "max_queue" in exc.message
        assert all(f.result(60) for f in first)
        assert isinstance(batcher.submit(Item.from_bytes(image_bytes(9), "y")).result(60).outcome,
                          ModerationResult)
    finally:
        batcher.close()


def test_committed_openapi_schema_is_current(client) -> None:
    current = client.get("/openapi.json").json()
    committed = json.loads(OPENAPI.read_text())
    assert current == committed, "the API changed: run `make docs` and commit docs/openapi.json"
    paths = set(current["paths"])
    assert {"/v1/moderate/image", "/v1/moderate/batch", "/v1/results/{result_id}", "/healthz", "/readyz",
            "/metrics"} <= paths
    body = current["paths"]["/v1/moderate/image"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json", "image/*"} <= set(body)


def test_docs_page_is_served(client) -> None:
    response = client.get("/docs")
    assert response.status_code == 200 and "swagger" in response.text.lower()

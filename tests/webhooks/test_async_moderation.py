"""`?async=true` end to end on the real app over the dummy detectors: 202 with the future result
id, the result delivered signed to the key's callback and readable by polling, failures reported
the same way, and jobs a killed server left pending finished by the next one on the same
database."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from helpers.accounts import make_key
from helpers.apps import wait_ready
from helpers.samples import Reply, http_server, image_bytes
from helpers.webhook_receiver import Received, webhook_receiver
from sqlalchemy import select

from contentguard.schemas import ErrorResult, ModerationResult
from contentguard.server import create_app
from contentguard.settings import Settings
from contentguard.store.db import Database
from contentguard.store.tables import ApiKey, AsyncJob, StoredDecision, WebhookDelivery

PNG = image_bytes(7)


def slow_png() -> Reply:
    """An image that takes a second to arrive: the job stays pending meanwhile."""
    time.sleep(1.0)
    return Reply(PNG, content_type="image/png")


@pytest.fixture(scope="module")
def app_on(dummy_moderator, dummy_text_moderator, settings: Settings,  # type: ignore[no-untyped-def]
           tmp_path_factory: pytest.TempPathFactory) -> Callable[..., object]:
    """`with app_on(database_url) as client:` the app on the dummies, ready, local callbacks
    allowed."""

    @contextmanager
    def make(database_url: str | None = None) -> Iterator[TestClient]:
        url = database_url or f"sqlite:///{tmp_path_factory.mktemp('db') / 'cg.db'}"
        changed = settings.model_copy(update={
            "database_url": url, "fetch_allow_networks": ["127.0.0.0/8"], "webhook_backoff_s": 0.05,
        })
        app = create_app(changed, moderator=dummy_moderator, text_moderator=dummy_text_moderator)
        with TestClient(app, raise_server_exceptions=False) as client:
            wait_ready(client)
            yield client

    return make


@pytest.fixture(scope="module")
def client(app_on) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with app_on() as client:
        yield client


def db_of(client: TestClient) -> Database:
    return client.app.state.db  # type: ignore[attr-defined]


def key_for(client: TestClient, callback_url: str | None) -> tuple[dict[str, str], str]:
    """(auth headers, webhook secret) of a new key with this callback URL."""
    db = db_of(client)
    key = make_key(db, callback_url=callback_url)
    with db.session() as session:
        secret = session.scalar(select(ApiKey.webhook_secret).where(ApiKey.prefix == key[:11]))
    assert secret
    return {"Authorization": f"Bearer {key}"}, secret


def poll(client: TestClient, status_url: str, headers: dict[str, str], timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(status_url, headers=headers)
        if answer.status_code != 202:
            return answer
        assert answer.json()["status"] == "pending"
        assert time.monotonic() < deadline, "the job stayed pending"
        time.sleep(0.05)


def verified(got: Received, secret: str) -> dict:  # type: ignore[type-arg]
    """The webhook's body, after checking its signature as a receiver would."""
    timestamp = got.headers["ContentGuard-Timestamp"]
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + got.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(got.headers["ContentGuard-Signature"], f"v1={mac}")
    assert got.headers["ContentGuard-Event"] == "moderation.completed"
    return json.loads(got.body)


def test_async_image_is_accepted_then_delivered_signed(client: TestClient) -> None:
    with webhook_receiver() as receiver:
        headers, secret = key_for(client, receiver.url)
        answer = client.post("/v1/moderate/image?async=true", content=PNG,
                             headers={**headers, "content-type": "image/png"})
        assert answer.status_code == 202, answer.text
        accepted = answer.json()
        job_id = accepted["result_id"]
        assert len(job_id) == 32 and accepted["status"] == "pending"
        assert accepted["status_url"] == f"/v1/results/{job_id}" == answer.headers["location"]
        result = poll(client, accepted["status_url"], headers)
        assert result.status_code == 200, result.text
        (got,) = receiver.wait_for(1)
    stored = ModerationResult.model_validate(result.json())
    assert stored.result_id == job_id and stored.id == hashlib.sha256(PNG).hexdigest()
    body = verified(got, secret)
    assert body["event"] == "moderation.completed"
    assert body["data"]["result_id"] == job_id
    assert body["data"]["decision"] == stored.decision and body["data"]["scores"] == stored.scores
    with db_of(client).session() as session:
        job = session.get(AsyncJob, job_id)
        assert job is not None and job.status == "done" and job.data is None  # input not kept


def test_async_url_is_fetched_by_the_job_and_pending_meanwhile(client: TestClient) -> None:
    with webhook_receiver() as receiver, http_server({"/slow.png": slow_png}) as images:
        headers, secret = key_for(client, receiver.url)
        answer = client.post("/v1/moderate/image?async=true", json={"url": f"{images}/slow.png"},
                             headers=headers)
        assert answer.status_code == 202, answer.text  # answered before the fetch finished
        status_url = answer.json()["status_url"]
        pending = client.get(status_url, headers=headers)
        assert pending.status_code == 202
        assert pending.json() == {"result_id": answer.json()["result_id"], "status": "pending",
                                  "status_url": status_url}
        assert poll(client, status_url, headers).json()["source"] == f"{images}/slow.png"
        assert verified(receiver.wait_for(1)[0], secret)["data"]["source"] == f"{images}/slow.png"


def test_async_texts_each_get_a_result_and_a_webhook(client: TestClient) -> None:
    with webhook_receiver() as receiver:
        headers, secret = key_for(client, receiver.url)
        one = client.post("/v1/moderate/text?async=true", json={"text": "have a lovely day", "source": "c1"},
                          headers=headers)
        many = client.post("/v1/moderate/text?async=true", json={"texts": ["hello there", "good night"]},
                           headers=headers)
        assert one.status_code == many.status_code == 202, (one.text, many.text)
        ids = [one.json()["result_id"]] + [r["result_id"] for r in many.json()["results"]]
        results = [poll(client, f"/v1/results/{i}", headers).json() for i in ids]
        got = receiver.wait_for(3)
    assert [r["kind"] for r in results] == ["text"] * 3
    assert [r["source"] for r in results] == ["c1", "texts[0]", "texts[1]"]
    delivered = {verified(g, secret)["data"]["result_id"] for g in got}
    assert delivered == set(ids)


def test_async_batch_gives_one_id_per_item_in_order(client: TestClient) -> None:
    with webhook_receiver() as receiver:
        headers, secret = key_for(client, receiver.url)
        answer = client.post("/v1/moderate/batch?async=true", headers=headers, files=[
            ("file", ("first.png", image_bytes(3), "image/png")),
            ("file", ("second.png", image_bytes(4), "image/png")),
        ])
        assert answer.status_code == 202, answer.text
        ids = [r["result_id"] for r in answer.json()["results"]]
        assert len(set(ids)) == 2
        results = [poll(client, f"/v1/results/{i}", headers).json() for i in ids]
        got = receiver.wait_for(2)
    assert [r["source"] for r in results] == ["first.png", "second.png"]
    assert {verified(g, secret)["data"]["result_id"] for g in got} == set(ids)
    empty = client.post("/v1/moderate/batch?async=true", headers=headers, json={"items": []})
    assert empty.status_code == 400  # malformed batches are refused at once, as without async


def test_a_failed_job_is_an_error_object_and_a_webhook(client: TestClient) -> None:
    with webhook_receiver() as receiver, http_server({}) as images:
        headers, secret = key_for(client, receiver.url)
        answer = client.post("/v1/moderate/image?async=true", json={"url": f"{images}/missing.png"},
                             headers=headers)
        assert answer.status_code == 202
        job_id = answer.json()["result_id"]
        failed = poll(client, answer.json()["status_url"], headers)
        (got,) = receiver.wait_for(1)
    assert failed.status_code == 502, failed.text
    ErrorResult.model_validate(failed.json())
    assert failed.json()["result_id"] == job_id
    assert failed.json()["error"]["code"] == "fetch_failed"
    assert failed.json()["error"]["upstream_status"] == 404
    data = verified(got, secret)["data"]
    assert data["result_id"] == job_id and data["error"]["code"] == "fetch_failed"


def test_async_without_a_callback_is_polled(client: TestClient) -> None:
    headers, _ = key_for(client, None)
    answer = client.post("/v1/moderate/image?async=1", files={"file": ("a.png", PNG, "image/png")},
                         headers=headers)
    assert answer.status_code == 202, answer.text
    assert poll(client, answer.json()["status_url"], headers).json()["source"] == "a.png"
    with db_of(client).session() as session:
        assert session.scalar(select(WebhookDelivery).where(
            WebhookDelivery.payload["data"]["result_id"].as_string() == answer.json()["result_id"])) is None


def test_another_key_cannot_see_a_job(client: TestClient) -> None:
    owner, _ = key_for(client, None)
    other, _ = key_for(client, None)
    with http_server({"/slow.png": slow_png}) as base:
        answer = client.post("/v1/moderate/image?async=true", json={"url": f"{base}/slow.png"}, headers=owner)
        assert client.get(answer.json()["status_url"], headers=other).status_code == 404
        assert poll(client, answer.json()["status_url"], owner).status_code == 200
    assert client.get(answer.json()["status_url"], headers=other).status_code == 404


@pytest.mark.parametrize("path, kwargs, status, code", [
    ("/v1/moderate/image?async=true", {"content": b"", "headers": {"content-type": "image/png"}},
     400, "bad_request"),
    ("/v1/moderate/image?async=true", {"json": {"url": "ftp://example.com/a.png"}}, 400, "blocked_url"),
    ("/v1/moderate/image?async=true", {"json": {"nope": 1}}, 400, "bad_request"),
    ("/v1/moderate/image?async=true", {"content": b"x", "headers": {"content-type": "text/csv"}},
     415, "unsupported_media"),
    ("/v1/moderate/image?async=maybe", {"content": PNG, "headers": {"content-type": "image/png"}},
     422, "invalid_request"),
    ("/v1/moderate/text?async=true", {"json": {"text": "a", "texts": ["b"]}}, 400, "bad_request"),
    ("/v1/moderate/text?async=true", {"json": {"texts": []}}, 422, "invalid_request"),
])
def test_bad_async_requests_are_clear_4xx(client: TestClient, path: str, kwargs: dict, status: int,  # type: ignore[type-arg]
                                          code: str) -> None:
    headers, _ = key_for(client, None)
    extra = kwargs.pop("headers", {})
    answer = client.post(path, headers={**headers, **extra}, **kwargs)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code


def test_jobs_left_pending_by_a_killed_server_are_finished_after_a_restart(
    app_on, tmp_path_factory: pytest.TempPathFactory,  # type: ignore[no-untyped-def]
) -> None:
    url = f"sqlite:///{tmp_path_factory.mktemp('restart') / 'cg.db'}"
    first = Database(url)
    first.upgrade()
    with webhook_receiver() as receiver:
        key = make_key(first, callback_url=receiver.url)
        with first.session() as session:  # what a server killed right after its 202s left behind
            owner = session.scalar(select(ApiKey).where(ApiKey.prefix == key[:11]))
            assert owner is not None and owner.webhook_secret
            secret = owner.webhook_secret
            session.add(AsyncJob(id="a" * 32, api_key_id=owner.id, kind="image", source="left.png", data=PNG))
            session.add(AsyncJob(id="b" * 32, api_key_id=owner.id, kind="text", source="left",
                                 text="see you tomorrow"))
        first.close()
        with app_on(url) as client:
            headers = {"Authorization": f"Bearer {key}"}
            image = poll(client, f"/v1/results/{'a' * 32}", headers)
            text = poll(client, f"/v1/results/{'b' * 32}", headers)
            got = receiver.wait_for(2)
            assert image.status_code == text.status_code == 200
            assert (image.json()["source"], text.json()["kind"]) == ("left.png", "text")
            assert {verified(g, secret)["data"]["result_id"] for g in got} == {"a" * 32, "b" * 32}
            with db_of(client).session() as session:
                assert session.get(StoredDecision, "a" * 32) is not None
                assert {j.status for j in session.scalars(select(AsyncJob))} == {"done"}


def test_admin_api_lists_filters_and_retries(client: TestClient) -> None:
    from helpers.accounts import session_for

    from contentguard.server.auth import SESSION_COOKIE
    from contentguard.store import webhooks as outbox

    db = db_of(client)
    with webhook_receiver() as receiver:
        headers, _ = key_for(client, receiver.url)
        with db.session() as session:
            key_id = session.scalar(select(ApiKey.id).order_by(ApiKey.id.desc()).limit(1))
            failed = outbox.enqueue_event(session, key_id, "appeal.resolved", {"appeal_id": 1})
            assert failed is not None
            outbox.record_attempt(session, failed.id, status=None, error="timeout: slow", max_attempts=1,
                                  backoff_s=1)
            failed_id = failed.id
        token, csrf = session_for(db, "root", "admin")
        admin = {"Cookie": f"{SESSION_COOKIE}={token}", "X-CSRF-Token": csrf}
        listed = client.get(f"/v1/admin/webhooks?status=failed&api_key_id={key_id}", headers=admin)
        assert listed.status_code == 200, listed.text
        (one,) = listed.json()["deliveries"]
        assert (one["id"], one["status"], one["last_error"], one["event"]) == (
            failed_id, "failed", "timeout: slow", "appeal.resolved")
        assert one["payload"] is None and listed.json()["counts"]["failed"] >= 1
        detail = client.get(f"/v1/admin/webhooks/{failed_id}", headers=admin).json()
        assert detail["payload"] == {"event": "appeal.resolved", "data": {"appeal_id": 1}}
        assert client.get("/v1/admin/webhooks?status=lost", headers=admin).status_code == 422
        assert client.get("/v1/admin/webhooks/999999", headers=admin).status_code == 404
        assert client.post(f"/v1/admin/webhooks/{failed_id}/retry",
                           headers={"Cookie": admin["Cookie"]}).status_code == 403  # no CSRF token
        retried = client.post(f"/v1/admin/webhooks/{failed_id}/retry", headers=admin)
        assert retried.status_code == 200 and retried.json()["status"] == "pending"
        again = client.post(f"/v1/admin/webhooks/{failed_id}/retry", headers=admin)
        assert again.status_code in (200, 409)  # 409 while pending; 200 if delivered meanwhile
        got = receiver.wait_for(1)[0]
        assert got.headers["ContentGuard-Delivery"] == str(failed_id)
        assert client.get("/v1/admin/webhooks", headers=headers).status_code == 403  # an API key

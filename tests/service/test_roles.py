"""Roles (#14): the `roles` setting picks the routers a process mounts and the background tasks
it runs; `contentguard worker` runs tasks with no HTTP server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from contentguard.server import create_app
from contentguard.service import roles
from contentguard.settings import Settings
from contentguard.store import webhooks as outbox
from contentguard.store.db import Database
from contentguard.store.tables import WebhookDelivery


def test_all_is_every_role_and_names_are_checked() -> None:
    assert roles.parse(["all"]) == frozenset(roles.ROUTER_ROLES + roles.TASK_ROLES)
    assert roles.parse([]) == roles.parse(["all"])
    assert Settings(roles="api, Jobs").roles == ["api", "jobs"]
    with pytest.raises(ValueError, match="unknown role.*matcher"):
        Settings(roles="api,matcher")


def test_tasks_follow_the_roles_and_moderating_processes_follow_the_policy() -> None:
    assert roles.tasks_for(roles.parse(["all"])) == ["policy_sync", "jobs", "webhooks", "retention"]
    assert roles.tasks_for(frozenset({"api"})) == ["policy_sync"]
    assert roles.tasks_for(frozenset({"admin", "retention"})) == ["retention"]


def _statuses(client: TestClient) -> dict[str, int]:
    return {path: client.get(path, follow_redirects=False).status_code
            for path in ("/healthz", "/login", "/review", "/appeals", "/admin/users", "/static/app.css",
                         "/v1/admin/users", "/v1/results/" + "a" * 32)}


def test_an_api_only_process_mounts_no_pages(settings: Settings, tmp_path: Path,
                                             dummy_moderator, dummy_text_moderator) -> None:  # type: ignore[no-untyped-def]
    every = create_app(settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'a.db'}"}),
                       moderator=dummy_moderator, text_moderator=dummy_text_moderator)
    api = create_app(settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'b.db'}",
                                                 "roles": ["api"]}),
                     moderator=dummy_moderator, text_moderator=dummy_text_moderator)
    with TestClient(every) as client:
        assert _statuses(client) == {"/healthz": 200, "/login": 200, "/review": 303, "/appeals": 303,
                                     "/admin/users": 303,
                                     "/static/app.css": 200, "/v1/admin/users": 401,
                                     "/v1/results/" + "a" * 32: 401}
    with TestClient(api) as client:
        assert _statuses(client) == {"/healthz": 200, "/login": 404, "/review": 404, "/appeals": 404,
                                     "/admin/users": 404,
                                     "/static/app.css": 404, "/v1/admin/users": 404,
                                     "/v1/results/" + "a" * 32: 401}
        documented = set(client.get("/openapi.json").json()["paths"])
    assert "/v1/moderate/image" in documented and "/v1/appeals" in documented
    assert not any(path.startswith(("/v1/admin", "/v1/review")) for path in documented)


def test_worker_delivers_webhooks_without_an_http_server(tmp_path: Path, settings: Settings) -> None:
    """A real `contentguard worker --roles webhooks` process takes a queued delivery off the
    outbox (to an address it must refuse: no network needed) and stops on SIGTERM."""
    url = f"sqlite:///{tmp_path / 'w.db'}"
    db = Database(url)
    db.upgrade()
    from helpers.accounts import make_key

    from contentguard.store.tables import ApiKey

    key_id = None
    make_key(db)
    with db.session() as session:
        key = session.query(ApiKey).first()
        assert key is not None
        key.callback_url, key.webhook_secret, key_id = "http://127.0.0.1:9/hook", "s" * 32, key.id
    with db.session() as session:
        delivery = outbox.enqueue_event(session, key_id, "moderation.completed", {"result_id": "ab" * 16})
        assert delivery is not None
        delivery_id = delivery.id
    env = {**os.environ, "CONTENTGUARD_DATABASE_URL": url, "CONTENTGUARD_DATA_HOME": str(tmp_path),
           "CONTENTGUARD_MODEL_DIR": str(tmp_path / "no-models")}
    process = subprocess.Popen([sys.executable, "-m", "contentguard.cli", "worker", "--roles", "webhooks"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            with db.session() as session:
                row = session.get(WebhookDelivery, delivery_id)
                assert row is not None
                if row.attempts > 0:
                    break
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the worker did not attempt the delivery"
            time.sleep(0.1)
        assert row.status == "failed" and "blocked_url" in (row.last_error or "")
    finally:
        process.send_signal(signal.SIGTERM)
        out, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors
    assert "worker: webhooks" in errors and "worker stopped" in errors
    db.close()


def test_worker_refuses_roles_without_a_task(tmp_path: Path) -> None:
    env = {**os.environ, "CONTENTGUARD_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    for args, message in ((["--roles", "api,ui"], "no background task"),
                          (["--roles", "indexer"], "unknown role")):
        done = subprocess.run([sys.executable, "-m", "contentguard.cli", "worker", *args], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and message in done.stderr, done.stderr

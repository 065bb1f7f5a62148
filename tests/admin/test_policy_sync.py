"""A policy change saved through one service process reaches the others on the same database
within `policy_sync_s`, without a restart: two apps, each with its own moderators (as two
processes have), sharing one SQLite file."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient
from helpers.accounts import make_key, signed_in_client
from helpers.apps import wait_ready

from contentguard.moderation.image import Moderator
from contentguard.moderation.text import TextModerator
from contentguard.server import create_app
from contentguard.settings import Settings

TEXT = {"text": "see you at lunch"}


def _policy_seen(client: TestClient, key: str, version: str, timeout: float = 15.0) -> dict:
    """Moderate a text through `client` until its result names `version`; that result."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.post("/v1/moderate/text", json=TEXT, headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200, answer.text
        if answer.json()["policy_version"] == version or time.monotonic() > deadline:
            return answer.json()
        time.sleep(0.1)


def test_a_policy_change_reaches_another_process_on_the_same_database(
    settings: Settings, tmp_path: Path
) -> None:
    shared = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'cg.db'}",
                                         "policy_sync_s": 0.2})
    with Moderator(shared) as images_a, Moderator(shared) as images_b:
        app_a = create_app(shared, moderator=images_a, text_moderator=TextModerator(shared))
        app_b = create_app(shared, moderator=images_b, text_moderator=TextModerator(shared))
        with TestClient(app_a, raise_server_exceptions=False) as a, \
                TestClient(app_b, raise_server_exceptions=False) as b:
            wait_ready(a)
            wait_ready(b)
            key = make_key(app_a.state.db)
            base = _policy_seen(b, key, "?", timeout=0)["policy_version"]

            admin_a, admin_b = signed_in_client(a, "root", "admin"), signed_in_client(b, "root", "admin")
            changed = admin_a.post("/v1/admin/policy", json={"thresholds": {"spam": {"review": 0.0}}})
            assert changed.status_code == 201, changed.text
            new = changed.json()["active"]["version"]
            assert new != base

            seen = _policy_seen(b, key, new)  # B never saw the request: it reads the database
            assert seen["policy_version"] == new, f"process B still runs {seen['policy_version']}"
            assert seen["decision"] == "review" and any(r["category"] == "spam" for r in seen["reasons"])
            assert app_b.state.engine.moderator.policy.version == new  # images follow too

            # and back, the other way round: activating the old version through B reaches A
            again = admin_b.post("/v1/admin/policy/activate", json={"version": base})
            assert again.status_code == 200, again.text
            assert _policy_seen(a, key, base)["policy_version"] == base
            assert app_a.state.engine.moderator.policy.version == base

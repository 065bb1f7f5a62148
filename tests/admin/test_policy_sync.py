"""A policy change saved through one service process reaches the others on the same database
within `policy_sync_s`, without a restart: two apps, each with its own moderators (as two
processes have), sharing one SQLite file. Within a process the image and text moderators run
one policy (the engine's `PolicyHolder`); a version relying on a detector a process has not
loaded is refused there, not half-applied."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers.accounts import make_key, signed_in_client
from helpers.apps import wait_ready
from helpers.samples import REVIEW_ALL_POLICY

from contentguard.moderation.image import Moderator
from contentguard.moderation.policy import ActivePolicy, Policy
from contentguard.moderation.text import TextModerator
from contentguard.server import create_app
from contentguard.service.engine import Engine
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


def _versions(engine: Engine) -> tuple[str, str]:
    """The versions the image and the text moderator run (they share one holder)."""
    assert engine.moderator is not None and engine.text_moderator is not None
    assert engine.moderator.active_policy is engine.text_moderator.active_policy
    return engine.moderator.policy.version, engine.text_moderator.policy.version


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

            assert _versions(app_a.state.engine) == (new, new)  # the admin's change, in A
            seen = _policy_seen(b, key, new)  # B never saw the request: it reads the database
            assert seen["policy_version"] == new, f"process B still runs {seen['policy_version']}"
            assert seen["decision"] == "review" and any(r["category"] == "spam" for r in seen["reasons"])
            assert _versions(app_b.state.engine) == (new, new)  # images follow too

            # and back, the other way round: activating the old version through B reaches A
            again = admin_b.post("/v1/admin/policy/activate", json={"version": base})
            assert again.status_code == 200, again.text
            assert _policy_seen(a, key, base)["policy_version"] == base
            assert _versions(app_a.state.engine) == (base, base)


def test_image_and_text_moderators_made_with_different_policies_run_one(
    settings: Settings, tmp_path: Path
) -> None:
    """The image moderator brings the configured policy; the text moderator follows it, and an
    admin's change reaches both (before, texts kept the policy they were made with)."""
    fresh = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'cg.db'}"})
    review_all = Policy.from_yaml(REVIEW_ALL_POLICY, origin="test")
    with Moderator(fresh, policy=review_all) as images, TextModerator(fresh) as texts:
        assert texts.policy.version != review_all.version  # made with the default policy
        app = create_app(fresh, moderator=images, text_moderator=texts)
        with TestClient(app, raise_server_exceptions=False) as client:
            wait_ready(client)
            key = make_key(app.state.db)
            assert client.get("/readyz").json()["policy_version"] == review_all.version
            assert _versions(app.state.engine) == (review_all.version, review_all.version)
            assert _policy_seen(client, key, "?", timeout=0)["policy_version"] == review_all.version

            admin = signed_in_client(client, "root", "admin")
            changed = admin.post("/v1/admin/policy", json={"thresholds": {"spam": {"review": 0.0}}})
            assert changed.status_code == 201, changed.text
            new = changed.json()["active"]["version"]
            assert _versions(app.state.engine) == (new, new)
            seen = _policy_seen(client, key, new, timeout=0)
            assert seen["policy_version"] == new and seen["decision"] == "review"


CLASSIFIER_ONLY = """\
version: classifier-only@1
categories:
  sexual_explicit: {detector: nsfw-classifier, sum: [porn, hentai], review: 0.5, block: 0.8}
  spam: {detector: text-classifier, sum: [spam], review: 0.5, block: 0.9}
"""


@pytest.fixture
def shared_restored(shared_moderator, shared_text_moderator) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """The session's moderators get their own policy back afterwards."""
    image, text = shared_moderator.policy, shared_text_moderator.policy
    try:
        yield
    finally:
        shared_moderator.active_policy = ActivePolicy(image)
        shared_text_moderator.active_policy = ActivePolicy(text)


def test_a_version_relying_on_detectors_not_loaded_here_is_refused(
    settings: Settings, tmp_path: Path, shared_moderator, shared_text_moderator,  # type: ignore[no-untyped-def]
    shared_restored: None, caplog: pytest.LogCaptureFixture,
) -> None:
    """Process B was started from another policy file (the classifier and the text classifier
    only). The default policy, active through A, needs the nudity detector and the profanity
    model too: B keeps running its version (saying so once) instead of switching to one whose
    nudity and profanity categories would silently drop out of its results."""
    (tmp_path / "classifier-only.yaml").write_text(CLASSIFIER_ONLY)
    shared = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'cg.db'}",
                                         "policy_sync_s": 3600.0})  # synced by hand below
    shared_b = shared.model_copy(update={"policy_file": tmp_path / "classifier-only.yaml"})
    caplog.set_level(logging.WARNING, logger="contentguard.service.policy")
    with Moderator(shared_b) as images_b, TextModerator(shared_b) as texts_b:
        assert {d.name for d in images_b.detectors} == {"nsfw-classifier"}
        app_a = create_app(shared, moderator=shared_moderator, text_moderator=shared_text_moderator)
        app_b = create_app(shared_b, moderator=images_b, text_moderator=texts_b)
        with TestClient(app_a, raise_server_exceptions=False) as a:
            wait_ready(a)  # A first: the default policy is stored and active
            default = app_a.state.engine.policy_holder.current.version
            with TestClient(app_b, raise_server_exceptions=False) as b:
                wait_ready(b)  # B's file is a new version: stored, and active now
                engine_a, engine_b = app_a.state.engine, app_b.state.engine
                assert _versions(engine_b) == ("classifier-only@1", "classifier-only@1")
                assert engine_a.policy_holder.sync() == "classifier-only@1"  # A has all it needs

                # An admin on B cannot activate a version B cannot run: nothing changes.
                admin_a, admin_b = signed_in_client(a, "root", "admin"), signed_in_client(b, "root", "admin")
                refused = admin_b.post("/v1/admin/policy/activate", json={"version": default})
                assert refused.status_code == 422, refused.text
                assert refused.json()["error"]["code"] == "invalid_policy"
                message = refused.json()["error"]["message"]
                assert "nudity-detector" in message and "profanity" in message, message
                assert admin_b.get("/v1/admin/policy").json()["active"]["version"] == "classifier-only@1"

                # Through A it is activated; B's sync refuses it, once, and keeps its version.
                assert admin_a.post("/v1/admin/policy/activate", json={"version": default}).status_code == 200
                assert _versions(engine_a) == (default, default)
                assert engine_b.policy_holder.sync() is None
                assert engine_b.policy_holder.sync() is None
                assert _versions(engine_b) == ("classifier-only@1", "classifier-only@1")
                warnings = [r.getMessage() for r in caplog.records if default in r.getMessage()]
                assert len(warnings) == 1 and "nudity-detector" in warnings[0], warnings
                key = make_key(app_b.state.db)
                assert _policy_seen(b, key, "?", timeout=0)["policy_version"] == "classifier-only@1"

                # A version B can run is switched to as before.
                assert admin_a.post("/v1/admin/policy/activate",
                                    json={"version": "classifier-only@1"}).status_code == 200
                assert admin_a.post("/v1/admin/policy",
                                    json={"thresholds": {"spam": {"review": 0.0}}}).status_code == 201
                newer = engine_a.policy_holder.current.version
                assert engine_b.policy_holder.sync() == newer
                assert _versions(engine_b) == (newer, newer)

"""SIGKILL the real service in the middle of moderation and reviews: nothing it acknowledged is
lost, the database stays sound, and a claim held by the killed session returns to the queue."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from importlib import resources
from pathlib import Path

import httpx
import pytest
import yaml
from helpers.accounts import login, make_key, make_user
from sqlalchemy import select, text

from contentguard.store.db import Database
from contentguard.store.tables import AuditEntry, ReviewItem, StoredDecision

LEASE_S = 3.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(home: Path, port: int, policy: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CONTENTGUARD_DATA_HOME": str(home), "CONTENTGUARD_PORT": str(port),
           "CONTENTGUARD_REVIEW_LEASE_S": str(LEASE_S), "CONTENTGUARD_POLICY_FILE": str(policy)}
    env.pop("CONTENTGUARD_DATABASE_URL", None)
    process = subprocess.Popen([sys.executable, "-m", "contentguard.cli", "serve", "--log-level",
                                "warning"], env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()[-2000:]  # type: ignore[union-attr]
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError("the service did not become ready")


def review_everything_policy(path: Path) -> Path:
    """The default policy, but every text goes to review (so the queue fills fast)."""
    policy = yaml.safe_load(
        resources.files("contentguard.moderation.policies").joinpath("default.yaml").read_text())
    policy["version"] = "durability@1"
    policy["categories"]["profanity"]["review"] = 0.0
    path.write_text(yaml.safe_dump(policy))
    return path


@pytest.mark.timeout(600)
def test_sigkill_loses_no_acknowledged_decision_verdict_or_audit_entry(tmp_path: Path) -> None:
    home, port = tmp_path / "home", free_port()
    policy = review_everything_policy(tmp_path / "policy.yaml")
    db = Database(f"sqlite:///{home / 'contentguard.db'}")
    db.upgrade()
    for name in ("mod1", "mod2"):
        make_user(db, name, "moderator")
    key = make_key(db)
    base = f"http://127.0.0.1:{port}"

    server = start(home, port, policy)
    acknowledged_results: list[str] = []
    acknowledged_verdicts: list[int] = []
    stop = threading.Event()

    def client_platform() -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10) as c:
            n = 0
            while not stop.is_set():
                n += 1
                try:
                    answer = c.post("/v1/moderate/text", json={"text": f"durability check number {n}"})
                except httpx.HTTPError:
                    return
                if answer.status_code == 200:
                    acknowledged_results.append(answer.json()["result_id"])

    def moderator() -> None:
        with httpx.Client(base_url=base, timeout=10) as c:
            csrf = login(c, "mod1")
            headers = {"X-CSRF-Token": csrf}
            n = 0
            while not stop.is_set():
                try:
                    claimed = c.post("/v1/review/claim", json={}, headers=headers)
                    item = claimed.json().get("item") if claimed.status_code == 200 else None
                    if item is None:
                        time.sleep(0.05)
                        continue
                    n += 1
                    verdict = {"verdict": "approve", "reason_category": "no_violation"} if n % 2 \
                        else {"verdict": "reject", "reason_category": "offensive", "note": f"#{n}"}
                    done = c.post(f"/v1/review/items/{item['id']}/decision", json=verdict,
                                  headers=headers)
                except httpx.HTTPError:
                    return
                if done.status_code == 200:
                    acknowledged_verdicts.append(item["id"])

    threads = [threading.Thread(target=client_platform), threading.Thread(target=moderator)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    while (len(acknowledged_results) < 30 or len(acknowledged_verdicts) < 8) and time.monotonic() < deadline:
        time.sleep(0.1)
    # a second moderator claims an item and is killed with the server while holding it
    with httpx.Client(base_url=base, timeout=10) as c:
        held = c.post("/v1/review/claim", json={}, headers={"X-CSRF-Token": login(c, "mod2")})
        held_id = held.json()["item"]["id"]
    os.killpg(server.pid, signal.SIGKILL)  # mid-flight: both threads are still sending
    server.wait(30)
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acknowledged_results) >= 30 and len(acknowledged_verdicts) >= 8, (
        len(acknowledged_results), len(acknowledged_verdicts))

    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    with db.session() as session:
        stored = set(session.scalars(select(StoredDecision.id)))
        decided = set(session.scalars(select(AuditEntry.target_id).where(
            AuditEntry.action.in_(["review.approve", "review.reject"]))))
        held_item = session.get(ReviewItem, held_id)
        assert held_item is not None and held_item.status == "claimed"  # the dead session's lease
    assert set(acknowledged_results) <= stored
    assert {str(i) for i in acknowledged_verdicts} <= decided

    server = start(home, port, policy)
    try:
        with httpx.Client(base_url=base, timeout=10) as c:
            c.headers["Authorization"] = f"Bearer {key}"
            for result_id in acknowledged_results[-5:] + acknowledged_results[:5]:
                assert c.get(f"/v1/results/{result_id}").status_code == 200
        with httpx.Client(base_url=base, timeout=10) as c:
            headers = {"X-CSRF-Token": login(c, "mod1")}
            for item_id in acknowledged_verdicts:
                item = c.get(f"/v1/review/items/{item_id}").json()
                assert item["status"] == "decided", item
            # the killed session's claim returns to the queue once its lease runs out
            time.sleep(LEASE_S + 0.5)
            again = c.post(f"/v1/review/items/{held_id}/claim", headers=headers)
            assert again.status_code == 200, again.text
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        db.close()

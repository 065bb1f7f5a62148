"""The client platform's whole loop, as the issue's "done when" puts it: with an API key it
moderates, a moderator decides in the queue, the platform gets a signed webhook, appeals, and
gets the signed appeal outcome; `GET /v1/results/{id}` tells the final story."""

from __future__ import annotations

import hashlib
import hmac
import json

from helpers.accounts import make_key
from helpers.samples import image_bytes
from helpers.webhook_receiver import Received, webhook_receiver
from sqlalchemy import select

from contentguard.store.tables import ApiKey


def signed_body(got: Received, secret: str) -> dict:  # type: ignore[type-arg]
    """The webhook's JSON after checking its HMAC-SHA256 signature, as a receiver must."""
    timestamp = got.headers["ContentGuard-Timestamp"]
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + got.body, hashlib.sha256)
    assert hmac.compare_digest(got.headers["ContentGuard-Signature"], f"v1={expected.hexdigest()}")
    return json.loads(got.body)


def test_moderate_review_webhook_appeal_webhook(review_app, signed_in) -> None:  # type: ignore[no-untyped-def]
    with webhook_receiver() as receiver, review_app(fetch_allow_networks=["127.0.0.0/8"]) as app:
        db = app.app.state.db
        key = make_key(db, callback_url=receiver.url)
        with db.session() as session:
            secret = session.scalar(select(ApiKey.webhook_secret).where(ApiKey.prefix == key[:11]))
        platform = {"Authorization": f"Bearer {key}"}

        # 1. the platform moderates an upload: the policy sends it to review
        result = app.post("/v1/moderate/image", content=image_bytes(11),
                          headers={**platform, "content-type": "image/png"}).json()
        assert result["decision"] == "review"
        result_id = result["result_id"]

        # 2. a moderator claims it and rejects it
        mod = signed_in(app, "rita")
        item = mod.post("/v1/review/claim", json={}).json()["item"]
        assert item["result_id"] == result_id
        rejected = mod.post(f"/v1/review/items/{item['id']}/decision",
                            json={"verdict": "reject", "reason_category": "sexual_explicit",
                                  "note": "explicit"})
        assert rejected.status_code == 200, rejected.text
        first = signed_body(receiver.wait_for(1)[0], secret)
        assert first["event"] == "review.decided"
        assert first["data"]["result_id"] == result_id

        # 3. the platform appeals; the item is back in the queue, ahead of ordinary reviews
        appeal = app.post("/v1/appeals", json={"result_id": result_id, "message": "it is a statue"},
                          headers=platform)
        assert appeal.status_code in (200, 201), appeal.text
        again = mod.post("/v1/review/claim", json={}).json()["item"]
        assert again["result_id"] == result_id and again["origin"] == "appeal"
        approved = mod.post(f"/v1/review/items/{again['id']}/decision",
                            json={"verdict": "approve", "reason_category": "artistic_or_educational"})
        assert approved.status_code == 200, approved.text

        # 4. the outcome arrives signed, and the stored result shows both decisions
        bodies = [signed_body(g, secret) for g in receiver.wait_for(3)]
        events = {b["event"] for b in bodies}
        assert {"review.decided", "appeal.resolved"} <= events, events
        outcome = next(b for b in bodies if b["event"] == "appeal.resolved")
        assert outcome["data"]["result_id"] == result_id
        final = app.get(f"/v1/results/{result_id}", headers=platform).json()
        assert final["decision"] == "allow" and final["machine_decision"] == "review"
        assert final["review"]["verdict"] == "approve" and final["review"]["appeal"] is True

"""`/v1/admin` end to end on the real app: roles, keys (once, scoped, rate-limited, revoked at
once), users, policy versions that results name, the audit log and its CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from helpers.accounts import PASSWORD, make_key, signed_in_client

from contentguard.server.auth import SESSION_COOKIE
from contentguard.store import audit

ADMIN_GETS = ("/v1/admin/users", "/v1/admin/keys", "/v1/admin/policy", "/v1/admin/audit",
              "/v1/admin/audit.csv", "/v1/admin/stats")


person = signed_in_client  # another client of the same running app, signed in


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def error_of(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["message"], body
    return body["error"]["message"]


@pytest.fixture(scope="module")
def client(make_client) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with make_client(auth=False) as client:
        yield client


@pytest.fixture(scope="module")
def admin(client: TestClient) -> TestClient:
    return person(client, "root", "admin")


@pytest.fixture
def policy_restored(client: TestClient) -> Iterator[None]:
    """The moderators are shared by every test app: put their policy back afterwards."""
    engine = client.app.state.engine  # type: ignore[attr-defined]
    running = engine.policy_holder.current
    try:
        yield
    finally:
        engine.policy_holder.use(running)


def test_only_admins_reach_the_admin_api(client: TestClient, admin: TestClient) -> None:
    moderator = person(client, "mo", "moderator")
    key = make_key(client.app.state.db)  # type: ignore[attr-defined]
    for path in ADMIN_GETS:
        assert admin.get(path).status_code == 200, path
        assert moderator.get(path).status_code == 403, path
        assert client.get(path, headers=bearer(key)).status_code == 403, path
        assert client.get(path).status_code == 401, path
    body = {"name": "x", "scopes": ["moderate"]}
    assert moderator.post("/v1/admin/keys", json=body).status_code == 403
    assert client.post("/v1/admin/keys", json=body, headers=bearer(key)).status_code == 403
    without_csrf = TestClient(client.app, raise_server_exceptions=False)
    without_csrf.cookies.set(SESSION_COOKIE, admin.cookies[SESSION_COOKIE])
    assert "CSRF" in error_of(without_csrf.post("/v1/admin/keys", json=body), 403)


def test_a_key_is_shown_once_works_and_stops_at_once_when_revoked(
    client: TestClient, admin: TestClient
) -> None:
    made = admin.post("/v1/admin/keys", json={
        "name": "acme", "scopes": ["moderate", "results"], "rate_limit_per_min": 600,
        "callback_url": "https://example.com/hooks/cg"})
    assert made.status_code == 201, made.text
    new = made.json()
    assert new["key"].startswith("cg_") and new["key"].startswith(new["prefix"])
    assert new["webhook_secret"] and new["created_by"] == "root"
    moderated = client.post("/v1/moderate/text", json={"text": "hello there"}, headers=bearer(new["key"]))
    assert moderated.status_code == 200, moderated.text
    listed = {k["id"]: k for k in admin.get("/v1/admin/keys").json()}[new["id"]]
    assert "key" not in listed and "webhook_secret" not in listed and "key_hash" not in listed
    assert listed["scopes"] == ["moderate", "results"] and listed["last_used_at"]
    # the key lacks the `appeal` scope, and never reaches admin routes
    assert client.get("/v1/admin/keys", headers=bearer(new["key"])).status_code == 403

    revoked = admin.post(f"/v1/admin/keys/{new['id']}/revoke")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    refused = client.post("/v1/moderate/text", json={"text": "hello"}, headers=bearer(new["key"]))
    assert refused.status_code == 401, "a revoked key must stop working at once"
    log = admin.get("/v1/admin/audit", params={"target_type": "api_key", "target_id": new["id"]}).json()
    assert [e["action"] for e in log["entries"]] == ["key.revoke", "key.create"]
    assert new["key"] not in str(log) and new["webhook_secret"] not in str(log)
    assert error_of(admin.post("/v1/admin/keys/999999/revoke"), 404)


def test_a_keys_rate_limit_answers_429_with_retry_after(client: TestClient, admin: TestClient) -> None:
    new = admin.post("/v1/admin/keys", json={"name": "slow", "scopes": ["results"],
                                             "rate_limit_per_min": 2}).json()
    path = "/v1/results/" + "0" * 32
    assert [client.get(path, headers=bearer(new["key"])).status_code for _ in range(2)] == [404, 404]
    third = client.get(path, headers=bearer(new["key"]))
    assert error_of(third, 429) and int(third.headers["Retry-After"]) >= 1
    raised = admin.patch(f"/v1/admin/keys/{new['id']}", json={"rate_limit_per_min": 1000})
    assert raised.status_code == 200 and raised.json()["rate_limit_per_min"] == 1000


@pytest.mark.parametrize("url", [
    "ftp://example.com/hook", "http://169.254.169.254/latest", "http://10.0.0.8/hook",
    "http://user:pw@example.com/", "http://0x7f000001/", "not a url",
])
def test_a_callback_url_follows_the_fetch_rules(admin: TestClient, url: str) -> None:
    answer = admin.post("/v1/admin/keys", json={"name": "cb", "scopes": ["moderate"], "callback_url": url})
    assert "callback_url" in error_of(answer, 422)


@pytest.mark.parametrize(("body", "status"), [
    ({"name": "x", "scopes": []}, 422),
    ({"name": "x", "scopes": ["admin"]}, 422),
    ({"name": "x", "scopes": ["moderate"], "rate_limit_per_min": 0}, 422),
    ({"name": "  ", "scopes": ["moderate"]}, 422),
    ({"name": "x" * 101, "scopes": ["moderate"]}, 422),
    ({"name": "x", "scopes": ["moderate"], "key": "cg_chosen"}, 422),
])
def test_bad_key_requests_are_422(admin: TestClient, body: dict, status: int) -> None:
    assert error_of(admin.post("/v1/admin/keys", json=body), status)


def test_users_are_created_changed_disabled_and_reset(client: TestClient, admin: TestClient) -> None:
    made = admin.post("/v1/admin/users", json={"username": "maria", "password": PASSWORD,
                                               "role": "moderator"})
    assert made.status_code == 201, made.text
    uid = made.json()["id"]
    assert "password" not in made.text
    assert error_of(admin.post("/v1/admin/users", json={"username": "Maria", "password": PASSWORD}), 409)
    assert "10 characters" in error_of(
        admin.post("/v1/admin/users", json={"username": "bob", "password": "short"}), 422)
    assert error_of(admin.post("/v1/admin/users", json={"username": "bob", "password": PASSWORD,
                                                        "role": "owner"}), 422)
    assert error_of(admin.post("/v1/admin/users", json={"username": "<b>", "password": PASSWORD}), 422)

    maria = person(client, "maria", "moderator")
    assert maria.get("/v1/admin/users").status_code == 403
    assert admin.patch(f"/v1/admin/users/{uid}", json={"role": "admin"}).json()["role"] == "admin"
    assert maria.get("/v1/admin/users").status_code == 200  # roles are read per request
    disabled = admin.patch(f"/v1/admin/users/{uid}", json={"active": False})
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    assert maria.get("/v1/admin/users").status_code == 401  # signed out everywhere
    assert admin.patch(f"/v1/admin/users/{uid}", json={"active": True}).json()["active"] is True
    reset = admin.post(f"/v1/admin/users/{uid}/password", json={"password": "another long secret"})
    assert reset.status_code == 200
    assert error_of(admin.post(f"/v1/admin/users/{uid}/password", json={"password": "x"}), 422)
    assert error_of(admin.patch("/v1/admin/users/999999", json={"active": False}), 404)

    own = admin.get("/v1/admin/users").json()
    root = next(u for u in own if u["username"] == "root")
    assert error_of(admin.patch(f"/v1/admin/users/{root['id']}", json={"active": False}), 409)
    log = admin.get("/v1/admin/audit", params={"target_type": "user", "target_id": uid}).json()["entries"]
    assert {e["action"] for e in log} >= {"user.create", "user.update", "user.password"}
    assert PASSWORD not in str(log) and "another long secret" not in str(log)


def test_a_policy_change_is_a_new_version_that_results_name(
    client: TestClient, admin: TestClient, policy_restored: None
) -> None:
    key = make_key(client.app.state.db)  # type: ignore[attr-defined]
    before = admin.get("/v1/admin/policy").json()
    base = before["active"]["version"]
    spam = before["document"]["categories"]["spam"]

    def moderate() -> dict:
        answer = client.post("/v1/moderate/text", json={"text": "see you at lunch"}, headers=bearer(key))
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert moderate()["policy_version"] == base
    changed = admin.post("/v1/admin/policy", json={"thresholds": {"spam": {"review": 0.0}}})
    assert changed.status_code == 201, changed.text
    state = changed.json()
    assert state["active"]["version"] == f"{base.split('+')[0]}+1"
    assert state["active"]["created_by"] == "root"
    assert state["document"]["categories"]["spam"] == {**spam, "review": 0.0}
    assert [v["version"] for v in state["versions"]][:2] == [state["active"]["version"], base]

    result = moderate()  # every text now reaches spam's review threshold of 0
    assert result["policy_version"] == state["active"]["version"]
    assert result["decision"] == "review" and any(r["category"] == "spam" for r in result["reasons"])
    stored = client.get(f"/v1/results/{result['result_id']}", headers=bearer(key)).json()
    assert stored["policy_version"] == state["active"]["version"]

    again = admin.post("/v1/admin/policy/activate", json={"version": base})
    assert again.status_code == 200 and again.json()["active"]["version"] == base
    assert moderate()["policy_version"] == base
    audit_log = admin.get("/v1/admin/audit", params={"action": "policy."}).json()["entries"]
    assert [e["action"] for e in audit_log][:2] == ["policy.activate", "policy.create"]
    assert audit_log[0]["actor"] == "user:root"
    second = admin.post("/v1/admin/policy", json={"thresholds": {"spam": {"block": 0.95}}})
    assert second.json()["active"]["version"] == f"{base.split('+')[0]}+2"
    admin.post("/v1/admin/policy/activate", json={"version": base})


@pytest.mark.parametrize(("body", "words"), [
    ({"thresholds": {"spam": {"review": 0.95, "block": 0.9}}}, "must not be above"),
    ({"thresholds": {"spam": {"review": 0.99}}}, "must not be above"),  # block stays 0.9
    ({"thresholds": {"nonsense": {"review": 0.5}}}, "unknown categories"),
    ({"thresholds": {"spam": {"review": 1.5}}}, "less than or equal to 1"),
    ({"thresholds": {"spam": {"review": -0.1}}}, "greater than or equal to 0"),
    ({"thresholds": {"spam": {"review": "high"}}}, "number"),
    ({"thresholds": {}}, "thresholds"),
    ({"thresholds": {"spam": {}}}, "nothing changed"),
    ({"thresholds": {"spam": {"review": 0.5}}, "on_model_error": "maybe"}, "on_model_error"),
])
def test_bad_policy_changes_are_422_with_the_reason(
    admin: TestClient, policy_restored: None, body: dict, words: str
) -> None:
    assert words in error_of(admin.post("/v1/admin/policy", json=body), 422)


def test_activating_an_unknown_version_is_404(admin: TestClient) -> None:
    assert error_of(admin.post("/v1/admin/policy/activate", json={"version": "nope@1"}), 404)


def test_the_audit_log_filters_and_its_csv_is_safe_in_spreadsheets(
    client: TestClient, admin: TestClient
) -> None:
    with client.app.state.db.session() as session:  # type: ignore[attr-defined]
        audit.record(session, "=cmd|' /C calc'!A0", "test.formula", "thing", "-2+3",
                     after={"note": "=1+1"})
        audit.record(session, "@SUM(A1)", "test.formula", "thing", "+1")
        audit.record(session, " =1+1", "spaced.formula", "thing", "\n-1")
        audit.record(session, "tester", "test.other", "widget", "7", before={"a": 1}, after={"a": 2})
    page = admin.get("/v1/admin/audit", params={"action": "test."}).json()
    assert [e["action"] for e in page["entries"]] == ["test.other", "test.formula", "test.formula"]
    assert admin.get("/v1/admin/audit", params={"actor": "tester"}).json()["entries"][0]["after"] == {"a": 2}
    assert len(admin.get("/v1/admin/audit", params={"target_type": "widget"}).json()["entries"]) == 1
    today = datetime.now(UTC).date()
    dated = {"action": "test.", "since": str(today), "until": str(today)}
    assert len(admin.get("/v1/admin/audit", params=dated).json()["entries"]) == 3
    tomorrow = {"action": "test.", "since": str(today + timedelta(days=1))}
    assert admin.get("/v1/admin/audit", params=tomorrow).json()["entries"] == []
    first = admin.get("/v1/admin/audit", params={"action": "test.", "limit": 2}).json()
    rest = admin.get("/v1/admin/audit", params={"action": "test.", "limit": 2,
                                                 "before_id": first["next_before_id"]}).json()
    assert len(first["entries"]) == 2 and len(rest["entries"]) == 1 and rest["next_before_id"] is None
    assert "since" in error_of(admin.get("/v1/admin/audit", params={"since": "last week"}), 422)

    download = admin.get("/v1/admin/audit.csv", params={"action": "test.formula"})
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert download.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [r["actor"] for r in rows] == ["'@SUM(A1)", "'=cmd|' /C calc'!A0"]
    assert [r["target_id"] for r in rows] == ["'+1", "'-2+3"]
    assert rows[1]["after"] == '{"note": "=1+1"}'  # JSON starts with `{`: nothing to escape
    same = admin.get("/v1/admin/audit", params={"action": "test.formula", "format": "csv"})
    assert same.text == download.text
    assert error_of(admin.get("/v1/admin/audit.csv", params={"until": "2024-13-01"}), 422)
    # The shared writer (contentguard.csvfile): a formula after leading whitespace or a line
    # feed is escaped too, and every cell is quoted.
    spaced = admin.get("/v1/admin/audit.csv", params={"action": "spaced.formula"}).text
    (row,) = csv.DictReader(io.StringIO(spaced))
    assert row["actor"] == "' =1+1" and row["target_id"] == "'\n-1"
    assert spaced.startswith('"id","at","actor"')


def test_stats_have_one_value_per_bucket(client: TestClient, admin: TestClient) -> None:
    key = make_key(client.app.state.db)  # type: ignore[attr-defined]
    texts = client.post("/v1/moderate/text", json={"texts": ["hi", "hello"]}, headers=bearer(key))
    assert texts.status_code == 200
    for name, count in (("24h", 24), ("7d", 7), ("30d", 30)):
        figures = admin.get("/v1/admin/stats", params={"range": name}).json()
        assert len(figures["buckets"]) == count
        for series in (*figures["decisions"].values(), *figures["categories"].values(),
                       figures["queue"]["depth"], figures["throughput"]["reviewed"]):
            assert len(series) == count
    assert sum(map(sum, figures["decisions"].values())) >= 2
    assert figures["latency_ms"]["overall"]["text"]["count"] >= 2
    assert error_of(admin.get("/v1/admin/stats", params={"range": "1y"}), 422)


def test_admin_pages_need_an_admin_and_forms_need_the_csrf_token(
    client: TestClient, admin: TestClient
) -> None:
    moderator = person(client, "mo2", "moderator")
    for page in ("dashboard", "policy", "keys", "users", "audit"):
        assert admin.get(f"/admin/{page}").status_code == 200, page
        refused = moderator.get(f"/admin/{page}")
        assert refused.status_code == 403 and 'data-testid="forbidden"' in refused.text
        away = client.get(f"/admin/{page}", follow_redirects=False)
        assert away.status_code == 303 and away.headers["location"].startswith("/login")
    forged = admin.post("/admin/keys", data={"name": "x", "scopes": "moderate"},
                        headers={"X-CSRF-Token": ""})
    assert forged.status_code == 403


def test_key_form_shows_the_key_once_and_refused_forms_say_why(
    client: TestClient, admin: TestClient, policy_restored: None
) -> None:
    csrf = admin.headers["X-CSRF-Token"]
    made = admin.post("/admin/keys", data={"csrf_token": csrf, "name": "form key", "scopes": "moderate",
                                           "rate_limit_per_min": "30"})
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    key = made.text.split('data-testid="new-key">')[1].split("<")[0]
    assert key.startswith("cg_") and key not in admin.get("/admin/keys").text
    bad = admin.post("/admin/keys", data={"csrf_token": csrf, "name": "x", "scopes": "moderate",
                                          "callback_url": "http://127.0.0.1/"})
    assert bad.status_code == 422 and "callback_url" in bad.text and 'value="x"' in bad.text
    policy = admin.post("/admin/policy", data={"csrf_token": csrf, "category": "spam",
                                               "review.spam": "0.95", "block.spam": "0.9"})
    assert policy.status_code == 422 and "must not be above" in policy.text
    assert 'value="0.95"' in policy.text  # the form keeps what was typed
    notnum = admin.post("/admin/policy", data={"csrf_token": csrf, "category": "spam",
                                               "review.spam": "lots", "block.spam": ""})
    assert notnum.status_code == 422 and "not a number" in notnum.text
    user = admin.post("/admin/users", data={"csrf_token": csrf, "username": "pat", "password": "short"},
                      follow_redirects=False)
    assert user.status_code == 422 and "10 characters" in user.text
    ok = admin.post("/admin/users", data={"csrf_token": csrf, "username": "pat", "password": PASSWORD,
                                          "role": "moderator"}, follow_redirects=False)
    assert ok.status_code == 303
    shown = admin.get(ok.headers["location"])
    assert "Moderator pat created." in shown.text
    assert "Moderator pat created." not in admin.get("/admin/users").text  # shown once

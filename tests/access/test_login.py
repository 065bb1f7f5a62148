"""Signing in and out, sessions, CSRF and cookie flags, through the real app and database."""

from __future__ import annotations

import re

from helpers.accounts import PASSWORD, login, make_key, make_user
from sqlalchemy import select

from contentguard.store.tables import AuditEntry, WebSession


def _form_token(page_text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page_text)
    assert found, page_text[:300]
    return found.group(1)


def test_pages_redirect_to_login_and_api_says_401_without_credentials(make_dummy_client) -> None:
    with make_dummy_client(auth=False) as client:
        page = client.get("/", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")
        api = client.post("/v1/moderate/text", json={"text": "hello"})
        assert api.status_code == 401
        assert api.json()["error"]["code"] == "unauthorized"
        assert api.headers["www-authenticate"].startswith("Bearer")
        bad_key = client.post("/v1/moderate/text", json={"text": "hello"},
                              headers={"Authorization": "Bearer cg_not-a-real-key"})
        assert bad_key.status_code == 401 and "not valid" in bad_key.json()["error"]["message"]


def test_login_sets_a_safe_session_cookie_and_logout_ends_it(make_dummy_client) -> None:
    with make_dummy_client(auth=False) as client:
        db = client.app.state.db
        make_user(db, "mira", "moderator")
        csrf = login(client, "mira")
        cookie = next(c for c in client.cookies.jar if c.name == "cg_session")
        assert cookie.has_nonstandard_attr("HttpOnly")
        assert cookie.get_nonstandard_attr("SameSite", "").lower() == "lax"
        with db.session() as session:
            stored = session.scalars(select(WebSession.id)).all()
        assert stored and cookie.value not in stored  # only the token's hash is stored
        # the session may moderate from the page, with its CSRF token
        ok = client.post("/v1/moderate/text", json={"text": "hello"}, headers={"X-CSRF-Token": csrf})
        assert ok.status_code == 200, ok.text
        missing = client.post("/v1/moderate/text", json={"text": "hello"})
        assert missing.status_code == 403 and "CSRF" in missing.json()["error"]["message"]
        wrong = client.post("/v1/moderate/text", json={"text": "hi"}, headers={"X-CSRF-Token": "x"})
        assert wrong.status_code == 403
        out = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
        assert out.status_code == 303
        client.cookies.set("cg_session", cookie.value)  # a stolen cookie is dead after logout
        assert client.get("/", follow_redirects=False).status_code == 303
        with db.session() as session:
            actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions[-2:] == ["user.login", "user.logout"]


def test_wrong_password_and_missing_form_token_are_refused(make_dummy_client) -> None:
    with make_dummy_client(auth=False) as client:
        make_user(client.app.state.db, "nils", "admin")
        token = _form_token(client.get("/login").text)
        wrong = client.post("/login", data={"username": "nils", "password": "nope-nope-nope",
                                            "csrf_token": token}, follow_redirects=False)
        assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
        client.cookies.clear()
        stale = client.post("/login", data={"username": "nils", "password": PASSWORD,
                                            "csrf_token": token}, follow_redirects=False)
        assert stale.status_code == 403  # no login-CSRF cookie: the form did not come from us
        assert "cg_session" not in client.cookies


def test_login_never_redirects_off_site(make_dummy_client) -> None:
    with make_dummy_client(auth=False) as client:
        make_user(client.app.state.db, "olga", "moderator")
        for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
            client.cookies.clear()
            token = _form_token(client.get("/login").text)
            answer = client.post("/login", data={"username": "olga", "password": PASSWORD,
                                                 "csrf_token": token, "next": target},
                                 follow_redirects=False)
            assert answer.status_code == 303 and answer.headers["location"] == "/", target


def test_login_attempts_are_rate_limited_per_address(make_dummy_client) -> None:
    with make_dummy_client(auth=False) as client:
        statuses = []
        for _ in range(12):
            token = _form_token(client.get("/login").text)
            statuses.append(client.post("/login", data={"username": "x", "password": "y" * 12,
                                                         "csrf_token": token}).status_code)
        assert statuses[:10] == [401] * 10 and statuses[-1] == 429


def test_moderator_cannot_use_api_key_routes_meant_for_other_roles(make_dummy_client) -> None:
    with make_dummy_client(auth=False) as client:
        key = make_key(client.app.state.db, scopes=("results",))
        refused = client.post("/v1/moderate/text", json={"text": "x"},
                              headers={"Authorization": f"Bearer {key}"})
        assert refused.status_code == 403 and "scope" in refused.json()["error"]["message"]

"""Accounts for tests: users, sessions and API keys made through the real store (no mocks)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from contentguard.server.auth import SESSION_COOKIE
from contentguard.store import accounts
from contentguard.store.db import Database

PASSWORD = "correct horse battery"
SERVED: dict[str, Database] = {}  # base URL → database of an app served by a test fixture


def make_user(db: Database, username: str, role: str = "moderator", password: str = PASSWORD) -> int:
    with db.session() as session:
        return accounts.create_user(session, username, password, role, actor="test").id


def ensure_user(db: Database, username: str, role: str = "moderator", password: str = PASSWORD) -> int:
    from sqlalchemy import select

    from contentguard.store.tables import User

    with db.session() as session:
        found = session.scalar(select(User.id).where(User.username == username))
    return found if found is not None else make_user(db, username, role, password)


def make_key(db: Database, scopes: tuple[str, ...] = accounts.SCOPES, rate: int = 1_000_000,
             name: str = "test client", callback_url: str | None = None) -> str:
    """A new API key's plaintext (send it as `Authorization: Bearer …`)."""
    with db.session() as session:
        return accounts.create_api_key(session, name, list(scopes), rate, actor="test",
                                       callback_url=callback_url).key


def session_for(db: Database, username: str, role: str = "moderator") -> tuple[str, str]:
    """(session cookie token, CSRF token) of a fresh session for `username` (made if needed)."""
    ensure_user(db, username, role)
    from sqlalchemy import select

    from contentguard.store.tables import User

    with db.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        token, row = accounts.create_session(session, user, ttl_h=1)
        return token, row.csrf_token


def login(client, username: str, password: str = PASSWORD) -> str:  # type: ignore[no-untyped-def]
    """Sign `client` (a TestClient or httpx.Client) in through the real form; returns the CSRF
    token for later state-changing calls."""
    page = client.get("/login")
    field = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert field, page.text[:500]
    answer = client.post("/login", data={"username": username, "password": password,
                                         "csrf_token": field.group(1), "next": "/"},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text[:500]
    home = client.get("/")
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', home.text)
    assert csrf, home.text[:500]
    return csrf.group(1)


def api_client(base: str, scopes: tuple[str, ...] = accounts.SCOPES):  # type: ignore[no-untyped-def]
    """An httpx client for the app served at `base`, with a fresh API key."""
    import httpx

    key = make_key(SERVED[base], scopes)
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def signed_in_client(client: TestClient, username: str, role: str = "moderator") -> TestClient:
    """Another client of `client`'s app, signed in as `username` (made if new), sending its
    CSRF token with every request."""
    token, csrf = session_for(client.app.state.db, username, role)  # type: ignore[attr-defined]
    person = TestClient(client.app, raise_server_exceptions=False, headers={"X-CSRF-Token": csrf})
    person.cookies.set(SESSION_COOKIE, token)
    return person

"""Every response carries the anti-framing, no-sniff and referrer headers (issue #13 item 11):
every page, the API, static files, downloads, redirects and the 404 / 405 / 413 / 500 errors;
the HTML pages also get a whole Content-Security-Policy (which the browser tests in tests/ui
prove the pages work under; tests/ui/test_framing.py shows Chromium refusing to frame them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from helpers.accounts import signed_in_client
from httpx import Response

from contentguard.server.security_headers import FRAMING, PAGE_POLICY, policy_for

PAGES = ("/", "/login", "/review", "/appeals", "/admin/dashboard", "/admin/policy", "/admin/keys",
         "/admin/users", "/admin/audit", "/admin/webhooks")


@pytest.fixture(scope="module")
def app_client(make_dummy_client) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with make_dummy_client(max_bytes=10_000) as client:
        yield client


@pytest.fixture(scope="module")
def admin(app_client: TestClient) -> TestClient:
    return signed_in_client(app_client, "framing-admin", "admin")


def assert_protected(response: Response, policy: str = FRAMING) -> None:
    headers = response.headers
    where = f"{response.request.method} {response.request.url.path} ({response.status_code})"
    assert headers.get("x-frame-options") == "DENY", where
    assert headers.get("content-security-policy") == policy, where
    assert headers.get("x-content-type-options") == "nosniff", where
    assert headers.get("referrer-policy") == "no-referrer", where
    assert len(headers.get_list("x-frame-options")) == 1, where


@pytest.mark.parametrize("path", PAGES)
def test_every_page_refuses_framing_and_has_the_page_policy(admin: TestClient, path: str) -> None:
    page = admin.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), path
    assert_protected(page, PAGE_POLICY)


def test_signed_out_pages_redirects_and_the_forbidden_page_too(app_client: TestClient) -> None:
    anonymous = TestClient(app_client.app, raise_server_exceptions=False)
    login = anonymous.get("/login")
    assert login.status_code == 200
    assert_protected(login, PAGE_POLICY)
    redirect = anonymous.get("/review", follow_redirects=False)
    assert redirect.status_code == 303
    assert_protected(redirect)
    moderator = signed_in_client(app_client, "framing-mod", "moderator")
    forbidden = moderator.get("/admin/users")
    assert forbidden.status_code == 403 and forbidden.headers["content-type"].startswith("text/html")
    assert_protected(forbidden, PAGE_POLICY)


def test_api_static_downloads_and_docs(app_client: TestClient, admin: TestClient) -> None:
    text = app_client.post("/v1/moderate/text", json={"text": "hello there"})
    assert text.status_code == 200
    assert_protected(text)
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/static/review.js",
                 "/v1/admin/audit.csv"):
        response = admin.get(path)
        assert response.status_code == 200, path
        assert_protected(response)
    docs = app_client.get("/docs")  # Swagger UI loads from a CDN: framing refused, no page policy
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert_protected(docs)


def test_error_responses(app_client: TestClient) -> None:
    missing = app_client.get("/no/such/page")
    assert missing.status_code == 404
    assert_protected(missing)
    wrong_method = app_client.put("/v1/moderate/text", json={"text": "x"})
    assert wrong_method.status_code == 405
    assert_protected(wrong_method)
    too_large = app_client.post("/v1/moderate/image", content=b"\0" * 200_000,
                                headers={"content-type": "image/png"})
    assert too_large.status_code == 413
    assert_protected(too_large)
    unauthenticated = TestClient(app_client.app, raise_server_exceptions=False).post(
        "/v1/moderate/text", json={"text": "x"})
    assert unauthenticated.status_code == 401
    assert_protected(unauthenticated)


def test_a_bug_s_500_is_in_the_error_shape_with_the_headers(app_client: TestClient) -> None:
    """An exception no handler turns into a response (a route added for the test) is answered
    by Starlette's outermost middleware; the headers middleware sends that 500 itself."""

    async def broken() -> None:
        raise ZeroDivisionError("test")

    app_client.app.add_api_route("/test-only/broken", broken)  # type: ignore[attr-defined]
    answer = app_client.get("/test-only/broken")
    assert answer.status_code == 500
    error = answer.json()["error"]
    assert error["code"] == "internal_error"
    assert error["message"] == "unexpected ZeroDivisionError; see the server log"
    assert_protected(answer)


def test_a_response_s_own_policy_is_kept_with_framing_refused() -> None:
    assert policy_for("/v1/review/items/x/media", "image/png", "sandbox; default-src 'none'") == \
        "sandbox; default-src 'none'; frame-ancestors 'none'"
    assert policy_for("/x", "text/html", "default-src 'self'; frame-ancestors 'self'") == \
        "default-src 'self'; frame-ancestors 'self'"
    assert policy_for("/review", "text/html; charset=utf-8", None) == PAGE_POLICY
    assert policy_for("/docs", "text/html; charset=utf-8", None) == FRAMING
    assert policy_for("/v1/results/x", "application/json", None) == FRAMING

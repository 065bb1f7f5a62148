"""Ids and dates no row can have, on every route that takes one, on SQLite and PostgreSQL: a 4xx
in the route's own error form (the JSON error object; a page's HTML for pages), never a 500;
the real rows are served as before. Issue #13 items 4 and 14: ids past 2^63 overflowed
SQLite's INTEGER, `until=9999-12-31` overflowed the day after it, and the id columns are int4
on PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers.accounts import PASSWORD, make_user, signed_in_client
from helpers.apps import backend_overrides

from contentguard.store import accounts
from contentguard.store import webhooks as outbox
from contentguard.store.db import Database

INT4_MAX = 2**31 - 1
IDS = (0, -1, INT4_MAX, 2**31, 2**63 - 1, 2**63, 10**30)
POSSIBLE = (INT4_MAX,)  # in range: a well-formed id that names no row here

# (method, path with {} for the id, request arguments, the parameter's name)
ID_ROUTES: tuple[tuple[str, str, dict[str, Any], str], ...] = (
    ("PATCH", "/v1/admin/users/{}", {"json": {"active": True}}, "user_id"),
    ("POST", "/v1/admin/users/{}/password", {"json": {"password": PASSWORD}}, "user_id"),
    ("PATCH", "/v1/admin/keys/{}", {"json": {"rate_limit_per_min": 60}}, "key_id"),
    ("POST", "/v1/admin/keys/{}/revoke", {}, "key_id"),
    ("GET", "/v1/admin/webhooks/{}", {}, "delivery_id"),
    ("POST", "/v1/admin/webhooks/{}/retry", {}, "delivery_id"),
    ("GET", "/v1/review/items/{}", {}, "item_id"),
    ("POST", "/v1/review/items/{}/claim", {}, "item_id"),
    ("POST", "/v1/review/items/{}/decision", {"json": {"verdict": "escalate"}}, "item_id"),
    ("POST", "/v1/review/items/{}/release", {}, "item_id"),
    ("GET", "/v1/review/items/{}/media", {}, "item_id"),
    ("GET", "/v1/review/items/{}/thumbnail", {}, "item_id"),
    ("GET", "/v1/appeals/{}", {}, "appeal_id"),
)
# listing filters and pages: a possible id simply matches (200)
ID_QUERIES = (
    ("/v1/admin/audit?before_id={}", "before_id"),
    ("/v1/admin/webhooks?api_key_id={}", "api_key_id"),
    ("/v1/admin/webhooks?before={}", "before"),
)
PAGE_QUERIES = (
    ("/v1/admin/audit?limit={}", "limit", 500),
    ("/v1/admin/webhooks?limit={}", "limit", 500),
    ("/v1/review/queue?limit={}", "limit", 200),
    ("/v1/appeals?limit={}", "limit", 200),
    ("/v1/review/queue?offset={}", "offset", 1_000_000),
    ("/v1/appeals?offset={}", "offset", 1_000_000),
)

ACCEPTED_DATES = ("9999-12-31", "0001-01-01", "9999-12-31T23:59:59.999999", "0001-01-01T00:00:00Z",
                  "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "2024-02-29")
REFUSED_DATES = ("10000-01-01", "+10000-01-01", "99999999999999999999-01-01", "0000-01-01",
                 "2023-02-29", "9999-12-32", "-0001-01-01", "not-a-date", "2024-01-01T25:00",
                 "\x00", "9" * 5000)
AUDIT_VIEWS = {"json": ("/v1/admin/audit", {}), "csv": ("/v1/admin/audit.csv", {}),
               "format=csv": ("/v1/admin/audit", {"format": "csv"}), "page": ("/admin/audit", {})}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def client(request, make_client) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with make_client(auth=False, **backend_overrides(request)) as client:
        yield client


@pytest.fixture(scope="module")
def admin(client: TestClient) -> TestClient:
    return signed_in_client(client, "root", "admin")


@pytest.fixture(scope="module")
def rows(client: TestClient) -> dict[str, int]:
    """Real rows of each kind (each one also audited)."""
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    user = make_user(db, "alice")
    with db.session() as session:
        key = accounts.create_api_key(session, "acme", ["moderate"], 60, actor="test",
                                      callback_url="http://127.0.0.1:9/hook").row.id
    with db.session() as session:
        delivery = outbox.enqueue_event(session, key, "moderation.completed", {"result_id": "ab" * 16})
        assert delivery is not None
        delivery_id = delivery.id
    return {"user": user, "key": key, "delivery": delivery_id}


def refused(response, name: str) -> str | None:  # type: ignore[no-untyped-def]
    """What is wrong with a refusal that should be 422 `invalid_request` naming `name`."""
    if response.status_code != 422:
        return f"{response.status_code} {response.text[:200]}"
    body = response.json()
    if body.get("source", "?") is not None or body["error"]["code"] != "invalid_request" \
            or name not in body["error"]["message"]:
        return f"not the error object naming {name}: {body}"
    return None


def html(response, status: int, words: str | None = None) -> str | None:  # type: ignore[no-untyped-def]
    """What is wrong with a page answer that should be `status`, HTML, saying `words`."""
    if response.status_code != status or not response.headers["content-type"].startswith("text/html"):
        return f"{response.status_code} {response.headers['content-type']} {response.text[:200]}"
    if words is not None and words not in response.text:
        return f"the page does not say {words!r}"
    return None


@pytest.mark.parametrize(("method", "path", "kwargs", "name"), ID_ROUTES,
                         ids=[f"{m} {p}" for m, p, _, _ in ID_ROUTES])
def test_an_id_no_row_can_have_is_refused(admin: TestClient, rows: dict[str, int], method: str,
                                          path: str, kwargs: dict[str, Any], name: str) -> None:
    wrong = {}
    for value in IDS:
        answer = admin.request(method, path.format(value), **kwargs)
        if value in POSSIBLE:
            if answer.status_code != 404 or answer.json()["error"]["code"] != "not_found":
                wrong[value] = f"{answer.status_code} {answer.text[:200]}"
        elif problem := refused(answer, name):
            wrong[value] = problem
    assert not wrong, wrong


@pytest.mark.parametrize(("path", "name"), ID_QUERIES, ids=[p for p, _ in ID_QUERIES])
def test_an_id_filter_no_row_can_match_is_refused(admin: TestClient, rows: dict[str, int],
                                                  path: str, name: str) -> None:
    wrong = {}
    for value in IDS:
        answer = admin.get(path.format(value))
        if value in POSSIBLE:
            if answer.status_code != 200:
                wrong[value] = f"{answer.status_code} {answer.text[:200]}"
        elif problem := refused(answer, name):
            wrong[value] = problem
    assert not wrong, wrong


@pytest.mark.parametrize(("path", "name", "most"), PAGE_QUERIES, ids=[p for p, _, _ in PAGE_QUERIES])
def test_page_sizes_and_offsets_are_bounded(admin: TestClient, path: str, name: str, most: int) -> None:
    assert admin.get(path.format(most)).status_code == 200
    wrong = {v: p for v in (most + 1, -1, 2**63, 10**30) if (p := refused(admin.get(path.format(v)), name))}
    assert not wrong, wrong


def test_ids_a_moderator_skipped_are_ids_too(admin: TestClient) -> None:
    assert admin.post("/v1/review/claim", json={"exclude": [1, INT4_MAX]}).status_code == 200
    wrong = {v: p for v in (0, 2**31, 2**63, 10**30)
             if (p := refused(admin.post("/v1/review/claim", json={"exclude": [1, v]}), "exclude"))}
    assert not wrong, wrong


def test_the_real_rows_are_served_after_the_refusals(admin: TestClient, rows: dict[str, int]) -> None:
    for method, path, kwargs, _ in ID_ROUTES[:6]:
        for value in IDS:
            admin.request(method, path.format(value), **kwargs)
    assert admin.patch(f"/v1/admin/users/{rows['user']}", json={"active": True}).status_code == 200
    changed = admin.patch(f"/v1/admin/keys/{rows['key']}", json={"rate_limit_per_min": 61})
    assert changed.status_code == 200 and changed.json()["rate_limit_per_min"] == 61
    delivery = admin.get(f"/v1/admin/webhooks/{rows['delivery']}")
    assert delivery.status_code == 200 and delivery.json()["api_key_id"] == rows["key"]
    listed = admin.get(f"/v1/admin/webhooks?api_key_id={rows['key']}&before={INT4_MAX}")
    assert [d["id"] for d in listed.json()["deliveries"]] == [rows["delivery"]]
    audit = admin.get(f"/v1/admin/audit?before_id={INT4_MAX}&target_type=user&target_id={rows['user']}")
    assert [e["action"] for e in audit.json()["entries"]][-1] == "user.create"
    assert "alice" in admin.get("/admin/users").text


# --- the admin pages: their own HTML error, not JSON ---------------------------------------------
def test_pages_refuse_an_impossible_id_on_the_page(admin: TestClient, rows: dict[str, int]) -> None:
    csrf = admin.headers["X-CSRF-Token"]
    posts = (("/admin/keys/{}/revoke", {"csrf_token": csrf}, "API keys"),
             ("/admin/users/{}", {"csrf_token": csrf, "do": "enable"}, "Users"))
    wrong = {}
    for path, form, title in posts:
        for value in IDS:
            answer = admin.post(path.format(value), data=form, follow_redirects=False)
            expected = (404, None) if value in POSSIBLE else (422, "is not an id")
            if problem := html(answer, *expected) or (None if title in answer.text else "another page"):
                wrong[path.format(value)] = problem
    for value in IDS:
        answer = admin.get(f"/admin/audit?before_id={value}")
        expected = (200, None) if value in POSSIBLE else (422, "is not an id")
        if problem := html(answer, *expected):
            wrong[f"audit {value}"] = problem
    for value in (*IDS, "²", "١٢", "1e3", " "):  # the webhook page's filters ignore what is not an id
        answer = admin.get("/admin/webhooks", params={"key": value, "before": value})
        if problem := html(answer, 200):
            wrong[f"webhooks {value!r}"] = problem
    assert not wrong, wrong
    revoked = admin.post(f"/admin/keys/{rows['key']}/revoke", data={"csrf_token": csrf},
                         follow_redirects=False)
    assert revoked.status_code == 303
    assert admin.get(f"/v1/admin/webhooks/{rows['delivery']}").status_code == 200


# --- dates -----------------------------------------------------------------------------------------
def _count(admin: TestClient, view: str, **params: str) -> int:
    path, extra = AUDIT_VIEWS[view]
    answer = admin.get(path, params={**extra, **params})
    assert answer.status_code == 200, (view, params, answer.status_code, answer.text[:300])
    if view == "json":
        return len(answer.json()["entries"])
    if view == "page":
        return answer.text.count("<tr data-action=")
    return len(list(csv.reader(io.StringIO(answer.text)))) - 1


@pytest.mark.parametrize("view", AUDIT_VIEWS)
def test_extreme_dates_select_what_they_say(admin: TestClient, rows: dict[str, int], view: str) -> None:
    everything = _count(admin, view)
    assert everything > 0
    for value in ACCEPTED_DATES:
        early = value.startswith("0001")
        leap = value == "2024-02-29"  # a real date: every entry here is later
        assert _count(admin, view, until=value) == (0 if early or leap else everything), value
        assert _count(admin, view, since=value) == (everything if early or leap else 0), value


@pytest.mark.parametrize("view", AUDIT_VIEWS)
def test_dates_no_calendar_has_are_refused(admin: TestClient, rows: dict[str, int], view: str) -> None:
    path, extra = AUDIT_VIEWS[view]
    wrong = {}
    for value in REFUSED_DATES:
        for name in ("since", "until"):
            answer = admin.get(path, params={**extra, name: value})
            problem = (html(answer, 422, "is not a date") if view == "page"
                       else refused(answer, name))
            if problem:
                wrong[f"{name}={value[:20]!r}"] = problem
    assert not wrong, wrong


def test_text_filters_with_a_nul_are_refused(admin: TestClient) -> None:
    """PostgreSQL cannot compare a text holding NUL (a 500 there; SQLite matched nothing)."""
    wrong = {}
    for view, (path, extra) in AUDIT_VIEWS.items():
        for name in ("actor", "action", "target_type", "target_id"):
            answer = admin.get(path, params={**extra, name: "a\x00b"})
            problem = html(answer, 422, "NUL") if view == "page" else refused(answer, name)
            if problem:
                wrong[f"{view} {name}"] = problem
    assert not wrong, wrong


# --- the document says so ---------------------------------------------------------------------------
def test_every_integer_parameter_has_its_bounds_in_the_openapi_document(client: TestClient) -> None:
    """What a client (or a schema-driven fuzzer) reads is what the server refuses."""
    document = client.get("/openapi.json").json()
    unbounded, seen = [], 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                for choice in schema.get("anyOf", [schema]):
                    if choice.get("type") != "integer":
                        continue
                    seen += 1
                    low, high = choice.get("minimum", -1), choice.get("maximum", INT4_MAX + 1)
                    if not (0 <= low and high <= INT4_MAX):
                        unbounded.append(f"{method.upper()} {path} {parameter['name']}: {choice}")
    assert seen >= 15 and not unbounded, unbounded
    ids = document["paths"]["/v1/admin/users/{user_id}"]["patch"]["parameters"][0]["schema"]
    assert (ids["minimum"], ids["maximum"]) == (1, INT4_MAX)

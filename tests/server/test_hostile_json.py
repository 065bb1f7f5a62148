"""Hostile JSON bodies and strings (issue #13, items 2, 3, 7 and 14), on SQLite and PostgreSQL.

Raw bodies (bytes, so the hostile JSON reaches the server as written) go to every route that
parses JSON — found in the app itself, so a new JSON route is covered too — and to the
`?async=true` forms: nesting past `max_json_depth`, number literals past
`max_json_number_chars`, lone surrogates and NULs in every stored string. Each is a 4xx in the
one error shape that says what is wrong, and nothing stored before is lost or added.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import params
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from helpers.accounts import PASSWORD, make_key, signed_in_client
from helpers.apps import backend_overrides
from helpers.samples import image_bytes
from sqlalchemy import func, select

from contentguard.schemas import ErrorResult
from contentguard.server import create_app
from contentguard.server.json_body import nests_deeper
from contentguard.server.safe_request import SafeRoute
from contentguard.store.tables import ApiKey, Base, User

ASYNC_FORMS = ("/v1/moderate/image", "/v1/moderate/batch", "/v1/moderate/text")
JSON = {"content-type": "application/json"}
PNG_B64 = base64.b64encode(image_bytes(3)).decode()


def assert_error(response, status: int | tuple[int, ...], code: str | tuple[str, ...]) -> str:  # type: ignore[no-untyped-def]
    """The one error shape with `status` and `code`; returns the message."""
    statuses = status if isinstance(status, tuple) else (status,)
    codes = code if isinstance(code, tuple) else (code,)
    assert response.status_code in statuses, (response.request.url, response.text[:500])
    body = response.json()
    ErrorResult.model_validate(body)
    assert body["error"]["code"] in codes, body
    assert body["error"]["message"], body
    return body["error"]["message"]


# --- the app, its callers and what it stored before -------------------------------------------------
@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(request, make_dummy_client) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with make_dummy_client(auth=False, **backend_overrides(request)) as client:
        yield client


@dataclass
class Callers:
    client: TestClient  # an API key with every scope
    admin: TestClient
    moderator: TestClient

    def for_path(self, path: str) -> TestClient:
        if path.startswith("/v1/admin"):
            return self.admin
        if path.startswith("/v1/review"):
            return self.moderator
        return self.client


@dataclass
class Stored:
    """What the app holds before the hostile requests: it must all stay (and nothing be added)."""

    result_id: str
    result: dict  # type: ignore[type-arg]
    key_id: int
    user_id: int


@pytest.fixture(scope="module")
def callers(app: TestClient) -> Callers:
    key = make_key(app.app.state.db)  # type: ignore[attr-defined]
    client = TestClient(app.app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"})
    return Callers(client, signed_in_client(app, "root", "admin"), signed_in_client(app, "mod", "moderator"))


@pytest.fixture(scope="module")
def stored(app: TestClient, callers: Callers) -> Stored:
    answer = callers.client.post("/v1/moderate/text", json={"text": "have a lovely day", "source": "before"})
    assert answer.status_code == 200, answer.text
    db = app.app.state.db  # type: ignore[attr-defined]
    with db.session() as session:
        key_id = session.scalar(select(func.max(ApiKey.id)))
        user_id = session.scalar(select(User.id).where(User.username == "mod"))
    return Stored(answer.json()["result_id"], answer.json(), key_id, user_id)


def row_counts(app: TestClient) -> dict[str, int]:
    with app.app.state.db.session() as session:  # type: ignore[attr-defined]
        return {t.name: session.scalar(select(func.count()).select_from(t)) or 0
                for t in Base.metadata.sorted_tables}


@pytest.fixture
def unchanged(app: TestClient, callers: Callers, stored: Stored) -> Iterator[None]:
    """Around a test of refusals: the stored result reads back the same, no row was added."""
    before = row_counts(app)
    yield
    assert row_counts(app) == before
    again = callers.client.get(f"/v1/results/{stored.result_id}")
    assert again.status_code == 200, again.text
    assert again.json() == stored.result


# --- every route that parses a JSON body ------------------------------------------------------------
def _walk(routes, prefix: str = "") -> Iterator[tuple[str, APIRoute]]:  # type: ignore[no-untyped-def]
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _walk(inner.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            yield prefix + route.path, route


def _takes_json(route: APIRoute) -> bool:
    if route.body_field is not None:
        return not isinstance(route.body_field.field_info, params.Form)
    content = (route.openapi_extra or {}).get("requestBody", {}).get("content", {})
    return "application/json" in content


def json_routes(app: TestClient) -> list[tuple[str, str]]:
    """(method, concrete path) of every route that decodes a JSON body, and the async forms."""
    found = []
    for path, route in _walk(app.app.routes):
        if _takes_json(route):
            concrete = re.sub(r"\{\w+\}", "1", path)
            for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
                found.append((method, concrete))
                if path in ASYNC_FORMS:
                    found.append((method, concrete + "?async=true"))
    return found


def send(callers: Callers, method: str, path: str, body: bytes):  # type: ignore[no-untyped-def]
    return callers.for_path(path).request(method, path, content=body, headers=JSON)


def test_every_route_is_a_safe_route_and_the_json_routes_are_found(app: TestClient) -> None:
    routes = list(_walk(app.app.routes))
    assert routes and all(isinstance(r, SafeRoute) for _, r in routes), \
        [p for p, r in routes if not isinstance(r, SafeRoute)]
    found = set(json_routes(app))
    for expected in [("POST", "/v1/moderate/image"), ("POST", "/v1/moderate/batch?async=true"),
                     ("POST", "/v1/moderate/text?async=true"), ("POST", "/v1/admin/keys"),
                     ("PATCH", "/v1/admin/keys/1"), ("POST", "/v1/admin/users"),
                     ("POST", "/v1/admin/policy"), ("POST", "/v1/review/items/1/decision"),
                     ("POST", "/v1/review/claim"), ("POST", "/v1/appeals")]:
        assert expected in found, expected


# --- item 2: nesting and number literals ----------------------------------------------------------
@pytest.mark.parametrize("depth", [900, 1000, 100_000])
def test_deep_nesting_is_a_400_on_every_json_route(app: TestClient, callers: Callers, unchanged: None,
                                                   depth: int) -> None:
    body = b'{"x": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"
    for method, path in json_routes(app):
        message = assert_error(send(callers, method, path, body), 400, "bad_request")
        assert "nests deeper than 64 levels of arrays and objects" in message, (path, message)


def test_nesting_up_to_the_limit_is_parsed(app: TestClient, callers: Callers, unchanged: None) -> None:
    body = b'{"x": ' + b"[" * 63 + b"]" * 63 + b"}"  # 64 levels with the object
    for method, path in json_routes(app):
        answer = send(callers, method, path, body)
        assert 400 <= answer.status_code < 500, (path, answer.text)
        assert "nests deeper" not in answer.json()["error"]["message"], path


@pytest.mark.parametrize("literal", [b"1" * 4300, b"1" * 4301, b"-" + b"9" * 100_000,
                                     b"0." + b"1" * 4301, b"1e" + b"9" * 200])
def test_long_number_literals_are_a_400_on_every_json_route(app: TestClient, callers: Callers,
                                                            unchanged: None, literal: bytes) -> None:
    for body in (b'{"x": ' + literal + b"}", b'{"items": [' + literal + b"]}"):
        for method, path in json_routes(app):
            message = assert_error(send(callers, method, path, body), 400, "bad_request")
            assert f"a number of {len(literal):,} characters; numbers may have at most 100" in message, \
                (path, message)


def test_ordinary_numbers_and_bad_json_are_still_told_apart(app: TestClient, callers: Callers,
                                                           unchanged: None) -> None:
    # a number at the limit is parsed (then refused by the model: a URL is a string)
    message = assert_error(send(callers, "POST", "/v1/moderate/image", b'{"url": ' + b"1" * 100 + b"}"),
                           400, "bad_request")
    assert "url" in message and "characters" not in message
    for body, says in [(b'{"url": NaN}', "NaN is not a JSON value"), (b'{"url": ', "not valid JSON"),
                       (b'\xff{"url": 1}', "not valid JSON")]:
        for method, path in json_routes(app):
            assert says in assert_error(send(callers, method, path, body), 400, "bad_request"), path


@pytest.mark.parametrize("number", [b"2147483648", b"9223372036854775808", b"-9" + b"9" * 30, b"0"])
def test_ids_out_of_range_in_a_json_body_are_a_422(app: TestClient, callers: Callers, unchanged: None,
                                                   number: bytes) -> None:
    # review item ids are int4 on PostgreSQL (and int64 on SQLite): ids outside cannot exist
    answer = send(callers, "POST", "/v1/review/claim", b'{"exclude": [1, ' + number + b"]}")
    assert "exclude.1" in assert_error(answer, 422, "invalid_request")


@pytest.mark.parametrize(("text", "depth"), [
    ("[]", 1), ('{"a": [1, {"b": "[[[[{{"}]}', 3), ('"\\"[["', 0), ('[[["\\\\"]]]', 3),
    ('["]]]]", [[[]]]]', 4), ('"unterminated [[[', 0), ("", 0), ("[{}]", 2), ("[\u00e9[", 2),
])
def test_the_depth_scan_skips_strings(text: str, depth: int) -> None:
    assert nests_deeper(text, depth - 1) == (depth > 0)
    assert not nests_deeper(text, depth)


def test_the_depth_scan_stays_linear_on_strings_that_never_end() -> None:
    # an unterminated string of escaped quotes: a naive string pattern restarts at each quote
    import time

    def cost(run) -> float:  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        run()
        return time.perf_counter() - start

    hostile = "[" * 70 + '"' + '\\"' * 1_000_000
    reference = '["' + '\\"' * 1_000_000 + '"]'  # the same string, terminated, parsed by json
    assert nests_deeper(hostile, 64)  # the brackets before the string count
    # about 6× here; a pattern restarting at each quote would be ~10⁵× (quadratic)
    assert cost(lambda: nests_deeper(hostile, 10_000)) < 100 * cost(lambda: json.loads(reference)) + 0.1


# --- item 3: lone surrogates and NULs in every stored string ------------------------------------------
# the hostile string, what the message says of it, and where in it the bad character is
BAD = {"lone high surrogate": ("ab\ud800c", "lone surrogate (U+D800)", 2),
       "lone low surrogate": ("\udfff", "lone surrogate (U+DFFF)", 0),
       "NUL": ("a\x00", "NUL character (U+0000)", 1)}


V = "<V>"  # where the hostile string goes


def string_cases(stored: Stored) -> list[tuple[str, str, object, str]]:
    """(method, path, body with the placeholder V, the field the message names)."""
    v = V
    cases: list[tuple[str, str, object, str]] = []
    for suffix in ("", "?async=true"):
        cases += [
            ("POST", "/v1/moderate/text" + suffix, {"text": v}, "text"),
            ("POST", "/v1/moderate/text" + suffix, {"text": "hello", "source": v}, "source"),
            ("POST", "/v1/moderate/text" + suffix, {"texts": ["hello", v]}, "texts.1"),
            ("POST", "/v1/moderate/image" + suffix, {"url": v}, "url"),
            ("POST", "/v1/moderate/batch" + suffix, {"items": [{"url": v}]}, "items.0.url"),
            ("POST", "/v1/moderate/batch" + suffix, {"items": [{"data": v}]}, "items.0.data"),
            ("POST", "/v1/moderate/batch" + suffix,
             {"items": [{"data": PNG_B64, "name": "ok"}, {"data": PNG_B64, "name": v}]}, "items.1.name"),
        ]
    cases += [
        ("POST", "/v1/admin/keys", {"name": v, "scopes": ["moderate"]}, "name"),
        ("POST", "/v1/admin/keys", {"name": "hooks", "scopes": ["moderate"], "callback_url": v},
         "callback_url"),
        ("PATCH", f"/v1/admin/keys/{stored.key_id}", {"callback_url": v}, "callback_url"),
        ("POST", "/v1/admin/users", {"username": v, "password": PASSWORD}, "username"),
        ("POST", "/v1/admin/users", {"username": "newperson", "password": PASSWORD + v}, "password"),
        ("POST", f"/v1/admin/users/{stored.user_id}/password", {"password": PASSWORD + v}, "password"),
        ("POST", "/v1/admin/policy", {"thresholds": {v: {"review": 0.5}}}, "object key"),
        ("POST", "/v1/admin/policy/activate", {"version": v}, "version"),
        ("POST", "/v1/review/items/1/decision", {"verdict": "approve", "reason_category": v},
         "reason_category"),
        ("POST", "/v1/review/items/1/decision", {"verdict": "escalate", "note": v}, "note"),
        ("POST", "/v1/appeals", {"result_id": stored.result_id, "message": v}, "message"),
    ]
    return cases


def _hole(template: object) -> str:
    """The string of `template` that holds the placeholder."""
    if isinstance(template, str):
        return template
    parts = [*template.items()] if isinstance(template, dict) else template  # type: ignore[attr-defined]
    flat = [x for p in parts for x in (p if isinstance(p, tuple) else (p,))]  # type: ignore[union-attr]
    return next(_hole(x) for x in flat if V in json.dumps(x))


def _with(template: object, value: str) -> object:
    if isinstance(template, str):
        return template.replace(V, value)
    if isinstance(template, dict):
        return {_with(k, value): _with(v, value) for k, v in template.items()}  # type: ignore[misc]
    if isinstance(template, list):
        return [_with(v, value) for v in template]
    return template


@pytest.mark.parametrize("kind", list(BAD))
def test_lone_surrogates_and_nuls_are_refused_naming_the_field(app: TestClient, callers: Callers,
                                                               stored: Stored, unchanged: None,
                                                               kind: str) -> None:
    value, says, offset = BAD[kind]
    for method, path, template, field in string_cases(stored):
        body = json.dumps(_with(template, value)).encode()  # escapes: "\ud800", "\u0000"
        message = assert_error(send(callers, method, path, body), (400, 422),
                               ("bad_request", "invalid_request"))
        at = _hole(template).index(V) + offset
        assert field in message and f"{says} at position {at}" in message, (path, field, message)


def test_raw_bytes_that_decode_to_a_surrogate_are_refused_too(app: TestClient, callers: Callers,
                                                              unchanged: None) -> None:
    # b"\xed\xa0\x80" is U+D800 encoded as if it were a character (not valid UTF-8)
    for path in ("/v1/moderate/text", "/v1/moderate/text?async=true"):
        answer = send(callers, "POST", path, b'{"text": "ab\xed\xa0\x80"}')
        assert "text: contains a lone surrogate (U+D800) at position 2" in \
            assert_error(answer, 422, "invalid_request")


@pytest.mark.parametrize("key", [b"\\ud800", b"x\\u0000"])
def test_object_keys_with_a_surrogate_or_nul_are_refused(app: TestClient, callers: Callers,
                                                         unchanged: None, key: bytes) -> None:
    says = ("lone surrogate (U+D800) at position 0" if b"ud800" in key
            else "NUL character (U+0000) at position 1")
    for method, path in json_routes(app):
        answer = send(callers, method, path, b'{"items": [{"' + key + b'": 1}]}')
        message = assert_error(answer, 400, "bad_request")
        assert f'object key "{key.decode()}" contains a {says}' in message, (path, message)


def test_valid_surrogate_pairs_and_other_characters_are_stored_and_read_back(
    app: TestClient, callers: Callers
) -> None:
    body = b'{"text": "so happy \\ud83d\\ude00 \\u00e9\\t", "source": "src \\ud83d\\ude00\\u0001"}'
    answer = send(callers, "POST", "/v1/moderate/text", body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["source"] == "src \U0001f600\x01"
    again = callers.client.get(f"/v1/results/{answer.json()['result_id']}")
    assert again.status_code == 200 and again.json()["source"] == "src \U0001f600\x01"
    made = callers.admin.post("/v1/admin/keys", content='{"name": "café \\ud83d\\ude00", '
                              '"scopes": ["moderate"]}'.encode(), headers=JSON)
    assert made.status_code == 201, made.text
    assert made.json()["name"] == "café \U0001f600"


# --- item 3 too: NULs in `?name=` and in forms (no surrogate gets through those) ----------------------
def _multipart(name: str, filename: bytes | None, content: bytes) -> tuple[bytes, dict[str, str]]:
    """A multipart body written by hand, so a NUL in the file name reaches the server as is."""
    disposition = b'form-data; name="' + name.encode() + b'"'
    if filename is not None:
        disposition += b'; filename="' + filename + b'"'
    body = (b"--cgB\r\nContent-Disposition: " + disposition + b"\r\nContent-Type: image/png\r\n\r\n"
            + content + b"\r\n--cgB--\r\n")
    return body, {"content-type": "multipart/form-data; boundary=cgB"}


def _form_csrf(person: TestClient, page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', person.get(page).text)
    assert found, page
    return found.group(1)


def test_nuls_in_the_name_parameter_and_forms_are_refused_naming_them(
    app: TestClient, callers: Callers, unchanged: None
) -> None:
    png = image_bytes(5)
    raw = {"content": png, "headers": {"content-type": "image/png"}}
    c, admin = callers.client, callers.admin
    cases: list[tuple[TestClient, str, str, dict, str]] = []  # type: ignore[type-arg]
    for suffix in ("", "?async=true"):
        joined = "&" if suffix else "?"
        named = f"/v1/moderate/image{suffix}{joined}name=a%00b"
        cases += [
            (c, "POST", named, raw, "query parameter `name`"),
            (c, "POST", f"/v1/moderate/image{suffix}", dict(zip(("content", "headers"),
             _multipart("file", b"a\x00.png", png), strict=True)), "form field `file`"),
            (c, "POST", f"/v1/moderate/batch{suffix}", dict(zip(("content", "headers"),
             _multipart("file", b"b\x00.png", png), strict=True)), "form field `file`"),
            (c, "POST", f"/v1/moderate/batch{suffix}", dict(zip(("content", "headers"),
             _multipart("url", None, b"https://example.com/\x00.png"), strict=True)), "form field `url`"),
        ]
    # (the audit log's text filters refuse a NUL themselves: tests/admin/test_out_of_range.py)
    cases += [
        (admin, "POST", "/admin/keys", {"data": {"name": "a\x00", "scopes": "moderate",
                                                  "csrf_token": _form_csrf(admin, "/admin/keys")}},
         "form field `name`"),
    ]
    visitor = TestClient(app.app, raise_server_exceptions=False)
    cases.append((visitor, "POST", "/login", {"data": {
        "username": "root\x00", "password": PASSWORD, "csrf_token": _form_csrf(visitor, "/login")}},
        "form field `username`"))
    for person, method, path, kwargs, named in cases:
        message = assert_error(person.request(method, path, **kwargs), 400, "bad_request")
        assert f"{named} contains a NUL character (U+0000)" in message, (path, message)


def test_a_non_ascii_csrf_token_is_a_403_not_a_500(app: TestClient, callers: Callers,
                                                  unchanged: None) -> None:
    # hmac.compare_digest raises TypeError on non-ASCII str: a header byte 0xE9 is "é"
    session = TestClient(app.app, raise_server_exceptions=False)
    for name, value in callers.admin.cookies.items():
        session.cookies.set(name, value)
    answer = session.post("/v1/admin/keys", json={"name": "x", "scopes": ["moderate"]},
                          headers={"X-CSRF-Token": b"\xe9"})
    assert "CSRF" in assert_error(answer, 403, "forbidden")
    assert callers.admin.post("/admin/keys", data={"name": "x", "scopes": "moderate",
                                                   "csrf_token": "é"}).status_code == 403
    visitor = TestClient(app.app, raise_server_exceptions=False)
    visitor.get("/login")
    assert visitor.post("/login", data={"username": "root", "password": PASSWORD,
                                        "csrf_token": "é"}).status_code == 403


# --- item 7: a chunked body over the limit is a 413 wherever it goes ---------------------------------
def test_a_chunked_body_over_the_limit_is_a_413_on_every_route(make_dummy_client) -> None:  # type: ignore[no-untyped-def]
    limit = 4096 + 64 * 1024  # max_bytes + the multipart slack (server/app.py)

    def chunked(start: bytes, end: bytes, size: int) -> Iterator[bytes]:  # no Content-Length
        yield start
        for _ in range(size // 8192):
            yield b"a" * 8192
        yield end

    with make_dummy_client(max_bytes=4096) as client:
        admin = signed_in_client(client, "root", "admin")
        text = (b'{"text": "', b'"}')
        for person, path, (start, end), ctype in [
            (client, "/v1/moderate/text", text, "application/json"),
            (client, "/v1/moderate/text?async=true", text, "application/json"),
            (client, "/v1/moderate/image", (b'{"url": "', b'"}'), "application/json"),
            (client, "/v1/moderate/image?async=true", (b'{"url": "', b'"}'), "application/json"),
            (admin, "/v1/admin/keys", (b'{"name": "', b'", "scopes": ["moderate"]}'), "application/json"),
            (client, "/login", (b"username=", b"&password=x"), "application/x-www-form-urlencoded"),
        ]:
            over = person.post(path, content=chunked(start, end, limit + 8192),
                               headers={"content-type": ctype})
            assert f"over the limit of {limit} bytes" in assert_error(over, 413, "too_large"), path
        under = client.post("/v1/moderate/text", content=chunked(*text, 16_384),
                            headers={"content-type": "application/json"})
        assert under.status_code == 200, under.text
        with client.app.state.db.session() as session:  # type: ignore[attr-defined]
            assert session.scalar(select(func.count()).select_from(Base.metadata.tables["async_jobs"])) == 0


@contextmanager
def running(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """`app` served by uvicorn in a thread on a free loopback port, once ready: its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        while httpx.get(f"{base}/readyz").status_code != 200:
            assert time.monotonic() < deadline, "not ready"
            time.sleep(0.05)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def test_a_chunked_body_over_the_limit_is_a_413_through_a_real_server(  # type: ignore[no-untyped-def]
    settings, dummy_moderator, dummy_text_moderator, tmp_path
) -> None:
    """The same on a real socket: uvicorn decodes the chunked transfer encoding."""
    changed = settings.model_copy(update={"max_bytes": 4096,
                                          "database_url": f"sqlite:///{tmp_path / 'cg.db'}"})
    app = create_app(changed, moderator=dummy_moderator, text_moderator=dummy_text_moderator)

    def chunked() -> Iterator[bytes]:
        yield b'{"text": "'
        yield from (b"a" * 8192 for _ in range(12))
        yield b'"}'

    with running(app) as base:
        auth = {"Authorization": f"Bearer {make_key(app.state.db)}", **JSON}
        for path in ("/v1/moderate/text", "/v1/moderate/text?async=true", "/v1/moderate/image"):
            answer = httpx.post(base + path, content=chunked(), headers=auth, timeout=30)
            assert answer.request.headers["transfer-encoding"] == "chunked"
            assert "over the limit of 69632 bytes" in assert_error(answer, 413, "too_large"), path


# --- the store refuses them as well, for callers other than the HTTP API (the CLI) ------------------
@pytest.mark.parametrize("kind", list(BAD))
def test_the_store_refuses_unstorable_key_names_and_passwords(db, kind: str) -> None:  # type: ignore[no-untyped-def]
    from contentguard.errors import InvalidRequest
    from contentguard.store import accounts

    value, says, offset = BAD[kind]
    with pytest.raises(InvalidRequest, match=re.escape(f"the key's name contains a {says}")), \
            db.session() as session:
        accounts.create_api_key(session, f"key {value}", ["moderate"], 60, actor="test")
    with pytest.raises(InvalidRequest, match=re.escape(f"the password contains a {says}")), \
            db.session() as session:
        accounts.create_user(session, "someone", PASSWORD + value, "moderator", actor="test")
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ApiKey)) == 0
        assert session.scalar(select(func.count()).select_from(User)) == 0

"""Every route × every kind of caller, on SQLite and PostgreSQL: roles are enforced on the server.

The table below says who may call each route. A route missing from it fails the test, so a new
route cannot ship without deciding who may use it. "Admitted" means anything but 401/403 (and,
for pages, not the redirect to /login): the dummy ids in the paths may well give 404 or 422.
"""

from __future__ import annotations

import re

import pytest
from helpers.accounts import make_key, session_for
from helpers.apps import backend_overrides

from contentguard.store.accounts import SCOPES

PUBLIC = "public"  # no credentials needed
CALLERS = ("none", "client", "client_without_scope", "moderator", "admin")

# (method, path) → (roles admitted, the API key scope needed, is it an HTML page)
C, M, A = "client", "moderator", "admin"
ROUTES: dict[tuple[str, str], tuple[frozenset[str], str | None, bool]] = {}


def route(method: str, path: str, *roles: str, scope: str | None = None, page: bool = False) -> None:
    ROUTES[(method, path)] = (frozenset(roles), scope, page)


# health, docs, sign-in: public
for method, path in [("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
                     ("GET", "/login"), ("POST", "/login")]:
    route(method, path, PUBLIC)
# moderation and results: clients with the scope, and signed-in people (the checker page)
for path in ("/v1/moderate/image", "/v1/moderate/batch", "/v1/moderate/text"):
    route("POST", path, C, M, scope="moderate")
route("GET", "/v1/results/{result_id}", C, M, scope="results")
route("GET", "/", M, page=True)
route("POST", "/logout", M)
# administration: admins only (pages and their forms, and the JSON API)
for path in ("/admin", "/admin/dashboard", "/admin/policy", "/admin/keys", "/admin/users",
             "/admin/audit", "/admin/webhooks"):
    route("GET", path, A, page=True)
for path in ("/admin/keys", "/admin/keys/{key_id}/revoke", "/admin/policy", "/admin/policy/activate",
             "/admin/users", "/admin/users/{user_id}"):
    route("POST", path, A, page=True)
for method, path in [
    ("GET", "/v1/admin/users"), ("POST", "/v1/admin/users"), ("PATCH", "/v1/admin/users/{user_id}"),
    ("POST", "/v1/admin/users/{user_id}/password"),
    ("GET", "/v1/admin/keys"), ("POST", "/v1/admin/keys"), ("PATCH", "/v1/admin/keys/{key_id}"),
    ("POST", "/v1/admin/keys/{key_id}/revoke"),
    ("GET", "/v1/admin/policy"), ("POST", "/v1/admin/policy"), ("POST", "/v1/admin/policy/activate"),
    ("GET", "/v1/admin/audit"), ("GET", "/v1/admin/audit.csv"), ("GET", "/v1/admin/stats"),
    ("GET", "/v1/admin/webhooks"), ("GET", "/v1/admin/webhooks/{delivery_id}"),
    ("POST", "/v1/admin/webhooks/{delivery_id}/retry"),
]:
    route(method, path, A)
# the review queue: moderators (and admins)
route("GET", "/review", M, page=True)
route("GET", "/appeals", M, page=True)
for method, path in [
    ("GET", "/v1/review/queue"), ("POST", "/v1/review/claim"), ("GET", "/v1/review/items/{item_id}"),
    ("GET", "/v1/review/items/{item_id}/media"), ("GET", "/v1/review/items/{item_id}/thumbnail"),
    ("POST", "/v1/review/items/{item_id}/claim"), ("POST", "/v1/review/items/{item_id}/decision"),
    ("POST", "/v1/review/items/{item_id}/release"), ("GET", "/v1/appeals"),
]:
    route(method, path, M)
# appeals: the client platform files them and reads its own; moderators read them all
route("POST", "/v1/appeals", C, scope="appeal")
route("GET", "/v1/appeals/{appeal_id}", C, M, scope="appeal")
EXTRA: list[tuple[str, str, tuple[str, ...], str | None, bool]] = []

SAMPLE_PARAMS = {"result_id": "0" * 32, "item_id": "1", "appeal_id": "1", "key_id": "1",
                 "user_id": "1", "delivery_id": "1", "version": "default@2", "id": "1"}


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: SAMPLE_PARAMS.get(m.group(1), "1"), path)


def _walk(routes, prefix: str = ""):  # type: ignore[no-untyped-def]
    """Every endpoint route, looking into included routers (FastAPI may keep them nested)."""
    for r in routes:
        inner = getattr(r, "original_router", None)
        if inner is not None:
            yield from _walk(inner.routes, prefix + r.include_context.prefix)
        elif getattr(r, "methods", None) and hasattr(r, "path"):
            yield prefix + r.path, r.methods


def _app_routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    found = []
    for path, methods in _walk(app.routes):
        if path.startswith(("/static", "/docs", "/openapi.json")):
            continue
        found += [(m, path) for m in sorted(methods) if m not in ("HEAD", "OPTIONS")]
    return found


@pytest.fixture(params=["sqlite", "postgresql"])
def matrix_client(request, make_dummy_client):  # type: ignore[no-untyped-def]
    with make_dummy_client(auth=False, **backend_overrides(request)) as client:
        yield client


def _headers(client, caller: str, scope: str | None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    db = client.app.state.db
    client.cookies.clear()
    if caller == "none":
        return {}
    if caller == "client":
        return {"Authorization": f"Bearer {make_key(db)}"}
    if caller == "client_without_scope":
        others = tuple(s for s in SCOPES if s != scope) or ("results",)
        return {"Authorization": f"Bearer {make_key(db, scopes=others)}"}
    token, csrf = session_for(db, f"matrix-{caller}", caller)
    client.cookies.set("cg_session", token)
    return {"X-CSRF-Token": csrf}


def _expected(caller: str, roles: frozenset[str], scope: str | None) -> bool:
    if PUBLIC in roles:
        return True
    if caller == "none":
        return False
    if caller == "client":
        return C in roles
    if caller == "client_without_scope":
        return C in roles and scope is None
    if caller == "moderator":
        return M in roles
    return M in roles or A in roles  # an admin holds the moderator role too


def test_every_route_is_in_the_table_and_every_caller_gets_the_right_status(matrix_client) -> None:
    client = matrix_client
    for method, path, roles, scope, page in EXTRA:
        route(method, path, *roles, scope=scope, page=page)
    present = _app_routes(client.app)
    assert len(present) > 10, present
    missing = sorted(set(present) - set(ROUTES))
    assert not missing, f"routes with no entry in the role table: {missing}"
    wrong = []
    for method, path in present:
        roles, scope, page = ROUTES[(method, path)]
        for caller in CALLERS:
            headers = _headers(client, caller, scope)
            form = {"csrf_token": headers["X-CSRF-Token"]} if page and method == "POST" and \
                "X-CSRF-Token" in headers else None  # forms carry the token as a field
            answer = client.request(method, _concrete(path), headers=headers, data=form,
                                    follow_redirects=False)
            to_login = answer.status_code == 303 and "/login?next=" in answer.headers.get("location", "")
            admitted = answer.status_code not in (401, 403) and not to_login
            if admitted != _expected(caller, roles, scope):
                wrong.append(f"{method} {path} as {caller}: {answer.status_code}")
            if not admitted and not page and answer.status_code not in (401, 403):
                wrong.append(f"{method} {path} as {caller}: refused with {answer.status_code}")
            if caller == "none" and not admitted and not page:
                if answer.status_code != 401:
                    wrong.append(f"{method} {path} without credentials: {answer.status_code}")
    assert not wrong, "\n".join(wrong)

"""Who is calling, and may they: the dependency every route declares.

Two kinds of credentials:
- **API keys** (client platforms): `Authorization: Bearer cg_…` (or `X-API-Key`). Role
  `client`, limited to the key's scopes (`moderate`, `appeal`, `results`) and its requests
  per minute (429 `rate_limited` beyond).
- **Web sessions** (people): the `cg_session` cookie set by `/login`. Roles `moderator` or
  `admin` (an admin holds both). Every state-changing request made with a session must carry
  the session's CSRF token (`X-CSRF-Token` header, or a `csrf_token` form field).

Everything is checked here, on the server, for every route; the UI only hides what a role
cannot use.
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from dataclasses import dataclass, field

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from contentguard.errors import Forbidden, RateLimited, Unauthorized
from contentguard.store import accounts
from contentguard.store.db import Database
from contentguard.store.decisions import Requester
from contentguard.store.tables import utcnow

ROLES = ("client", "moderator", "admin")
SESSION_COOKIE = "cg_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_KEY_CACHE_S = 5.0  # a revoked key stops working in this process at once, elsewhere within this


@dataclass(frozen=True)
class Principal:
    name: str  # for the audit log: "user:alice", "key:3:acme"
    roles: frozenset[str] = field(default_factory=frozenset)
    user_id: int | None = None
    username: str | None = None
    api_key_id: int | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    csrf_token: str | None = None

    @property
    def requester(self) -> Requester:
        return Requester(api_key_id=self.api_key_id, user_id=self.user_id)

    def has(self, role: str) -> bool:
        return role in self.roles


class RateLimiter:
    """Token buckets: `per_min` a minute for each key (an API key, a client address, a user
    name), bursts up to `per_min`. Buckets idle for a minute are full again, so they are
    forgotten once there are many."""

    _PRUNE_ABOVE = 10_000

    def __init__(self) -> None:
        self._buckets: dict[object, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._pruned_at = 0.0

    def take(self, key_id: object, per_min: int, what: str = "this API key",
             unit: str = "requests") -> None:
        """Spend one token of `key_id`'s bucket, or raise RateLimited (with the wait)."""
        now = time.monotonic()
        rate = per_min / 60.0
        with self._lock:
            tokens, last = self._buckets.get(key_id, (float(per_min), now))
            tokens = min(float(per_min), tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                wait = (1.0 - tokens) / rate
                raise RateLimited(
                    f"{what} is limited to {per_min} {unit} a minute; retry in "
                    f"{math.ceil(wait)} s", retry_after=wait)
            self._buckets[key_id] = (tokens - 1.0, now)
            if len(self._buckets) > self._PRUNE_ABOVE and now - self._pruned_at > 1.0:
                self._pruned_at = now
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60.0}

    def refund(self, key_id: object, per_min: int) -> None:
        """Give back the token `take` spent (e.g. on a sign-in that succeeded)."""
        with self._lock:
            if key_id in self._buckets:
                tokens, last = self._buckets[key_id]
                self._buckets[key_id] = (min(float(per_min), tokens + 1.0), last)


class KeyCache:
    """API key lookups for a few seconds, so a busy client costs no query per request."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, Principal | None, int]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[Principal | None, int] | None:
        with self._lock:
            entry = self._items.get(key)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1], entry[2]

    def put(self, key: str, principal: Principal | None, per_min: int) -> None:
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[key] = (time.monotonic() + _KEY_CACHE_S, principal, per_min)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _lookup_key(db: Database, key: str) -> tuple[Principal | None, int]:
    with db.session() as session:
        row = accounts.find_api_key(session, key)
        if row is None:
            return None, 0
        now = utcnow()
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
            row.last_used_at = now
        principal = Principal(
            name=f"key:{row.id}:{row.name}",
            roles=frozenset({"client"}),
            api_key_id=row.id,
            scopes=frozenset(row.scopes or ()),
        )
        return principal, row.rate_limit_per_min


def _lookup_session(db: Database, token: str) -> Principal | None:
    with db.session() as session:
        found = accounts.find_session(session, token)
        if found is None:
            return None
        row, user = found
        return Principal(
            name=f"user:{user.username}",
            roles=accounts.user_roles(user),
            user_id=user.id,
            username=user.username,
            csrf_token=row.csrf_token,
        )


def bearer_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key") or None


async def identify(request: Request) -> Principal | None:
    """The caller, from an API key or a session cookie (None when neither is valid)."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    app_state = request.app.state
    principal: Principal | None = None
    key = bearer_key(request)
    if key is not None:
        cached = app_state.key_cache.get(key)
        if cached is None:
            cached = await run_in_threadpool(_lookup_key, app_state.db, key)
            app_state.key_cache.put(key, *cached)
        principal, per_min = cached
        if principal is None:
            raise Unauthorized("this API key is not valid (unknown or revoked)")
        assert principal.api_key_id is not None
        app_state.limiter.take(principal.api_key_id, per_min)
    else:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            principal = await run_in_threadpool(_lookup_session, app_state.db, token)
    request.state.principal = principal
    return principal


async def _check_csrf(request: Request, principal: Principal) -> None:
    if request.method in SAFE_METHODS or principal.csrf_token is None:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        sent = (await request.form()).get("csrf_token")  # type: ignore[assignment]
    # compared as bytes: compare_digest raises TypeError on non-ASCII str (a header of é)
    if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), principal.csrf_token.encode()):
        raise Forbidden("missing or wrong CSRF token: reload the page and try again")


def authorize(*roles: str, scope: str | None = None):  # type: ignore[no-untyped-def]
    """A dependency admitting callers that hold one of `roles` (API keys also need `scope`);
    401 without valid credentials, 403 without the role, scope or CSRF token."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    if scope is not None and scope not in accounts.SCOPES:
        raise ValueError(f"unknown scope {scope}")

    async def dependency(request: Request) -> Principal:
        principal = await identify(request)
        if principal is None:
            raise Unauthorized(
                "sign in, or send an API key as `Authorization: Bearer cg_…`")
        if not principal.roles & set(roles):
            raise Forbidden(f"this needs the role {' or '.join(roles)}; you are "
                            f"{', '.join(sorted(principal.roles))}")
        if principal.api_key_id is not None and scope and scope not in principal.scopes:
            raise Forbidden(f"this API key lacks the scope `{scope}`")
        await _check_csrf(request, principal)
        return principal

    dependency.__name__ = f"authorize_{'_'.join(roles)}"
    return dependency

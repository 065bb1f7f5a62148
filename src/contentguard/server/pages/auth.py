"""Signing in and out of the web UI: argon2-checked passwords, server-side sessions in an
HttpOnly, SameSite=Lax cookie (Secure on https), CSRF tokens on the login form and after.

Password guessing is bounded twice: attempts per client address (the connecting address, or
the one a trusted proxy forwards), and failed attempts per user name from all addresses
together, so rotating addresses does not multiply the guesses. A sign-in that succeeds gives
its account token back; while someone keeps failing, the real user sees 429 with Retry-After
(a token comes back every 60/limit seconds), never a permanent lock."""

from __future__ import annotations

import hmac
import math
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from contentguard.errors import RateLimited, Unauthorized
from contentguard.server.auth import SESSION_COOKIE, Principal, authorize, identify
from contentguard.server.deps import DbDep, LimiterDep, SettingsDep
from contentguard.server.pages.ui import render, root_of
from contentguard.server.safe_request import SafeRoute
from contentguard.settings import Settings
from contentguard.store import accounts, audit

router = APIRouter(include_in_schema=False, route_class=SafeRoute)
LOGIN_CSRF_COOKIE = "cg_login_csrf"


def secure_cookies(request: Request, settings: Settings) -> bool:
    mode = settings.cookie_secure
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


def _safe_next(value: str | None, root: str) -> str:
    """Only a path on this site (no scheme, no `//host`): an open redirect otherwise."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return root


def _login_page(request: Request, settings: Settings, status_code: int = 200,
                **context: object) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", None, status_code=status_code, login_csrf=token,
                      next=_safe_next(request.query_params.get("next") or context.pop("next", None),
                                      root_of(request)), **context)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=secure_cookies(request, settings), path="/")
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, settings: SettingsDep) -> Response:
    try:
        principal = await identify(request)
    except Unauthorized:
        principal = None
    if principal is not None and principal.user_id is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next"), root_of(request)), 303)
    return _login_page(request, settings)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    settings: SettingsDep,
    limiter: LimiterDep,
    db: DbDep,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        return _login_page(request, settings, 403, error="The form expired; please sign in again.",
                           username=username, next=next)
    client = request.client.host if request.client else "unknown"
    account = ("login-account", username.lower())  # user names are matched case-insensitively
    try:
        limiter.take(("login", client), settings.login_attempts_per_min,
                     what="signing in from this address", unit="attempts")
        limiter.take(account, settings.login_account_failures_per_min,
                     what="signing in as this user", unit="failed attempts")
    except RateLimited as exc:
        page = _login_page(request, settings, 429, error=exc.message, username=username, next=next)
        page.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        return page
    ttl = settings.session_ttl_h

    def check() -> str | None:
        with db.session() as session:
            user = accounts.authenticate(session, username, password)
            if user is None:
                audit.record(session, f"anonymous@{client}", "user.login_failed", "user",
                             after={"username": username[:64]})
                return None
            token, _ = accounts.create_session(session, user, ttl)
            audit.record(session, f"user:{user.username}", "user.login", "user", user.id)
            return token

    token = await run_in_threadpool(check)
    if token is not None:  # only failures count against the account
        limiter.refund(account, settings.login_account_failures_per_min)
    if token is None:
        return _login_page(request, settings, 401, error="Wrong username or password.",
                           username=username, next=next)
    response = RedirectResponse(_safe_next(next, root_of(request)), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax",
                        secure=secure_cookies(request, settings), max_age=int(ttl * 3600), path="/")
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(
    request: Request, db: DbDep, principal: Annotated[Principal, Depends(authorize("moderator"))]
) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")

    def end() -> None:
        with db.session() as session:
            accounts.end_session(session, token)
            audit.record(session, principal.name, "user.logout", "user", principal.user_id)

    await run_in_threadpool(end)
    response = RedirectResponse(f"{root_of(request)}login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response

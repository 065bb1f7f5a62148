"""The admin's pages: dashboard, policy, API keys, users, audit log. Server-rendered forms
(working without JavaScript) that run the same operations as `/v1/admin`; a successful POST
redirects with a one-time flash message, a refused one re-renders the form with the reason.
Charts are inline SVG drawn here, so the dashboard needs no script and no CDN.
"""

from __future__ import annotations

import hmac
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote, unquote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from contentguard.errors import ContentGuardError, InvalidRequest
from contentguard.server.auth import Principal
from contentguard.server.deps import DbDep, EngineDep, KeyCacheDep, SettingsDep
from contentguard.server.pages.ui import PageForbidden, page_user, render, root_of
from contentguard.server.params import row_id_of
from contentguard.server.safe_request import SafeRoute
from contentguard.service import admin as ops
from contentguard.service.engine import Engine
from contentguard.store import accounts, stats
from contentguard.store.db import Database

router = APIRouter(prefix="/admin", include_in_schema=False, route_class=SafeRoute)
AdminPage = Annotated[Principal, Depends(page_user("admin"))]
FLASH_COOKIE = "cg_flash"
NO_STORE = {"Cache-Control": "no-store"}


# --- flash messages and forms ---------------------------------------------------------------------
def _redirect(request: Request, path: str, message: str, kind: str = "ok") -> RedirectResponse:
    """303 to an admin page that shows `message` once (a server-set cookie, so a crafted link
    cannot put words on the page)."""
    response = RedirectResponse(f"{root_of(request)}admin/{path}", status_code=303)
    response.set_cookie(FLASH_COOKIE, quote(f"{kind}|{message}"), max_age=60, httponly=True,
                        samesite="strict", path=f"{root_of(request)}admin")
    return response


def _page(request: Request, template: str, principal: Principal, status_code: int = 200,
          **context: Any) -> HTMLResponse:
    if "flash" not in context and FLASH_COOKIE in request.cookies:
        kind, _, message = unquote(request.cookies[FLASH_COOKIE]).partition("|")
        context.update(flash=message[:300], flash_kind=kind if kind in ("ok", "error") else "info")
    response = render(request, template, principal, status_code=status_code, when=when, **context)
    response.headers.update(NO_STORE)
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path=f"{root_of(request)}admin")
    return response


async def _form(request: Request, principal: Principal) -> FormData:
    """The posted form, once its CSRF token matches the session's."""
    form = await request.form()
    sent = form.get("csrf_token")
    if not isinstance(sent, str) or not principal.csrf_token or \
            not hmac.compare_digest(sent.encode(), principal.csrf_token.encode()):
        raise PageForbidden("The form expired or did not come from this site; reload the page "
                            "and try again.")
    return form


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return ops.problems(exc)
    return exc.message if isinstance(exc, ContentGuardError) else str(exc)


def _status(exc: Exception) -> int:
    return exc.http_status if isinstance(exc, ContentGuardError) else 422


@router.get("", include_in_schema=False)
async def admin_home(request: Request, principal: AdminPage) -> Response:
    return RedirectResponse(f"{root_of(request)}admin/dashboard", status_code=303)


# --- charts (inline SVG) --------------------------------------------------------------------------
W, H, LEFT, RIGHT, TOP, BOTTOM = 640, 200, 44, 8, 10, 22


@dataclass
class Chart:
    """Everything the SVG macro draws: shapes in viewBox units, axis ticks and the legend."""

    title: str
    summary: str
    unit: str = ""
    rects: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    dots: list[dict[str, Any]] = field(default_factory=list)
    y_ticks: list[dict[str, Any]] = field(default_factory=list)
    x_ticks: list[dict[str, Any]] = field(default_factory=list)
    legend: list[dict[str, Any]] = field(default_factory=list)
    width: int = W
    height: int = H


def _nice(peak: float) -> float:
    if peak <= 0:
        return 1.0
    step = 10 ** math.floor(math.log10(peak))
    return next(m * step for m in (1, 2, 2.5, 5, 10) if m * step >= peak)


def _axes(chart: Chart, buckets: list[datetime], unit: str, top: float, integer: bool) -> None:
    for frac in (0, 0.5, 1):
        value = top * frac
        label = f"{value:.0f}" if integer or value >= 10 else f"{value:g}"
        chart.y_ticks.append({"y": _y(value, top), "label": label})
    every = max(1, math.ceil(len(buckets) / 6))
    fmt = "%H:00" if unit == "hour" else "%b %d"
    for n, at in enumerate(buckets):
        if n % every == 0:
            chart.x_ticks.append({"x": _x(n + 0.5, len(buckets)), "label": at.strftime(fmt)})


def _x(position: float, count: int) -> float:
    return round(LEFT + (W - LEFT - RIGHT) * position / max(count, 1), 2)


def _y(value: float, top: float) -> float:
    return round(H - BOTTOM - (H - TOP - BOTTOM) * value / top, 2)


def bar_chart(title: str, buckets: list[datetime], unit: str, series: dict[str, list[int]],
              classes: dict[str, str]) -> Chart:
    """Stacked bars, one per bucket."""
    totals = [sum(values) for values in zip(*series.values(), strict=True)] or [0]
    top = max(_nice(max(totals)), 2)  # whole numbers on the middle tick too
    chart = Chart(title=title, summary=f"{sum(totals)} in all; busiest {max(totals)}")
    _axes(chart, buckets, unit, top, integer=True)
    slot = (W - LEFT - RIGHT) / max(len(buckets), 1)
    for n in range(len(buckets)):
        base = 0.0
        for name, values in series.items():
            if values[n]:
                y0, y1 = _y(base, top), _y(base + values[n], top)
                chart.rects.append({"x": round(LEFT + n * slot + slot * 0.15, 2), "y": y1,
                                    "w": round(slot * 0.7, 2), "h": round(y0 - y1, 2),
                                    "cls": classes[name],
                                    "tip": f"{buckets[n]:%Y-%m-%d %H:00}: {values[n]} {name}"})
                base += values[n]
    chart.legend = [{"name": name, "cls": classes[name], "total": sum(v)} for name, v in series.items()]
    return chart


def line_chart(title: str, buckets: list[datetime], unit: str,
               series: dict[str, list[float | None]], classes: dict[str, str],
               suffix: str = "") -> Chart:
    """One line per series; a missing value breaks the line."""
    values = [v for vs in series.values() for v in vs if v is not None]
    top = _nice(max(values, default=0))
    if not suffix:  # counts: whole numbers on the middle tick too
        top = max(top, 2)
    chart = Chart(title=title, unit=suffix,
                  summary=f"highest {max(values):g}{suffix}" if values else "no data in this range")
    _axes(chart, buckets, unit, top, integer=not suffix)
    for name, points in series.items():
        run: list[str] = []
        for n, value in enumerate(points + [None]):
            if value is None:
                if len(run) > 1:
                    chart.lines.append({"points": " ".join(run), "cls": classes[name]})
                run = []
                continue
            x, y = _x(n + 0.5, len(buckets)), _y(value, top)
            run.append(f"{x},{y}")
            chart.dots.append({"x": x, "y": y, "cls": classes[name],
                               "tip": f"{buckets[n]:%Y-%m-%d %H:00}: {value:g}{suffix} {name}"})
        shown = [p for p in points if p is not None]
        chart.legend.append({"name": name, "cls": classes[name],
                             "total": f"max {max(shown):g}{suffix}" if shown else "none"})
    return chart


def charts(figures: stats.Stats) -> list[Chart]:
    b, unit = figures.buckets, figures.unit
    palette = {name: f"c{n % 8}" for n, name in enumerate(figures.categories)}
    latency: dict[str, list[float | None]] = {
        f"{kind} avg": s["avg"] for kind, s in sorted(figures.latency.items())}
    kinds = {name: f"c{n % 8}" for n, name in enumerate(latency)}
    return [
        bar_chart("Decisions", b, unit, figures.decisions,
                  {name: f"s-{name}" for name in stats.DECISIONS}),
        line_chart("Decisions per category (at or over its threshold)", b, unit,
                   dict(figures.categories.items()), palette),  # type: ignore[arg-type]
        line_chart("Review queue depth", b, unit, {"open + claimed": figures.queue_depth},  # type: ignore[dict-item]
                   {"open + claimed": "c0"}),
        bar_chart("Items reviewed by people", b, unit, {"reviewed": figures.reviewed},
                  {"reviewed": "c1"}),
        line_chart("Model latency (average per item)", b, unit, latency, kinds, suffix=" ms"),
    ]


# --- dashboard ------------------------------------------------------------------------------------
@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(request: Request, engine: EngineDep, principal: AdminPage,
                         range: str = "24h") -> Response:
    context: dict[str, Any] = {}
    if range not in stats.RANGES:
        context.update(flash=f"range must be one of {', '.join(stats.RANGES)}", flash_kind="error")
        range = "24h"
    figures = await run_in_threadpool(ops.dashboard, engine, range)
    return _page(request, "admin_dashboard.html", principal, figures=figures,
                 charts=charts(figures), range=range, ranges=list(stats.RANGES), **context)


# --- policy ---------------------------------------------------------------------------------------
async def _policy_page(request: Request, engine: Engine, principal: Principal, status_code: int = 200,
                       **context: Any) -> HTMLResponse:
    state = await run_in_threadpool(ops.policy_state, engine)
    return _page(request, "admin_policy.html", principal, status_code, state=state,
                 values=context.pop("values", None), **context)


def _threshold(form: FormData, name: str, action: str) -> float | None:
    raw = _text(form, f"{action}.{name}")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidRequest(f"{name}: the {action} threshold {raw!r} is not a number") from None
    if not 0 <= value <= 1:
        raise InvalidRequest(f"{name}: the {action} threshold must be between 0 and 1, not {raw}")
    return value


@router.get("/policy", response_class=HTMLResponse)
async def policy_page(request: Request, engine: EngineDep, principal: AdminPage) -> Response:
    return await _policy_page(request, engine, principal)


@router.post("/policy", response_class=HTMLResponse)
async def policy_save(request: Request, engine: EngineDep, principal: AdminPage) -> Response:
    form = await _form(request, principal)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        names = [n for n in form.getlist("category") if isinstance(n, str)]
        change = ops.PolicyChange(
            thresholds={n: ops.ThresholdChange(review=_threshold(form, n, "review"),
                                               block=_threshold(form, n, "block")) for n in names},
            on_model_error=_text(form, "on_model_error") or None,  # type: ignore[arg-type]
        )
        state = await run_in_threadpool(ops.change_policy, engine, principal, change)
    except (ContentGuardError, ValidationError) as exc:
        return await _policy_page(request, engine, principal, _status(exc),
                                  flash=_error(exc), flash_kind="error", values=values)
    return _redirect(request, "policy", f"Saved: policy {state.active.version} is now active.")


@router.post("/policy/activate", response_class=HTMLResponse)
async def policy_activate(request: Request, engine: EngineDep, principal: AdminPage) -> Response:
    form = await _form(request, principal)
    try:
        body = ops.ActivateIn(version=_text(form, "version"))
        state = await run_in_threadpool(ops.activate_policy, engine, principal, body)
    except (ContentGuardError, ValidationError) as exc:
        return await _policy_page(request, engine, principal, _status(exc), flash=_error(exc),
                                  flash_kind="error")
    return _redirect(request, "policy", f"Policy {state.active.version} is active again.")


# --- API keys -------------------------------------------------------------------------------------
async def _keys_page(request: Request, db: Database, principal: Principal, status_code: int = 200,
                     **context: Any) -> HTMLResponse:
    keys = await run_in_threadpool(ops.list_keys, db)
    return _page(request, "admin_keys.html", principal, status_code, keys=keys,
                 scopes=accounts.SCOPES, values=context.pop("values", None), **context)


@router.get("/keys", response_class=HTMLResponse)
async def keys_page(request: Request, db: DbDep, principal: AdminPage) -> Response:
    return await _keys_page(request, db, principal)


@router.post("/keys", response_class=HTMLResponse)
async def keys_create(request: Request, db: DbDep, settings: SettingsDep,
                      principal: AdminPage) -> Response:
    """The new key is in this answer only (not a redirect: it must never be stored anywhere)."""
    form = await _form(request, principal)
    values = {"name": _text(form, "name"), "rate_limit_per_min": _text(form, "rate_limit_per_min"),
              "callback_url": _text(form, "callback_url"),
              "scopes": [s for s in form.getlist("scopes") if isinstance(s, str)]}
    try:
        body = ops.KeyIn(name=values["name"], scopes=values["scopes"],
                         rate_limit_per_min=values["rate_limit_per_min"] or 60,
                         callback_url=values["callback_url"] or None)
        new = await run_in_threadpool(ops.create_key, db, settings, principal, body)
    except (ContentGuardError, ValidationError) as exc:
        return await _keys_page(request, db, principal, _status(exc), flash=_error(exc),
                                flash_kind="error", values=values)
    return await _keys_page(request, db, principal, 201, new_key=new, flash_kind="ok",
                            flash=f"Key {new.name} created: copy it now, it is not shown again.")


@router.post("/keys/{key_id}/revoke", response_class=HTMLResponse)
async def keys_revoke(request: Request, db: DbDep, key_cache: KeyCacheDep, key_id: str,
                      principal: AdminPage) -> Response:
    await _form(request, principal)
    try:
        key = await run_in_threadpool(ops.revoke_key, db, principal, row_id_of(key_id, "key_id"))
    except ContentGuardError as exc:
        return await _keys_page(request, db, principal, exc.http_status, flash=exc.message,
                                flash_kind="error")
    key_cache.clear()
    return _redirect(request, "keys", f"Key {key.name} ({key.prefix}…) is revoked.")


# --- users ----------------------------------------------------------------------------------------
async def _users_page(request: Request, db: Database, principal: Principal, status_code: int = 200,
                      **context: Any) -> HTMLResponse:
    users = await run_in_threadpool(ops.list_users, db)
    return _page(request, "admin_users.html", principal, status_code, users=users,
                 roles=accounts.USER_ROLES, min_password=accounts.MIN_PASSWORD,
                 values=context.pop("values", None), **context)


@router.get("/users", response_class=HTMLResponse)
async def users_page(request: Request, db: DbDep, principal: AdminPage) -> Response:
    return await _users_page(request, db, principal)


@router.post("/users", response_class=HTMLResponse)
async def users_create(request: Request, db: DbDep, principal: AdminPage) -> Response:
    form = await _form(request, principal)
    values = {"username": _text(form, "username"), "role": _text(form, "role")}
    try:
        body = ops.UserIn(username=values["username"], password=str(form.get("password") or ""),
                          role=values["role"] or "moderator")  # type: ignore[arg-type]
        user = await run_in_threadpool(ops.create_user, db, principal, body)
    except (ContentGuardError, ValidationError) as exc:
        return await _users_page(request, db, principal, _status(exc), flash=_error(exc),
                                 flash_kind="error", values=values)
    return _redirect(request, "users", f"{user.role.capitalize()} {user.username} created.")


@router.post("/users/{user_id}", response_class=HTMLResponse)
async def users_change(request: Request, db: DbDep, user_id: str, principal: AdminPage) -> Response:
    """One route for a row's buttons: `do` = role, disable, enable or password."""
    form = await _form(request, principal)
    action = _text(form, "do")
    try:
        number = row_id_of(user_id, "user_id")
        if action == "password":
            body = ops.PasswordIn(password=str(form.get("password") or ""))
            user = await run_in_threadpool(ops.reset_password, db, principal, number, body)
            message = f"{user.username}'s password is reset; they are signed out everywhere."
        elif action in ("role", "disable", "enable"):
            change = (ops.UserChange(role=_text(form, "role")) if action == "role"  # type: ignore[arg-type]
                      else ops.UserChange(active=action == "enable"))
            user = await run_in_threadpool(ops.change_user, db, principal, number, change)
            message = (f"{user.username} is now {user.role}." if action == "role"
                       else f"{user.username} is {'enabled' if user.active else 'disabled'}.")
        else:
            raise InvalidRequest(f"unknown action {action!r}")
    except (ContentGuardError, ValidationError) as exc:
        status = _status(exc)
        return await _users_page(request, db, principal, status, flash=_error(exc), flash_kind="error")
    return _redirect(request, "users", message)


# --- audit log ------------------------------------------------------------------------------------
AUDIT_FIELDS = ("actor", "action", "target_type", "target_id", "since", "until")


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request, db: DbDep, principal: AdminPage, before_id: str = "") -> Response:
    params = {k: request.query_params.get(k, "").strip() for k in AUDIT_FIELDS}
    where = ops.AuditFilter(**{k: v or None for k, v in params.items()})
    query = urlencode({k: v for k, v in params.items() if v})
    context: dict[str, Any] = {}
    try:
        older = row_id_of(before_id, "before_id") if before_id.strip() else None
        page = await run_in_threadpool(ops.audit_page, db, where, 100, older)
    except ContentGuardError as exc:
        page = ops.AuditPage(entries=[], next_before_id=None)
        context.update(flash=exc.message, flash_kind="error")
    return _page(request, "admin_audit.html", principal, 422 if context else 200, page=page,
                 params=params, query=query, dumps=_compact, **context)


def _compact(value: object) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

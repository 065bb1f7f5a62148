"""The web UI's pages: server-rendered; their scripts call the same `/v1` API as any client.

Every page needs a signed-in person (else a redirect to `/login`); team pages also need a role
(else a 403 page). The API routes behind the pages check the same roles again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from contentguard import __version__
from contentguard.errors import Unauthorized
from contentguard.server.auth import Principal, identify
from contentguard.server.deps import SettingsDep
from contentguard.server.safe_request import SafeRoute

HERE = Path(__file__).parent.parent  # server/: templates/ and static/
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False, route_class=SafeRoute)


class LoginRequired(Exception):
    """A page was asked for without a session: answered with a redirect to /login."""


class PageForbidden(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


def root_of(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/") + "/"


def render(request: Request, template: str, principal: Principal | None,
           status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page with what every layout needs (version, root, the signed-in person)."""
    return templates.TemplateResponse(
        request, template,
        {"version": __version__, "root": root_of(request), "principal": principal, **context},
        status_code=status_code,
    )


def page_user(*roles: str):  # type: ignore[no-untyped-def]
    """Dependency for a page: the signed-in person holding one of `roles` (any role if none)."""

    async def dependency(request: Request) -> Principal:
        try:
            principal = await identify(request)
        except Unauthorized:
            principal = None
        if principal is None or principal.user_id is None:
            raise LoginRequired()
        if roles and not principal.roles & set(roles):
            raise PageForbidden(f"This page is for the role {' or '.join(roles)}; you are "
                                f"{', '.join(sorted(principal.roles))}.")
        return principal

    return dependency


def install(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{root_of(request)}login?next={quote(target)}", status_code=303)

    @app.exception_handler(PageForbidden)
    async def _forbidden(request: Request, exc: PageForbidden) -> Response:
        principal = getattr(request.state, "principal", None)
        return render(request, "forbidden.html", principal, status_code=403, message=exc.message)


@router.get("/", response_class=HTMLResponse)
async def index(request: Request, settings: SettingsDep) -> HTMLResponse:
    principal = await page_user()(request)
    return render(
        request,
        "index.html",
        principal,
        max_bytes=settings.max_bytes,
        max_batch=settings.max_batch_items,
        max_text_chars=settings.max_text_chars,
    )

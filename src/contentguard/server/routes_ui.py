"""The web UI: one server-rendered page; its script calls the same `/v1` API as any client."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from contentguard import __version__

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> HTMLResponse:
    settings = request.app.state.settings
    return templates.TemplateResponse(
        request,
        "index.html",
        {"version": __version__, "max_bytes": settings.max_bytes, "max_batch": settings.max_batch_items,
         "max_text_chars": settings.max_text_chars},
    )

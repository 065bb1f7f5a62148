"""The `/review` page: the moderators' queue, one item at a time; its script works the
`/v1/review` API (api/review.py) like any client."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from contentguard.server.api.review import lease_s_of
from contentguard.server.auth import Principal
from contentguard.server.deps import SettingsDep
from contentguard.server.pages.ui import page_user, render
from contentguard.server.safe_request import SafeRoute
from contentguard.store import review

router = APIRouter(route_class=SafeRoute)


@router.get("/review", response_class=HTMLResponse, include_in_schema=False)
async def review_page(request: Request, settings: SettingsDep,
                      principal: Annotated[Principal, Depends(page_user("moderator"))]) -> HTMLResponse:
    return render(request, "review.html", principal,
                  approve_reasons=review.APPROVE_REASONS, reject_reasons=review.REJECT_REASONS,
                  lease_s=lease_s_of(settings), is_admin=principal.has("admin"))

"""The `/appeals` page: the appeals for moderators (open ones by default), each linking to its
review item; the same views as `/v1/appeals` (api/appeals.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from contentguard.server.api.appeals import AppealView, view
from contentguard.server.auth import Principal
from contentguard.server.deps import DbDep
from contentguard.server.pages.ui import page_user, render
from contentguard.server.safe_request import SafeRoute
from contentguard.store import appeals, review

router = APIRouter(route_class=SafeRoute)


@router.get("/appeals", response_class=HTMLResponse, include_in_schema=False)
async def appeals_page(
    request: Request, db: DbDep, principal: Annotated[Principal, Depends(page_user("moderator"))],
    status: Annotated[Literal["open", "upheld", "overturned", "all"], Query()] = "open",
) -> HTMLResponse:
    """Server-rendered: the appeals (open ones by default), each linking to its review item."""

    def read() -> tuple[list[AppealView], dict[int, str]]:
        with db.session() as session:
            rows = appeals.list_appeals(session, None if status == "all" else status, 200)
            items = {a.review_item_id: review.get(session, a.review_item_id).status
                     for a in rows if a.review_item_id is not None}
            return [view(session, a) for a in rows], items

    rows, items = await run_in_threadpool(read)
    return render(request, "appeals.html", principal, appeals=rows, item_status=items,
                  status=status, statuses=("open", "upheld", "overturned", "all"))

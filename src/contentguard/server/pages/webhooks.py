"""The `/admin/webhooks` page: the webhook delivery log as a filtered table (the same listing
as `/v1/admin/webhooks`, api/webhooks.py); its retry buttons call that API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from contentguard.errors import InvalidRequest
from contentguard.server.api.webhooks import PAGE, listing
from contentguard.server.auth import Principal
from contentguard.server.deps import DbDep
from contentguard.server.pages.ui import page_user, render
from contentguard.server.params import row_id_of
from contentguard.server.safe_request import SafeRoute
from contentguard.store import webhooks as outbox

router = APIRouter(include_in_schema=False, route_class=SafeRoute)


def _choice(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


def _number(value: str | None) -> int | None:
    try:
        return row_id_of(value, "id") if value else None
    except InvalidRequest:
        return None


@router.get("/admin/webhooks", response_class=HTMLResponse)
async def webhooks_page(
    request: Request,
    db: DbDep,
    principal: Annotated[Principal, Depends(page_user("admin"))],
    status: str | None = None,
    key: str | None = None,
    event: str | None = None,
    before: str | None = None,
) -> HTMLResponse:
    """Filters are a plain GET form; a value that is not an option means "all"."""
    filters = {"status": _choice(status, outbox.STATUSES), "key": _number(key),
               "event": _choice(event, outbox.EVENTS)}
    found, keys = await run_in_threadpool(
        listing, db, filters["status"], filters["key"], filters["event"], _number(before), PAGE)
    return render(request, "webhooks.html", principal, found=found, keys=keys, filters=filters,
                  statuses=outbox.STATUSES, events=outbox.EVENTS)

"""The webhook delivery log for admins: `/v1/admin/webhooks` (list, one, retry), and `listing`,
which the `/admin/webhooks` page (pages/webhooks.py) renders too."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from contentguard.errors import NotFound
from contentguard.schemas import ErrorResult
from contentguard.server.api.moderate import _errors
from contentguard.server.auth import Principal, authorize
from contentguard.server.deps import DbDep, EngineDep
from contentguard.server.params import RowId
from contentguard.server.safe_request import SafeRoute
from contentguard.service import webhooks as delivery
from contentguard.store import webhooks as outbox
from contentguard.store.db import Database
from contentguard.store.tables import WebhookDelivery

router = APIRouter(prefix="/v1/admin/webhooks", tags=["admin"], responses=_errors(401, 403),
                   route_class=SafeRoute)
Admin = Annotated[Principal, Depends(authorize("admin"))]
Status = Literal["pending", "delivered", "failed"]
Event = Literal["moderation.completed", "review.decided", "appeal.resolved"]
PAGE = 50


class DeliveryOut(BaseModel):
    id: int
    api_key_id: int | None
    key: str | None = Field(description="The key's name and prefix (None once it is deleted).")
    event: str
    url: str
    status: str = Field(description="pending, delivered or failed.")
    attempts: int
    next_attempt_at: datetime | None = Field(description="When a pending delivery is tried next.")
    last_status: int | None = Field(description="The receiver's last HTTP status, if it answered.")
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any] | None = Field(None, description="The event (only for one delivery).")


class DeliveryList(BaseModel):
    deliveries: list[DeliveryOut]
    counts: dict[str, int] = Field(description="Deliveries per status, over all of them.")
    next_before: int | None = Field(description="Pass as `before` for the next (older) page.")


def _out(row: WebhookDelivery, keys: dict[int, str], payload: bool = False) -> DeliveryOut:
    return DeliveryOut(
        id=row.id, api_key_id=row.api_key_id,
        key=keys.get(row.api_key_id) if row.api_key_id is not None else None,
        event=row.event, url=row.url, status=row.status, attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        last_status=row.last_status, last_error=row.last_error, created_at=row.created_at,
        delivered_at=row.delivered_at, payload=row.payload if payload else None,
    )


def listing(db: Database, status: str | None, api_key_id: int | None, event: str | None,
            before: int | None, limit: int) -> tuple[DeliveryList, dict[int, str]]:
    with db.session() as session:
        rows = outbox.list_deliveries(session, status=status, api_key_id=api_key_id, event=event,
                                      before=before, limit=limit)
        keys = outbox.key_names(session)
        counts = outbox.status_counts(session)
    found = DeliveryList(
        deliveries=[_out(r, keys) for r in rows], counts=counts,
        next_before=rows[-1].id if len(rows) == limit else None,
    )
    return found, keys


@router.get("", summary="The webhook delivery log, newest first", response_model=DeliveryList)
async def list_webhooks(
    db: DbDep,
    admin: Admin,
    status: Status | None = None,
    api_key_id: Annotated[RowId | None, Query()] = None,
    event: Event | None = None,
    before: Annotated[RowId | None, Query(description="Only deliveries with a smaller id.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = PAGE,
) -> DeliveryList:
    """Filter by `status`, `api_key_id` and `event`; page back with `before`."""
    found, _ = await run_in_threadpool(listing, db, status, api_key_id, event, before, limit)
    return found


DeliveryId = Annotated[RowId, Path(description="The delivery's id")]


@router.get("/{delivery_id}", summary="One delivery, with its payload", response_model=DeliveryOut,
            responses=_errors(404))
async def get_webhook(db: DbDep, admin: Admin, delivery_id: DeliveryId) -> DeliveryOut:
    def read() -> DeliveryOut:
        with db.session() as session:
            row = session.get(WebhookDelivery, delivery_id)
            if row is None:
                raise NotFound(f"no webhook delivery {delivery_id}")
            return _out(row, outbox.key_names(session), payload=True)

    return await run_in_threadpool(read)


_CONFLICT = {409: {"model": ErrorResult, "description":
                   "Already pending, or its key is revoked or has no callback URL (`conflict`)"}}


@router.post("/{delivery_id}/retry", summary="Send a failed or delivered event again, now",
             response_model=DeliveryOut, responses=_errors(404) | _CONFLICT)
async def retry_webhook(engine: EngineDep, admin: Admin, delivery_id: DeliveryId) -> DeliveryOut:
    """To the key's current callback URL, with the full number of attempts. Audited."""

    def retry() -> DeliveryOut:
        with engine.db.session() as session:
            row = outbox.retry(session, delivery_id, admin.name)
            return _out(row, outbox.key_names(session))

    found = await run_in_threadpool(retry)
    engine.wakes.wake(delivery.WAKE)
    return found


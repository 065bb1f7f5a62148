"""`/v1/review/…`: the moderators' queue (claim, decide, release) and the stored media of an
item, served so a browser can never run it (sandbox CSP, nosniff). The `/review` page that
works it is pages/review.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from contentguard.clean_str import CleanStr
from contentguard.errors import NotFound
from contentguard.schemas import ModerationResult
from contentguard.server.auth import Principal, authorize
from contentguard.server.deps import DbDep, SettingsDep
from contentguard.server.errors import responses_for
from contentguard.server.pages.ui import root_of
from contentguard.server.params import Offset, RowId
from contentguard.server.safe_request import SafeRoute
from contentguard.settings import Settings
from contentguard.store import decisions, review
from contentguard.store.db import Database
from contentguard.store.tables import ReviewItem, StoredDecision, StoredMedia, utcnow

router = APIRouter(tags=["review"], route_class=SafeRoute)
Moderator = Annotated[Principal, Depends(authorize("moderator"))]
ItemId = Annotated[RowId, Path(description="The review item's id")]

# Types a browser may display; anything else is served as bytes to download, never rendered.
DISPLAYABLE = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/x-icon",
               "image/vnd.microsoft.icon", "image/apng", "image/avif"}
SERVED_AS = {"image/mpo": "image/jpeg"}
MEDIA_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
    "Content-Disposition": "inline",
    "Cross-Origin-Resource-Policy": "same-origin",
}


_DESCRIBED = {
    401: "No valid API key or session (`unauthorized`)",
    403: "Missing role, scope or CSRF token; or an escalated item for a non-admin (`forbidden`)",
    404: "No such item, appeal or result, or its media is no longer kept (`not_found`)",
    409: "Claimed by someone else, your lease expired, decided or appealed already (`conflict`)",
    422: "An invalid field: verdict, reason category, note, message (`invalid_request`)",
}
errors = responses_for(_DESCRIBED)


# --- the JSON shapes ----------------------------------------------------------------------------
class QueueDepth(BaseModel):
    open: int = Field(description="Items waiting to be claimed (expired leases included).")
    escalated: int = Field(description="Of those, escalated ones (claimed by admins only).")
    claimed: int = Field(description="Items under a live lease.")


class AppealBrief(BaseModel):
    id: int
    status: Literal["open", "upheld", "overturned"]
    message: str
    created_at: datetime
    resolved_at: datetime | None = None


class ReviewActionView(BaseModel):
    action: str = Field(description="claim, release, approve, reject or escalate")
    user: str | None
    reason_category: str | None = None
    note: str | None = None
    at: datetime


class ReviewItemSummary(BaseModel):
    id: int
    result_id: str
    content_id: str
    kind: str
    source: str | None
    origin: str = Field(description="Why it is queued: review, sample or appeal.")
    priority: int
    status: str = Field(description="open, claimed or decided.")
    escalated: bool
    claimed_by: str | None = None
    lease_expires_at: datetime | None = None
    created_at: datetime
    machine_decision: str
    decision: str = Field(description="In force now: the human verdict's, else the machine's.")
    verdict: str | None = None
    reason_category: str | None = None
    note: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    thumbnail_url: str | None = None
    appeal: AppealBrief | None = None


class ReviewItemView(ReviewItemSummary):
    """An item with everything a moderator needs to decide it."""

    result: ModerationResult
    media_type: str | None = None
    media_url: str | None = Field(None, description="The stored bytes (or text), while kept.")
    text: str | None = Field(None, description="The text of a text item, while kept.")
    actions: list[ReviewActionView] = Field(default_factory=list)


class QueueResponse(BaseModel):
    depth: QueueDepth
    items: list[ReviewItemSummary]


def _whole(value: object) -> object:
    """JSON has one kind of number: 3.0 is the integer 3 (but `true` or "3" is no integer)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeItemId = Annotated[int, Field(strict=True, ge=1, le=2**31 - 1), BeforeValidator(_whole)]


class ClaimRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exclude: list[WholeItemId] = Field(
        default_factory=list, max_length=1000,
        description="Item ids not to get (the ones this tab skipped).")


class ClaimResponse(BaseModel):
    item: ReviewItemView | None = Field(description="The claimed item; null: nothing waiting.")
    depth: QueueDepth
    lease_s: float


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verdict: Literal["approve", "reject", "escalate"]
    reason_category: CleanStr | None = Field(
        None, max_length=64,
        description="approve: " + ", ".join(review.APPROVE_REASONS) + "; reject: "
        + ", ".join(review.REJECT_REASONS) + " (required for both; optional to escalate)")
    note: CleanStr | None = Field(None, max_length=review.MAX_NOTE,
                             description="Free text; shown to the client with the verdict.")


# --- building them -------------------------------------------------------------------------------
def _summary(session: Any, item: ReviewItem, root: str, names: dict[int, str],
             cls: type[ReviewItemSummary] = ReviewItemSummary, **extra: Any) -> Any:
    row = session.get(StoredDecision, item.decision_id)
    media = session.get(StoredMedia, item.decision_id)
    appeal = review.appeal_for(session, item.id)
    base = f"{root}v1/review/items/{item.id}"
    live = item.status == "claimed" and item.lease_expires_at is not None \
        and item.lease_expires_at >= utcnow()
    status = "open" if item.status == "claimed" and not live else item.status  # lease ran out
    return cls(
        id=item.id, result_id=row.id, content_id=row.content_id, kind=row.kind, source=row.source,
        origin=item.origin, priority=item.priority, status=status, escalated=item.escalated,
        claimed_by=names.get(item.claimed_by) if live and item.claimed_by else None,
        lease_expires_at=item.lease_expires_at if live else None,
        created_at=item.created_at, machine_decision=row.decision,
        decision=row.human_decision or row.decision, verdict=item.verdict,
        reason_category=item.reason_category, note=item.note,
        decided_by=names.get(item.decided_by) if item.decided_by else None,
        decided_at=item.decided_at,
        thumbnail_url=f"{base}/thumbnail" if media is not None and media.thumbnail else None,
        appeal=AppealBrief.model_validate(appeal, from_attributes=True) if appeal else None,
        **extra,
    )


def summaries(session: Any, items: list[ReviewItem], root: str) -> list[ReviewItemSummary]:
    names = review.usernames(session, [i.claimed_by for i in items] + [i.decided_by for i in items])
    return [_summary(session, item, root, names) for item in items]


def details(session: Any, item: ReviewItem, root: str) -> ReviewItemView:
    steps = review.actions(session, item.id)
    names = review.usernames(session, [item.claimed_by, item.decided_by]
                             + [a.user_id for a in steps])
    row = session.get(StoredDecision, item.decision_id)
    media = session.get(StoredMedia, item.decision_id)
    kept = media is not None and (media.data is not None or media.text is not None)
    return _summary(
        session, item, root, names, ReviewItemView,
        result=decisions.as_result(session, row),
        media_type=media.media_type if media is not None else None,
        media_url=f"{root}v1/review/items/{item.id}/media" if kept else None,
        text=media.text if media is not None else None,
        actions=[ReviewActionView(action=a.action, user=names.get(a.user_id) if a.user_id else None,
                                  reason_category=a.reason_category, note=a.note, at=a.created_at)
                 for a in steps],
    )


def reviewer_of(principal: Principal) -> review.Reviewer:
    assert principal.user_id is not None  # the moderator role comes from a web session
    return review.Reviewer(principal.user_id, principal.name, principal.has("admin"))


def lease_s_of(settings: Settings) -> float:
    """How long a claim lasts (`review_lease_s`), for the API's answers and the page."""
    return float(settings.review_lease_s)


# --- the API ---------------------------------------------------------------------------------------
@router.get("/v1/review/queue", summary="The queue's depth and its items", response_model=QueueResponse,
            responses=errors(401, 403, 422))
async def queue(
    request: Request, db: DbDep, principal: Moderator,
    status: Annotated[Literal["open", "claimed", "decided", "all"], Query()] = "open",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[Offset, Query()] = 0,
) -> QueueResponse:
    """`open` items in the order they are claimed (priority, then age), `claimed` ones (live
    leases), `decided` ones newest first, or `all`."""
    root = root_of(request)

    def read() -> QueueResponse:
        with db.session() as session:
            items = review.list_items(session, status, limit, offset)
            return QueueResponse(depth=QueueDepth(**review.depth(session)),
                                 items=summaries(session, items, root))

    return await run_in_threadpool(read)


@router.post("/v1/review/claim", summary="Claim the next item (highest priority, oldest first)",
             response_model=ClaimResponse, responses=errors(401, 403, 422))
async def claim_next(request: Request, db: DbDep, settings: SettingsDep, principal: Moderator,
                     body: ClaimRequest | None = None) -> ClaimResponse:
    """A lease of `review_lease_s` on the next item; `item: null` when nothing is waiting. A
    moderator holds one item at a time: claiming again returns it with its lease renewed.
    Escalated items go to admins only."""
    root, lease_s, who = root_of(request), lease_s_of(settings), reviewer_of(principal)
    exclude = body.exclude if body is not None else []

    def run() -> ClaimResponse:
        with db.session() as session:
            item = review.claim_next(session, who, lease_s, exclude)
            view = details(session, item, root) if item is not None else None
            return ClaimResponse(item=view, depth=QueueDepth(**review.depth(session)),
                                 lease_s=lease_s)

    return await run_in_threadpool(run)


@router.get("/v1/review/items/{item_id}", summary="One review item with its result",
            response_model=ReviewItemView, responses=errors(401, 403, 404))
async def get_item(request: Request, db: DbDep, item_id: ItemId,
                   principal: Moderator) -> ReviewItemView:
    root = root_of(request)

    def read() -> ReviewItemView:
        with db.session() as session:
            return details(session, review.get(session, item_id), root)

    return await run_in_threadpool(read)


@router.post("/v1/review/items/{item_id}/claim", summary="Claim this item",
             response_model=ReviewItemView, responses=errors(401, 403, 404, 409))
async def claim_item(request: Request, db: DbDep, settings: SettingsDep, item_id: ItemId,
                     principal: Moderator) -> ReviewItemView:
    """Claim a given item (an appeal picked from the list, say); 409 when someone else holds it
    or it is decided; 403 for an escalated item unless you are an admin."""
    root, lease_s, who = root_of(request), lease_s_of(settings), reviewer_of(principal)

    def run() -> ReviewItemView:
        with db.session() as session:
            return details(session, review.claim(session, item_id, who, lease_s), root)

    return await run_in_threadpool(run)


@router.post("/v1/review/items/{item_id}/decision", summary="Approve, reject or escalate",
             response_model=ReviewItemView, responses=errors(401, 403, 404, 409, 422))
async def decide(request: Request, db: DbDep, item_id: ItemId, body: DecisionRequest,
                 principal: Moderator) -> ReviewItemView:
    """Only the moderator holding a live lease may decide (409 otherwise). approve → the
    result's decision becomes `allow`, reject → `block` (the machine's stays as
    `machine_decision`); an appeal on the item is resolved (`upheld` when the decision in force
    stands, `overturned` when it changes) and webhooks are queued. escalate → the item goes back
    to the queue at escalation priority, for an admin."""
    root, who = root_of(request), reviewer_of(principal)

    def run() -> ReviewItemView:
        with db.session() as session:
            item = review.decide(session, item_id, who, body.verdict, body.reason_category,
                                 body.note)
            return details(session, item, root)

    return await run_in_threadpool(run)


@router.post("/v1/review/items/{item_id}/release", summary="Give a claimed item back (skip)",
             response_model=ReviewItemView, responses=errors(401, 403, 404, 409))
async def release(request: Request, db: DbDep, item_id: ItemId,
                  principal: Moderator) -> ReviewItemView:
    root, who = root_of(request), reviewer_of(principal)

    def run() -> ReviewItemView:
        with db.session() as session:
            return details(session, review.release(session, item_id, who), root)

    return await run_in_threadpool(run)


def _media(db: Database, item_id: int) -> StoredMedia:
    with db.session() as session:
        item = review.get(session, item_id)
        media = session.get(StoredMedia, item.decision_id)
        if media is None:
            raise NotFound(f"review item {item_id} has no stored media (purged after "
                           "`media_retention_days`, or never kept)")
        session.expunge(media)
        return media


_MEDIA = {200: {"description": "The bytes, with the stored type if a browser may display it",
                "content": {"image/*": {"schema": {"type": "string", "format": "binary"}},
                            "text/plain": {"schema": {"type": "string"}},
                            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}
_THUMBNAIL = {200: {"description": "A JPEG preview",
                    "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}}


@router.get("/v1/review/items/{item_id}/media", summary="The stored bytes (or text) of an item",
            response_class=Response, responses=_MEDIA | errors(401, 403, 404))
async def media(db: DbDep, item_id: ItemId, principal: Moderator) -> Response:
    """Served with `Content-Security-Policy: sandbox` and `nosniff`; types a browser should not
    render come as `application/octet-stream`."""
    stored = await run_in_threadpool(_media, db, item_id)
    if stored.data is not None:
        kind = stored.media_type.split(";")[0].strip().lower()
        kind = SERVED_AS.get(kind, kind if kind in DISPLAYABLE else "application/octet-stream")
        return Response(stored.data, media_type=kind, headers=MEDIA_HEADERS)
    if stored.text is not None:
        return Response(stored.text.encode("utf-8"), media_type="text/plain; charset=utf-8",
                        headers=MEDIA_HEADERS)
    raise NotFound(f"review item {item_id}'s media is no longer kept")


@router.get("/v1/review/items/{item_id}/thumbnail", summary="A small JPEG preview of an image item",
            response_class=Response, responses=_THUMBNAIL | errors(401, 403, 404))
async def thumbnail(db: DbDep, item_id: ItemId, principal: Moderator) -> Response:
    stored = await run_in_threadpool(_media, db, item_id)
    if not stored.thumbnail:
        raise NotFound(f"review item {item_id} has no preview")
    return Response(stored.thumbnail, media_type="image/jpeg", headers=MEDIA_HEADERS)


"""`/v1/appeals`: a client platform appeals a decided result (its end user contests it); the
item goes back to the review queue at appeal priority; a moderator's verdict resolves it
(`upheld` or `overturned`) and the outcome is delivered by webhook. The moderators' `/appeals`
page is pages/appeals.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from contentguard.clean_str import CleanStr
from contentguard.server.api.review import errors
from contentguard.server.auth import Principal, authorize
from contentguard.server.deps import DbDep
from contentguard.server.params import Offset, RowId
from contentguard.server.safe_request import SafeRoute
from contentguard.store import appeals
from contentguard.store.tables import Appeal

router = APIRouter(tags=["appeals"], route_class=SafeRoute)
Client = Annotated[Principal, Depends(authorize("client", scope="appeal"))]
Reader = Annotated[Principal, Depends(authorize("client", "moderator", scope="appeal"))]
Moderator = Annotated[Principal, Depends(authorize("moderator"))]
Status = Literal["open", "upheld", "overturned"]


class AppealRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    result_id: str = Field(pattern="^[0-9a-f]{32}$", description="The result appealed (32 hex).")
    message: CleanStr = Field(min_length=1, max_length=appeals.MAX_MESSAGE,
                         description="What the end user says; shown to the moderator.")


class AppealView(BaseModel):
    id: int
    result_id: str
    status: Status = Field(description="open; upheld: the decision appealed against stands; "
                                       "overturned: the moderator changed it.")
    message: str
    created_at: datetime
    resolved_at: datetime | None = None
    outcome_note: str | None = Field(None, description="The moderator's note with the verdict.")
    decision: str = Field(description="The result's decision in force now.")
    machine_decision: str
    review_item_id: int | None = None


class AppealList(BaseModel):
    appeals: list[AppealView]


def view(session: Any, appeal: Appeal) -> AppealView:
    row = appeals.decision_of(session, appeal)
    return AppealView(
        id=appeal.id, result_id=row.id, status=appeal.status, message=appeal.message,  # type: ignore[arg-type]
        created_at=appeal.created_at, resolved_at=appeal.resolved_at,
        outcome_note=appeal.outcome_note, decision=row.human_decision or row.decision,
        machine_decision=row.decision, review_item_id=appeal.review_item_id,
    )


@router.post("/v1/appeals", summary="Appeal a decided result", status_code=201,
             response_model=AppealView, responses=errors(401, 403, 404, 409, 422))
async def create_appeal(db: DbDep, body: AppealRequest, client: Client) -> JSONResponse:
    """For API keys with the scope `appeal`, on results they asked for (404 otherwise). The
    result goes back to the review queue ahead of ordinary items. 409 when the result is
    appealed already (one appeal per result) or still waits for a moderator."""

    def run() -> AppealView:
        with db.session() as session:
            appeal = appeals.create(session, body.result_id, client.api_key_id, body.message,
                                    client.name)
            return view(session, appeal)

    made = await run_in_threadpool(run)
    return JSONResponse(made.model_dump(mode="json"), status_code=201)


@router.get("/v1/appeals/{appeal_id}", summary="One appeal and its outcome",
            response_model=AppealView, responses=errors(401, 403, 404))
async def get_appeal(db: DbDep,
                     appeal_id: Annotated[RowId, Path(description="The appeal's id")],
                     principal: Reader) -> AppealView:
    """API keys read their own appeals only; moderators read any."""
    own = principal.api_key_id if principal.user_id is None else None

    def read() -> AppealView:
        with db.session() as session:
            return view(session, appeals.get(session, appeal_id, api_key_id=own))

    return await run_in_threadpool(read)


@router.get("/v1/appeals", summary="Appeals, for moderators", response_model=AppealList,
            responses=errors(401, 403, 422))
async def list_appeals(
    db: DbDep, principal: Moderator,
    status: Annotated[Status | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[Offset, Query()] = 0,
) -> AppealList:
    """Open appeals oldest first (the order they are worked); otherwise newest first."""

    def read() -> AppealList:
        with db.session() as session:
            rows = appeals.list_appeals(session, status, limit, offset)
            return AppealList(appeals=[view(session, a) for a in rows])

    return await run_in_threadpool(read)


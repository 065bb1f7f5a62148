"""`/v1/admin`: users, API keys, policy versions, the audit log and the dashboard's figures.

Every route needs the role `admin` (API keys never hold it). The operations and their shapes
are service/admin.py's, which the admin's HTML pages (pages/admin.py) and the `keys` commands
call too; this module is their HTTP half: the routes, their documented errors and the CSV
download.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from contentguard.server.auth import Principal, authorize
from contentguard.server.deps import DbDep, EngineDep, KeyCacheDep, SettingsDep
from contentguard.server.errors import responses_for
from contentguard.server.params import RowId
from contentguard.server.safe_request import SafeRoute
from contentguard.service import admin as ops
from contentguard.service.admin import (
    ActivateIn,
    AuditFilter,
    AuditPage,
    KeyChange,
    KeyIn,
    KeyOut,
    NewKeyOut,
    PasswordIn,
    PolicyChange,
    PolicyOut,
    UserChange,
    UserIn,
    UserOut,
)
from contentguard.store.db import Database

_DESCRIBED = {
    401: "No valid session (`unauthorized`)",
    403: "Not an admin, an API key, or a missing CSRF token (`forbidden`)",
    404: "No such user, key or policy version (`not_found`)",
    409: "Refused by the current state: a name taken, the last admin (`conflict`)",
    422: "An invalid field, with what is wrong (`invalid_request`)",
}


_errors = responses_for(_DESCRIBED)


router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=_errors(401, 403),
                   route_class=SafeRoute)
Admin = Annotated[Principal, Depends(authorize("admin"))]
AUDIT_PAGE_MAX = 500


# --- the audit log as a download ----------------------------------------------------------------
def audit_csv_response(db: Database, where: AuditFilter) -> StreamingResponse:
    where.query()  # a bad date is a 422 now, not a broken download
    name = f"audit-{datetime.now(UTC):%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(ops.audit_csv(db, where), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"',
                                      "Cache-Control": "no-store"})


# --- routes ---------------------------------------------------------------------------------------
@router.get("/users", summary="List the people who can sign in", response_model=list[UserOut])
async def get_users(db: DbDep, admin: Admin) -> list[UserOut]:
    return await run_in_threadpool(ops.list_users, db)


@router.post("/users", summary="Create a moderator or admin", status_code=201,
             response_model=UserOut, responses=_errors(409, 422))
async def post_user(db: DbDep, body: UserIn, admin: Admin) -> UserOut:
    return await run_in_threadpool(ops.create_user, db, admin, body)


@router.patch("/users/{user_id}", summary="Change a user's role, or disable / enable them",
              response_model=UserOut, responses=_errors(404, 409, 422))
async def patch_user(db: DbDep, user_id: RowId, body: UserChange, admin: Admin) -> UserOut:
    """Disabling signs the user out everywhere. The last active admin cannot be disabled or
    demoted, nor can an admin disable or demote themselves."""
    return await run_in_threadpool(ops.change_user, db, admin, user_id, body)


@router.post("/users/{user_id}/password", summary="Reset a user's password",
             response_model=UserOut, responses=_errors(404, 422))
async def post_password(db: DbDep, user_id: RowId, body: PasswordIn, admin: Admin) -> UserOut:
    """The user is signed out everywhere and signs in with the new password."""
    return await run_in_threadpool(ops.reset_password, db, admin, user_id, body)


@router.get("/keys", summary="List API keys (never the keys themselves)", response_model=list[KeyOut])
async def get_keys(db: DbDep, admin: Admin, include_revoked: bool = True) -> list[KeyOut]:
    return await run_in_threadpool(ops.list_keys, db, include_revoked)


@router.post("/keys", summary="Create an API key (the key is in this answer only)",
             status_code=201, response_model=NewKeyOut, responses=_errors(422))
async def post_key(db: DbDep, settings: SettingsDep, body: KeyIn, admin: Admin) -> NewKeyOut:
    """Only the key's sha256 is stored: copy `key` and `webhook_secret` from this answer."""
    return await run_in_threadpool(ops.create_key, db, settings, admin, body)


@router.patch("/keys/{key_id}", summary="Change a key's rate limit or callback URL",
              response_model=KeyOut, responses=_errors(404, 422))
async def patch_key(db: DbDep, settings: SettingsDep, key_cache: KeyCacheDep, key_id: RowId,
                    body: KeyChange, admin: Admin) -> KeyOut:
    out = await run_in_threadpool(ops.change_key, db, settings, admin, key_id, body)
    key_cache.clear()  # the new rate limit applies at once
    return out


@router.post("/keys/{key_id}/revoke", summary="Revoke an API key (it stops working at once)",
             response_model=KeyOut, responses=_errors(404))
async def post_revoke(db: DbDep, key_cache: KeyCacheDep, key_id: RowId, admin: Admin) -> KeyOut:
    out = await run_in_threadpool(ops.revoke_key, db, admin, key_id)
    key_cache.clear()
    return out


@router.get("/policy", summary="The active policy and every version", response_model=PolicyOut)
async def get_policy(engine: EngineDep, admin: Admin) -> PolicyOut:
    return await run_in_threadpool(ops.policy_state, engine)


@router.post("/policy", summary="Change thresholds: a new policy version, active at once",
             status_code=201, response_model=PolicyOut, responses=_errors(409, 422))
async def post_policy(engine: EngineDep, body: PolicyChange, admin: Admin) -> PolicyOut:
    """Thresholds are 0–1 and review ≤ block. The new version is named after the active one
    (`default@2+1`, `+2` …); results from now on carry it in `policy_version`."""
    return await run_in_threadpool(ops.change_policy, engine, admin, body)


@router.post("/policy/activate", summary="Make an earlier policy version the active one",
             response_model=PolicyOut, responses=_errors(404, 422))
async def post_activate(engine: EngineDep, body: ActivateIn, admin: Admin) -> PolicyOut:
    return await run_in_threadpool(ops.activate_policy, engine, admin, body)


def _filters(
    actor: str | None = None,
    action: Annotated[str | None, Query(description="A prefix: `key.` matches key.create …")] = None,
    target_type: str | None = None,
    target_id: str | None = None,
    since: Annotated[str | None, Query(description="YYYY-MM-DD or ISO date-time (UTC)")] = None,
    until: Annotated[str | None, Query(description="Exclusive; a bare date includes that day")] = None,
) -> AuditFilter:
    return AuditFilter(actor=actor, action=action, target_type=target_type, target_id=target_id,
                       since=since, until=until)


Filters = Annotated[AuditFilter, Depends(_filters)]


_CSV = {"text/csv": {"schema": {"type": "string"}}}


@router.get("/audit", summary="The audit log, newest first, filtered",
            response_model=AuditPage, responses={200: {"content": _CSV}, **_errors(422)})
async def get_audit(
    db: DbDep, admin: Admin, where: Filters,
    limit: Annotated[int, Query(ge=1, le=AUDIT_PAGE_MAX)] = 100,
    before_id: Annotated[RowId | None, Query(description="Entries older than this id")] = None,
    format: Annotated[Literal["json", "csv"],
                      Query(description="csv: the whole match as a download")] = "json",
) -> Any:
    if format == "csv":
        return audit_csv_response(db, where)
    return await run_in_threadpool(ops.audit_page, db, where, limit, before_id)


@router.get("/audit.csv", summary="The filtered audit log as CSV (streamed)", response_class=Response,
            responses={200: {"content": _CSV, "description": "The CSV download"}, **_errors(422)})
async def get_audit_csv(db: DbDep, admin: Admin, where: Filters) -> StreamingResponse:
    """Cells starting with = + - @ get a leading `'` so spreadsheets show them as text."""
    return audit_csv_response(db, where)


@router.get("/stats", summary="The dashboard's figures: decisions, queue, reviewers, latency",
            responses=_errors(422))
async def get_stats(
    engine: EngineDep, admin: Admin,
    range: Annotated[Literal["24h", "7d", "30d"], Query(description="Hourly for 24h, else daily")] = "24h",
) -> dict[str, Any]:
    figures = await run_in_threadpool(ops.dashboard, engine, range)
    return figures.as_dict()

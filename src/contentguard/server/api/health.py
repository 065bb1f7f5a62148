"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from contentguard.schemas import ErrorResult
from contentguard.server.deps import EngineDep
from contentguard.server.safe_request import SafeRoute

router = APIRouter(tags=["operations"], route_class=SafeRoute)


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Models loaded and warmed up (503 until then)",
            responses={503: {"model": ErrorResult, "description": "Loading, or the models failed to "
                             "load (`not_ready`, with `status` and `models`)"}})
async def readyz(engine: EngineDep) -> JSONResponse:
    status = engine.status()
    if engine.ready:
        return JSONResponse(status)
    message = status.pop("error") or "the models are still loading"
    body = {**status, "source": None, "error": {"code": "not_ready", "message": message}}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"description": "The Prometheus text format",
                             "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}})
async def prometheus() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

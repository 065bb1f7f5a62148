"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Models loaded and warmed up (503 until then)")
async def readyz(request: Request) -> JSONResponse:
    engine = request.app.state.engine
    status = engine.status()
    if engine.ready:
        return JSONResponse(status)
    message = status.pop("error") or "the models are still loading"
    body = {**status, "source": None, "error": {"code": "not_ready", "message": message}}
    return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

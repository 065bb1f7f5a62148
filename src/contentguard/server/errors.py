"""One JSON error shape for every failed request: the result contract's `ErrorResult`."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from contentguard.errors import ContentGuardError, Overloaded, RateLimited, Unauthorized
from contentguard.schemas import ErrorDetail, ErrorResult, Outcome

log = logging.getLogger("contentguard.server")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media",
    422: "invalid_request",
    429: "overloaded",
    503: "not_ready",
}
_STATUS_OF_CODE = {
    "unsupported_media": 415,
    "too_large": 413,
    "decode_failed": 422,
    "fetch_failed": 502,
    "blocked_url": 400,
    "timeout": 504,
    "not_found": 404,
    "invalid_policy": 422,
    "model_unavailable": 503,
    "model_integrity": 503,
    "internal_error": 500,
    "bad_request": 400,
    "invalid_request": 422,
    "overloaded": 429,
    "not_ready": 503,
    "method_not_allowed": 405,
    "unauthorized": 401,
    "forbidden": 403,
    "conflict": 409,
    "rate_limited": 429,
}


def documented(described: Mapping[int, str], *statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for `statuses`: the one error object, with each router's own words
    for what the status means there (`described`)."""
    return {s: {"model": ErrorResult, "description": described[s]} for s in statuses}


def responses_for(described: Mapping[int, str]) -> partial[dict[int | str, dict[str, Any]]]:
    """`responses_for(DESCRIBED)(404, 409)`: `documented` bound to a router's descriptions."""
    return partial(documented, described)


def status_of(outcome: Outcome) -> int:
    """HTTP status of a single-item answer: 200 for a result, the error's status otherwise."""
    if isinstance(outcome, ErrorResult):
        return _STATUS_OF_CODE.get(outcome.error.code, 500)
    return 200


def error_response(
    code: str, message: str, status: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ErrorResult(source=None, error=ErrorDetail(code=code, message=message))  # type: ignore[arg-type]
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install(app: FastAPI) -> None:
    """Register the handlers that turn every exception into the one error shape."""

    @app.exception_handler(ContentGuardError)
    async def _ours(request: Request, exc: ContentGuardError) -> JSONResponse:
        headers = {"Retry-After": "1"} if isinstance(exc, Overloaded) else None
        if exc.code == "not_ready":
            headers = {"Retry-After": "5"}
        if isinstance(exc, RateLimited):
            headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
        if isinstance(exc, Unauthorized):
            headers = {"WWW-Authenticate": 'Bearer realm="contentguard"'}
        return error_response(exc.code, exc.message, exc.http_status, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response("invalid_request", _validation_message(exc), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "bad_request" if exc.status_code < 500 else "internal_error")
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such route: {request.method} {request.url.path}"
        if exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return error_response(code, message, exc.status_code, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return unexpected_error_response(exc)


def unexpected_error_response(exc: Exception) -> JSONResponse:
    """The 500 of a bug: its class only (details are in the server log)."""
    return error_response("internal_error", f"unexpected {exc.__class__.__name__}; see the server log", 500)

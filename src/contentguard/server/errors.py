"""One JSON error shape for every failed request: the result contract's `ErrorResult`."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from functools import partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from contentguard.errors import (
    CODES,
    ContentGuardError,
    Overloaded,
    RateLimited,
    Unauthorized,
    contract_code,
)
from contentguard.schemas import ErrorDetail, ErrorResult, Outcome

log = logging.getLogger("contentguard.server")

# The code a bare HTTP error gets (Starlette's 404 and 405, an `HTTPException`): the table's
# `bare` code of that status; any other status is `bad_request` below 500, `internal_error` above.
_HTTP_CODES = {row.status: code for code, row in CODES.items() if row.bare}


def documented(described: Mapping[int, str], *statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for `statuses`: the one error object, with each router's own words
    for what the status means there (`described`)."""
    return {s: {"model": ErrorResult, "description": described[s]} for s in statuses}


def responses_for(described: Mapping[int, str]) -> partial[dict[int | str, dict[str, Any]]]:
    """`responses_for(DESCRIBED)(404, 409)`: `documented` bound to a router's descriptions."""
    return partial(documented, described)


# What every operation of a kind can answer, whatever its route says (`complete_responses`).
SECURED_RESPONSES = {
    401: "No valid API key or session (`unauthorized`)",
    403: "Missing role, scope or CSRF token (`forbidden`)",
    429: "Too many requests (`rate_limited`: the API key's requests a minute); retry after `Retry-After`",
}
BODY_RESPONSES = {
    400: "The body cannot be read: not JSON, not UTF-8, a malformed multipart form (`bad_request`)",
    413: "The body is over its size limit (`too_large`)",
    422: "An invalid field, with what is wrong (`invalid_request`)",
}
PARAMETER_RESPONSES = {422: "An invalid path or query parameter (`invalid_request`)"}
_ERROR_REF = "#/components/schemas/ErrorResult"
_FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def complete_responses(schema: dict[str, Any]) -> None:
    """Make the OpenAPI `schema` list what the server answers on every operation, derived in
    one place instead of on each route: 401/403/429 where credentials are checked (`security`),
    400/413/422 where a body is read, 422 where parameters are; and every 422 in the one error
    shape (FastAPI's own `HTTPValidationError` is never sent: our handler answers `ErrorResult`)."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            added: dict[int, str] = {}
            if operation.get("security"):
                added |= SECURED_RESPONSES
            if operation.get("requestBody"):
                added |= BODY_RESPONSES
            elif operation.get("parameters"):
                added |= PARAMETER_RESPONSES
            for status, description in added.items():
                responses.setdefault(str(status), {"description": description, "content": _error_content()})
            unprocessable = responses.get("422", {})
            if unprocessable.get("content", {}).get("application/json", {}).get("schema", {}) \
                    .get("$ref") == _FASTAPI_422:
                unprocessable["content"] = _error_content()
                if unprocessable.get("description") == "Validation Error":
                    unprocessable["description"] = PARAMETER_RESPONSES[422]
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        if f'"#/components/schemas/{unused}"' not in json.dumps(schema.get("paths", {})):
            components.pop(unused, None)


def _error_content() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _ERROR_REF}}}


def status_of(outcome: Outcome) -> int:
    """HTTP status of a single-item answer: 200 for a result, the error's status otherwise."""
    if isinstance(outcome, ErrorResult):
        return CODES[outcome.error.code].status
    return 200


def sendable(message: str) -> str:
    """`message` as valid UTF-8 text: messages may quote what a client sent, and a lone
    surrogate in it would make the answer itself fail (it is shown as `\\ud800`)."""
    return message.encode("utf-8", "backslashreplace").decode("utf-8")


def error_response(
    code: str, message: str, status: int, headers: dict[str, str] | None = None
) -> JSONResponse:
    detail = ErrorDetail(code=code, message=sendable(message))  # type: ignore[arg-type]
    body = ErrorResult(source=None, error=detail)
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on this request's path. Starlette's router answers a 405
    from the first route whose path matches, with only that route's methods in `Allow`; a path
    served by two routes (GET and POST /v1/admin/users) needs both."""
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(not isinstance(route, Mount) and route.matches(scope)[0] == Match.FULL
               for route in request.app.router.routes):
            allowed.append(method)
    return allowed


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
        code = contract_code(exc.code)
        return error_response(code, exc.message, CODES[code].status, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response("invalid_request", _validation_message(exc), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "bad_request" if exc.status_code < 500 else "internal_error")
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such route: {request.method} {request.url.path}"
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
            allowed = allowed_methods(request)
            if allowed:
                headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        return error_response(code, message, exc.status_code, headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return unexpected_error_response(exc)


def unexpected_error_response(exc: Exception) -> JSONResponse:
    """The 500 of a bug: its class only (details are in the server log)."""
    return error_response("internal_error", f"unexpected {exc.__class__.__name__}; see the server log", 500)

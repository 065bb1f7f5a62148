"""`/v1`: moderate an image, a batch or texts, and read a stored result back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from contentguard.clean_str import CleanStr
from contentguard.errors import BadRequest, NotFound
from contentguard.schemas import ErrorResult, ModerationResult, Outcome
from contentguard.server import inputs
from contentguard.server import jobs as async_jobs
from contentguard.server.auth import Principal, authorize
from contentguard.server.deps import EngineDep
from contentguard.server.errors import documented, responses_for, status_of
from contentguard.server.safe_request import SafeRoute
from contentguard.store import decisions

router = APIRouter(prefix="/v1", tags=["moderation"], route_class=SafeRoute)
MAX_TEXTS = 256

# Client platforms (API keys with the scope) and signed-in people (the web page's try-it box).
Moderating = Annotated[Principal, Depends(authorize("client", "moderator", scope="moderate"))]
Reading = Annotated[Principal, Depends(authorize("client", "moderator", scope="results"))]


AsyncFlag = Annotated[bool, Query(
    alias="async",
    description="Answer 202 at once with the future `result_id`; the result is delivered to the "
                "API key's callback URL (`moderation.completed`) and readable at `status_url`.",
)]
_ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"model": async_jobs.Accepted, "description": "`?async=true`: accepted; poll `status_url`"}
}


class BatchResponse(BaseModel):
    results: list[ModerationResult | ErrorResult]


class TextRequest(BaseModel):
    """One text in `text`, or up to 256 in `texts` (each gets its own result)."""

    # exactly one of them, as the route checks (a null one counts as absent)
    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": [
        {"required": ["text"], "properties": {"text": {"type": "string"}}},
        {"required": ["texts"], "properties": {"texts": {"type": "array"}}},
    ]})

    text: CleanStr | None = Field(None, description="One text; the answer is one result.")
    texts: list[CleanStr] | None = Field(
        None, min_length=1, max_length=MAX_TEXTS,
        description=f"Up to {MAX_TEXTS} texts; the answer is `{{results}}`."
    )
    source: CleanStr | None = Field(None, description="A name for the result's `source` (one text).")


_DESCRIBED = {
    400: "Bad request or a refused URL (`bad_request`, `blocked_url`)",
    413: "Over a byte, pixel or frame limit (`too_large`)",
    415: "Not an image we accept (`unsupported_media`)",
    422: "Undecodable image or invalid field (`decode_failed`, `invalid_request`)",
    429: "Too many items or async jobs waiting (`overloaded`); retry after `Retry-After`",
    502: "The URL's server failed (`fetch_failed`, with `upstream_status`)",
    503: "Models still loading (`not_ready`)",
    504: "Fetching or decoding took too long (`timeout`)",
    404: "No stored result with this id (`not_found`)",
    401: "No valid API key or session (`unauthorized`)",
    403: "Missing role, scope or CSRF token (`forbidden`)",
}
_errors = responses_for(_DESCRIBED)
# `GET /v1/results/{id}` of an `?async=true` job that failed: its error, under the error's status.
_JOB_FAILED = {s: "A failed `?async=true` job: its error object (with `result_id`), with the error's status"
               for s in (400, 413, 415, 422, 502, 503, 504)}
_JOB_FAILED[422] = "Not a result id (`invalid_request`), or a failed `?async=true` job (`decode_failed`)"


_IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "The image."},
                        "url": {"type": "string", "description": "Or: an http(s) URL to fetch."},
                    },
                }
            },
            "application/json": {"schema": {"$ref": "#/components/schemas/UrlRequest"}},
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
_BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                        "url": {"type": "array", "items": {"type": "string"}},
                    },
                }
            },
            "application/json": {"schema": {"$ref": "#/components/schemas/BatchRequest"}},
        },
    }
}


@router.post(
    "/moderate/image",
    summary="Moderate one image (upload, raw body or URL)",
    response_model=ModerationResult,
    responses=_ACCEPTED | _errors(400, 413, 415, 422, 429, 502, 503, 504),
    openapi_extra=_IMAGE_BODY,
)
async def moderate_image(request: Request, engine: EngineDep, client: Moderating,
                         async_: AsyncFlag = False) -> JSONResponse:
    """Send the image as a multipart `file`, as the raw body with its `image/*` type, or a
    JSON `{"url": …}`; get the result contract back, or its error object with a 4xx/5xx.
    With `?async=true`, 202 and the result later (a URL is then fetched by the job)."""
    engine.require_ready()
    if async_:
        job = await async_jobs.image_input(request, engine.settings)
        return await async_jobs.accept(request, engine, [job], client.api_key_id)
    item = await inputs.single(request, engine.settings)
    outcome: Outcome = (
        item if isinstance(item, ErrorResult) else await engine.moderate(item, client.requester)
    )
    return JSONResponse(outcome.model_dump(mode="json"), status_code=status_of(outcome))


@router.post(
    "/moderate/batch",
    summary="Moderate up to 32 images in one request",
    response_model=BatchResponse,
    responses={**_errors(400, 413, 415, 429, 503),
               202: {"model": async_jobs.AcceptedBatch,
                     "description": "`?async=true`: accepted (one id per item); poll `status_url`"}},
    openapi_extra=_BATCH_BODY,
)
async def moderate_batch(request: Request, engine: EngineDep, client: Moderating,
                         async_: AsyncFlag = False) -> BatchResponse | JSONResponse:
    """Multipart `file` parts and `url` fields, or JSON `{"items": [...]}`. Results come in
    request order; an item that fails is an error object in its place, not a failed request.
    With `?async=true`: 202 with one result id per item, each delivered like a single item."""
    engine.require_ready()
    if async_:
        jobs = await async_jobs.batch_inputs(request, engine.settings)
        return await async_jobs.accept(request, engine, jobs, client.api_key_id, single=False)
    items = await inputs.batch(request, engine.settings)
    return BatchResponse(results=await engine.moderate_all(items, client.requester))


@router.post(
    "/moderate/text",
    summary="Moderate one text or up to 256: offensive, hate, spam, profanity, with evidence",
    response_model=ModerationResult | BatchResponse,
    responses={202: {"model": async_jobs.Accepted | async_jobs.AcceptedBatch,
                     "description": "`?async=true`: accepted (one id per text); poll `status_url`"}}
    | _errors(400, 413, 422, 429, 503),
)
async def moderate_text(body: TextRequest, engine: EngineDep, client: Moderating, request: Request,
                        async_: AsyncFlag = False) -> JSONResponse:
    """`{"text": …}` answers one result (the reasons carry `evidence`: the words that drove
    them); `{"texts": [...]}` answers `{"results": [...]}` in order. Texts are normalised
    against evasion before scoring; long texts are scored in chunks. Texts of concurrent
    requests share model runs; a request whose texts would take the queue over `max_queue`
    gets 429 `overloaded`. With `?async=true`, 202 and each result later (one `result_id` per
    text)."""
    if (body.text is None) == (body.texts is None):
        raise BadRequest('send exactly one of {"text": "…"} and {"texts": ["…", …]}')
    if async_:
        engine.require_text()
        if body.texts is not None and not body.texts:
            raise BadRequest("`texts` is empty")
        jobs = ([async_jobs.JobInput("text", body.source or "text", text=body.text)]
                if body.text is not None else
                [async_jobs.JobInput("text", f"texts[{n}]", text=t) for n, t in enumerate(body.texts or [])])
        return await async_jobs.accept(request, engine, jobs, client.api_key_id,
                                      single=body.text is not None)
    if body.text is not None:
        (outcome,) = await engine.moderate_texts([(body.source or "text", body.text)],
                                                 client.requester)
        return JSONResponse(outcome.model_dump(mode="json"), status_code=status_of(outcome))
    assert body.texts is not None
    if not body.texts:
        raise BadRequest("`texts` is empty")
    outcomes = await engine.moderate_texts(
        [(f"texts[{n}]", t) for n, t in enumerate(body.texts)], client.requester
    )
    return JSONResponse(BatchResponse(results=outcomes).model_dump(mode="json"))


@router.get(
    "/results/{result_id}",
    summary="A stored result by its result id, or the newest one for a content sha256",
    response_model=ModerationResult,
    responses={202: {"model": async_jobs.Accepted,
                     "description": "An accepted `?async=true` job not finished yet"}}
    | documented(_JOB_FAILED, *_JOB_FAILED) | _errors(404),
)
async def get_result(
    result_id: Annotated[
        str,
        Path(pattern="^([0-9a-f]{32}|[0-9a-f]{64})$",
             description="The result id (32 hex) or the content's sha256 (64 hex)"),
    ],
    engine: EngineDep,
    client: Reading,
    request: Request,
) -> ModerationResult | JSONResponse:
    """The stored decision as the contract object. When a moderator has given a verdict,
    `decision` is the human one, `machine_decision` the model's and `review` says who and why.
    API keys read only the decisions they asked for. An `?async=true` job answers 202 while
    pending, and its error object (with the error's status) when it failed."""

    def read() -> ModerationResult | None:
        with engine.db.session() as session:
            row = decisions.find(session, result_id, api_key_id=client.api_key_id)
            return None if row is None else decisions.as_result(session, row)

    result = await run_in_threadpool(read)
    if result is None:
        pending = await run_in_threadpool(async_jobs.pending_answer, request, engine.db, result_id,
                                          client.api_key_id)
        if pending is not None:
            return pending
        result = await run_in_threadpool(read)  # a job may have finished between the two reads
    if result is None:
        raise NotFound(f"no stored result with id {result_id}")
    return result


# The JSON request bodies appear in the schema through openapi_extra; register their models.
EXTRA_SCHEMAS = (inputs.UrlRequest, inputs.BatchRequest)

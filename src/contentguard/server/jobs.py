"""`?async=true` over HTTP: read the request's input, admit its jobs (service/jobs.py), answer
202 with where to poll; and the answer of `GET /v1/results/{id}` while a job is unfinished."""

from __future__ import annotations

from typing import Literal

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile

from contentguard.errors import BadRequest, UnsupportedMedia
from contentguard.net.fetch import check_url
from contentguard.server import inputs
from contentguard.server.errors import status_of
from contentguard.service import jobs
from contentguard.service.engine import Engine
from contentguard.service.jobs import JobInput
from contentguard.settings import Settings
from contentguard.store.db import Database

__all__ = ["Accepted", "AcceptedBatch", "JobInput", "accept", "batch_inputs", "image_input",
           "pending_answer"]


class Accepted(BaseModel):
    """The answer to `?async=true` (HTTP 202): the id the result will have and where to poll."""

    result_id: str = Field(description="The future result id (32 hex).")
    status: Literal["pending"] = "pending"
    status_url: str = Field(description="`GET` it: 202 while pending, then the result.")


class AcceptedBatch(BaseModel):
    results: list[Accepted]


async def image_input(request: Request, settings: Settings) -> JobInput:
    """The one image of `POST /v1/moderate/image?async=true`, in the same forms as the
    synchronous call; a URL is checked now and fetched by the job."""
    ctype = inputs._content_type(request)
    if ctype == "multipart/form-data":
        form = await inputs._form(request, max_files=1, max_fields=2)
        upload, url = form.get("file"), form.get("url")
        if isinstance(upload, UploadFile):
            data = await upload.read()
            if not data:
                raise BadRequest("the uploaded file is empty")
            return JobInput("image", upload.filename or "upload", data=data)
        if isinstance(url, str) and url.strip():
            return _url_input(url.strip())
        raise BadRequest("the multipart body needs a `file` part (the image) or a `url` field")
    if ctype == "application/json":
        try:
            body = inputs.UrlRequest.model_validate(await inputs._json(request, settings))
        except ValidationError as exc:
            raise inputs.invalid(inputs.URL_SHAPE, exc) from exc
        return _url_input(body.url.strip())
    if ctype.startswith(inputs.RAW_TYPES) or not ctype:
        data = await request.body()
        if not data:
            raise BadRequest("the request has no body: send an image, a multipart `file` or a JSON url")
        return JobInput("image", inputs.raw_name(request), data=data)
    raise UnsupportedMedia(
        f"request content type {ctype!r} is not accepted: use multipart/form-data, "
        "application/json with a url, or the image itself with an image/* type"
    )


async def batch_inputs(request: Request, settings: Settings) -> list[JobInput]:
    """The items of `POST /v1/moderate/batch?async=true`, in request order; URLs are checked
    now and fetched by their jobs."""
    found = []
    for n, (kind, value) in enumerate(await inputs.batch_entries(request, settings)):
        if kind == "url":
            found.append(_url_input(value))
        elif kind == "file":
            found.append(JobInput("image", inputs._upload_name(value, f"item-{n}"), data=await value.read()))
        else:
            name, raw = value
            found.append(JobInput("image", name, data=raw))
    return found


def _url_input(url: str) -> JobInput:
    check_url(url)  # a malformed or oddly spelled URL is refused now, with a 400
    return JobInput("image", url, url=url)


def _status_url(request: Request, job_id: str) -> str:
    return f"{request.scope.get('root_path', '').rstrip('/')}/v1/results/{job_id}"


async def accept(request: Request, engine: Engine, items: list[JobInput], api_key_id: int | None,
                 single: bool = True) -> JSONResponse:
    """Admit the jobs and answer 202 (`Accepted`, or `AcceptedBatch` for many); `Overloaded`
    (429), with nothing stored, when they would take the backlog over `max_pending_jobs`."""
    ids = await jobs.admit(engine, items, api_key_id)
    accepted = [Accepted(result_id=i, status_url=_status_url(request, i)) for i in ids]
    if single:
        return JSONResponse(accepted[0].model_dump(), status_code=202,
                            headers={"Location": accepted[0].status_url})
    return JSONResponse(AcceptedBatch(results=accepted).model_dump(), status_code=202)


def pending_answer(request: Request, db: Database, result_id: str,
                   api_key_id: int | None) -> JSONResponse | None:
    """`GET /v1/results/{id}` of an async job not finished yet: 202 while pending, the error
    object (with its status) when it failed; None when there is no such job (or it is done)."""
    job = jobs.unfinished(db, result_id, api_key_id)
    if job is None:
        return None
    if job.status == "pending":
        body = Accepted(result_id=job.id, status_url=_status_url(request, job.id))
        return JSONResponse(body.model_dump(), status_code=202)
    failed = jobs.failure_of(job)
    return JSONResponse({"result_id": job.id, **failed.model_dump(mode="json")},
                        status_code=status_of(failed))

"""Turn a request into pipeline items: a multipart upload, a raw image body, or URLs to fetch.

A URL that cannot be fetched becomes that item's error result, so a batch goes on without it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any

from fastapi import Request
from pydantic import BaseModel, Field, ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from contentguard.clean_str import CleanStr, problem
from contentguard.errors import BadRequest, UnsupportedMedia
from contentguard.moderation.image import Item
from contentguard.schemas import ErrorResult
from contentguard.server.json_body import decode_for
from contentguard.service.engine import fetch_item as from_url
from contentguard.settings import Settings

RAW_TYPES = ("image/", "application/octet-stream")
URL_PATTERN = r"^\s*[Hh][Tt][Tt][Pp][Ss]?://\S"  # what check_url takes at least: http(s) and a host
URL_SHAPE = '{"url": "https://…"}'
BATCH_SHAPE = '{"items": [{"url": …} or {"data": base64, "name": …}, …]}'
_FETCH_CONCURRENCY = 8


class UrlRequest(BaseModel):
    """JSON body of `POST /v1/moderate/image`."""

    # the pattern is checked by check_url, whose answer says what is wrong (400 `blocked_url`)
    url: CleanStr = Field(json_schema_extra={"pattern": URL_PATTERN},
                          description="http(s) URL of the image; fetched by the server, SSRF-safe.")


class BatchEntry(BaseModel):
    """One batch item: a `url`, or the image bytes base64-encoded in `data`."""

    url: CleanStr | None = None
    data: CleanStr | None = Field(None, description="The image, base64-encoded.")
    name: CleanStr | None = Field(None, description="A name for the result's `source`.")


class BatchRequest(BaseModel):
    """JSON body of `POST /v1/moderate/batch`."""

    items: list[BatchEntry] = Field(min_length=1)


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _form(request: Request, max_files: int, max_fields: int) -> Any:
    try:
        return await request.form(max_files=max_files, max_fields=max_fields)
    except MultiPartException as exc:
        raise BadRequest(f"malformed multipart body: {exc.message}") from exc


async def _json(request: Request, settings: Settings) -> Any:
    """The body's JSON value, decoded safely (json_body: depth and number limits)."""
    return decode_for(await request.body(), settings)


def raw_name(request: Request) -> str:
    """`?name=` of a raw image body: the result's `source` (stored), so not with a NUL."""
    name = request.query_params.get("name") or "upload"
    why = problem(name)
    if why is not None:
        raise BadRequest(f"query parameter `name` {why}")
    return name


def invalid(shape: str, exc: ValidationError) -> BadRequest:
    """A JSON body that does not fit its model: the shape it must have, and what is wrong."""
    wrong = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
                      for err in exc.errors()[:3])
    return BadRequest(f"the JSON body must be {shape} ({wrong})")


def _upload_name(upload: UploadFile, default: str) -> str:
    return upload.filename or default


async def single(request: Request, settings: Settings) -> Item | ErrorResult:
    """The one item of `POST /v1/moderate/image`."""
    ctype = _content_type(request)
    if ctype == "multipart/form-data":
        form = await _form(request, max_files=1, max_fields=2)
        upload, url = form.get("file"), form.get("url")
        if isinstance(upload, UploadFile):
            data = await upload.read()
            if not data:
                raise BadRequest("the uploaded file is empty")
            return Item.from_bytes(data, _upload_name(upload, "upload"))
        if isinstance(url, str) and url.strip():
            return await from_url(url.strip(), settings)
        raise BadRequest("the multipart body needs a `file` part (the image) or a `url` field")
    if ctype == "application/json":
        try:
            body = UrlRequest.model_validate(await _json(request, settings))
        except ValidationError as exc:
            raise invalid(URL_SHAPE, exc) from exc
        return await from_url(body.url.strip(), settings)
    if ctype.startswith(RAW_TYPES) or not ctype:
        data = await request.body()
        if not data:
            raise BadRequest("the request has no body: send an image, a multipart `file` or a JSON url")
        return Item.from_bytes(data, raw_name(request))
    raise UnsupportedMedia(
        f"request content type {ctype!r} is not accepted: use multipart/form-data, "
        "application/json with a url, or the image itself with an image/* type"
    )


async def batch_entries(request: Request, settings: Settings) -> list[tuple[str, Any]]:
    """The entries of `POST /v1/moderate/batch` in request order, not yet read or fetched:
    ("file", UploadFile), ("url", str) or ("data", (name, bytes))."""
    limit = settings.max_batch_items
    ctype = _content_type(request)
    entries: list[tuple[str, Any]] = []  # ("file", UploadFile) | ("url", str) | ("data", (name, bytes))
    if ctype == "multipart/form-data":
        form = await _form(request, max_files=limit, max_fields=limit)
        for key, value in form.multi_items():
            if key in ("file", "files") and isinstance(value, UploadFile):
                entries.append(("file", value))
            elif key in ("url", "urls") and isinstance(value, str):
                entries.append(("url", value.strip()))
            else:
                raise BadRequest(f"unexpected multipart field {key!r}: send `file` parts and `url` fields")
    elif ctype == "application/json":
        try:
            body = BatchRequest.model_validate(await _json(request, settings))
        except ValidationError as exc:
            raise invalid(BATCH_SHAPE, exc) from exc
        for n, entry in enumerate(body.items):
            if (entry.url is None) == (entry.data is None):
                raise BadRequest(f"items[{n}] needs exactly one of `url` and `data`")
            if entry.url is not None:
                entries.append(("url", entry.url.strip()))
            else:
                try:
                    raw = base64.b64decode(entry.data or "", validate=True)
                except (binascii.Error, ValueError) as exc:
                    raise BadRequest(f"items[{n}].data is not valid base64") from exc
                entries.append(("data", (entry.name or f"item-{n}", raw)))
    else:
        raise UnsupportedMedia(
            f"request content type {ctype or '(none)'!r} is not accepted here: use "
            "multipart/form-data or application/json"
        )
    if not entries:
        raise BadRequest("the batch is empty")
    if len(entries) > limit:
        raise BadRequest(f"{len(entries)} items in one batch; the limit is {limit}")
    return entries


async def batch(request: Request, settings: Settings) -> list[Item | ErrorResult]:
    """The items of `POST /v1/moderate/batch`, in request order (URLs fetched concurrently)."""
    entries = await batch_entries(request, settings)
    gate = asyncio.Semaphore(_FETCH_CONCURRENCY)

    async def one(n: int, kind: str, value: Any) -> Item | ErrorResult:
        if kind == "url":
            async with gate:
                return await from_url(value, settings)
        if kind == "file":
            return Item.from_bytes(await value.read(), _upload_name(value, f"item-{n}"))
        name, raw = value
        return Item.from_bytes(raw, name)

    return list(await asyncio.gather(*(one(n, k, v) for n, (k, v) in enumerate(entries))))

"""`SafeRoute`, the route class of every router: the endpoint gets a `SafeRequest`, whose

- `json()` (what FastAPI parses Pydantic body models from) is `json_body`'s safe decoding
  (depth and number limits) instead of a bare `json.loads`;
- `form()` (FastAPI's Form fields, our multipart uploads, the pages' forms) refuses a field
  or an uploaded file's name holding a NUL with a 400 naming it: PostgreSQL cannot store or
  even compare NUL in text. (A form cannot carry a lone surrogate: it decodes with
  replacement or as latin-1.)

Refusals are HTTPExceptions: FastAPI's body parsing passes those on (any other exception there
becomes a bare 400), and the app's handler gives them the one error shape.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from fastapi.routing import APIRoute
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from contentguard.clean_str import problem
from contentguard.errors import BadRequest
from contentguard.server.json_body import decode_for


def _refuse_unclean(pairs: Iterable[tuple[str, str]]) -> None:
    for name, value in pairs:
        why = problem(name) or problem(value)
        if why is not None:
            shown = name.encode("unicode_escape").decode("ascii")[:40]
            raise HTTPException(400, f"form field `{shown}` {why}")


class SafeRequest(Request):
    """`json()` through `json_body.decode_for`; `form()` refusing NULs."""

    async def json(self) -> Any:
        if not hasattr(self, "_decoded"):
            try:
                self._decoded = decode_for(await self.body(), self.app.state.settings)
            except BadRequest as exc:
                raise HTTPException(400, exc.message) from None
        return self._decoded

    async def _get_form(self, **limits: Any) -> FormData:
        # Starlette's one parsing step behind `form()` (FastAPI's Form fields call it too)
        form = await super()._get_form(**limits)
        _refuse_unclean((
            (name, (value.filename or "") if isinstance(value, UploadFile) else value)
            for name, value in form.multi_items()
        ))
        return form


class SafeRoute(APIRoute):
    """`APIRouter(route_class=SafeRoute)`: the endpoint (its body parsing and dependencies)
    gets a SafeRequest."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            return await handler(SafeRequest(request.scope, request.receive))

        return guarded

"""`create_app(settings)`: the FastAPI application of `contentguard serve`.

Models load and warm up in the background once the app starts; `/readyz` turns 200 after.
Layers of middleware, outermost first: security headers, request metrics, CORS (only when
origins are set), the streaming body limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles

from contentguard import __version__
from contentguard.moderation.image import Moderator
from contentguard.moderation.text import TextModerator
from contentguard.server import errors
from contentguard.server.api import health as routes_health
from contentguard.server.api import moderate as routes_api
from contentguard.server.api.admin import router as admin_api
from contentguard.server.api.appeals import router as appeals_routes
from contentguard.server.api.review import router as review_routes
from contentguard.server.api.webhooks import router as webhooks_api
from contentguard.server.auth import KeyCache, RateLimiter
from contentguard.server.limits import BodyLimit
from contentguard.server.observe import RequestMetrics
from contentguard.server.pages import auth as routes_auth
from contentguard.server.pages import ui as routes_ui
from contentguard.server.pages.admin import router as admin_pages
from contentguard.server.pages.appeals import router as appeals_page
from contentguard.server.pages.review import router as review_page
from contentguard.server.pages.webhooks import router as webhooks_page
from contentguard.server.security_headers import SecurityHeaders
from contentguard.service import roles
from contentguard.service import tasks as background
from contentguard.service.engine import Engine
from contentguard.settings import Settings, get_settings
from contentguard.store.db import Database

_MULTIPART_SLACK = 64 * 1024  # headers and boundaries around one upload

DESCRIPTION = """Self-hosted content moderation. Send an image (upload, raw body or URL) and get
per-class scores, a decision (`allow` / `review` / `block`) with its reasons, and the regions
that triggered it. Every error has the same shape: `{"source", "error": {"code", "message"}}`."""


def _body_limit(settings: Settings):  # type: ignore[no-untyped-def]
    single = settings.max_bytes + _MULTIPART_SLACK

    def limit_for(path: str) -> int:
        return settings.max_request_bytes if path.startswith("/v1/moderate/batch") else single

    return limit_for


def create_app(
    settings: Settings | None = None,
    *,
    moderator: Moderator | None = None,
    text_moderator: TextModerator | None = None,
    database: Database | None = None,
) -> FastAPI:
    """Build the app. Pass moderators to share ones already loaded (tests, embedding), and a
    database to share one (its migrations are applied when the app starts)."""
    settings = settings or get_settings()
    given = roles.parse(settings.roles)
    db = database or Database(settings.resolved_database_url())
    engine = Engine(
        settings,
        db,
        make_moderator=(lambda: moderator) if moderator is not None else None,
        make_text_moderator=(lambda: text_moderator) if text_moderator is not None else None,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(db.upgrade)  # `serve` applies migrations on start
        # Loading the models (minutes on a first pull) takes a thread of its own, not one of
        # the default pool that storing and database reads use.
        loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cg-load")
        loading = asyncio.get_running_loop().run_in_executor(loader, engine.load)
        tasks = [asyncio.create_task(background.TASKS[name](engine), name=f"cg-{name}")
                 for name in roles.tasks_for(given)]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await loading
            loader.shutdown()
            engine.close(own_moderator=moderator is None, own_text_moderator=text_moderator is None)
            if database is None:
                db.close()

    app = FastAPI(
        title="ContentGuard",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    # What routes need, read back through server/deps.py (`EngineDep`, `DbDep`, …).
    app.state.engine = engine
    app.state.settings = settings
    app.state.db = db
    app.state.limiter = RateLimiter()
    app.state.key_cache = KeyCache()
    errors.install(app)
    routes_ui.install(app)
    # The `roles` setting picks the routers (service/roles.py); health and metrics are always on.
    mounted = {
        "api": [routes_api.router],
        "ui": [routes_ui.router],
        "review": [review_routes, review_page],
        "admin": [admin_api, admin_pages, webhooks_api, webhooks_page],
    }
    app.include_router(routes_health.router)
    for role, routers in mounted.items():
        if role in given:
            for router in routers:
                app.include_router(router)
    if given & {"api", "review"}:  # platforms file appeals, moderators settle them
        app.include_router(appeals_routes)
        if "review" in given:  # the page is the moderators' (an API replica has no sign-in)
            app.include_router(appeals_page)
    if given & {"ui", "review", "admin"}:  # pages: sign-in and their static files
        app.include_router(routes_auth.router)
        app.mount("/static", StaticFiles(directory=routes_ui.HERE / "static"), name="static")

    _register_schemas(app)
    app.add_middleware(BodyLimit, limit_for=_body_limit(settings))
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
        )
    app.add_middleware(RequestMetrics)
    app.add_middleware(SecurityHeaders)
    return app


SECURITY_SCHEMES = {
    "apiKey": {"type": "http", "scheme": "bearer",
               "description": "An API key made by an admin: `Authorization: Bearer cg_…`."},
    "session": {"type": "apiKey", "in": "cookie", "name": "cg_session",
                "description": "A web UI session (`/login`); state-changing calls also need "
                               "the `X-CSRF-Token` header."},
}


def _register_schemas(app: FastAPI) -> None:
    """Add the JSON request bodies (declared through openapi_extra) to the schema's components."""
    from pydantic.json_schema import models_json_schema

    base = app.openapi

    def openapi() -> dict:  # type: ignore[type-arg]
        if app.openapi_schema:
            return app.openapi_schema
        schema = base()
        _, defs = models_json_schema(
            [(m, "validation") for m in routes_api.EXTRA_SCHEMAS],
            ref_template="#/components/schemas/{model}",
        )
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {}).update(defs.get("$defs", {}))
        components["securitySchemes"] = SECURITY_SCHEMES
        for path, operations in schema.get("paths", {}).items():
            if path.startswith("/v1/"):
                for operation in operations.values():
                    operation["security"] = [{"apiKey": []}, {"session": []}]
        errors.complete_responses(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
